//! Latency: one request at a time, the raw gateway client against clawshim (non-stream,
//! stream) and the HTTP floor, then the CPU each kind costs.

use super::*;

/// (a) raw gateway client, (b) non-stream through clawshim, (c) streams through clawshim,
/// plus the HTTP floor (`GET /healthz`, answered by clawshim without the gateway). The four
/// kinds take turns, so a change of machine load hits them alike. Then the CPU each kind
/// costs, in blocks of one kind.
pub(crate) async fn sequential(plan: &Plan, binary: Option<&Path>) -> String {
    let mut out = String::new();

    // Raw and clawshim each get their own mock, so no other socket receives their run events
    // (the mock broadcasts them to every connection, as the gateway does).
    let raw_gw = MockProcess::start(4096).await;
    let raw = RawClient::connect(&raw_gw.url)
        .await
        .expect("raw client connects");
    let gw = MockProcess::start(4096).await;
    let target = Target::start(&gw.url, binary).await;
    let mut conn = HttpConn::connect(target.addr())
        .await
        .expect("connect to clawshim");
    let body = chat_body(TEXT, false);
    let stream_body = chat_body(TEXT, true);
    let content: &[u8] = b"\"content\":\"echo";

    for _ in 0..plan.warmup {
        raw.run(TEXT, "broken").await.expect("raw warm-up run");
        conn.chat(&chat_body_for("openclaw/broken", TEXT, false), None)
            .await
            .expect("warm-up");
        raw.run(TEXT, "main").await.expect("raw warm-up run");
        conn.chat(&body, None).await.expect("warm-up");
        conn.chat(&stream_body, Some(content))
            .await
            .expect("warm-up");
        conn.get("/healthz").await.expect("warm-up");
    }
    let n = plan.sequential;
    let (mut raw_total, mut raw_accepted, mut raw_delta) = (vec![], vec![], vec![]);
    let (mut floor, mut shim_total) = (vec![], vec![]);
    let (mut ttfb, mut ttfc, mut stream_total) = (vec![], vec![], vec![]);
    let (mut raw_broken, mut shim_broken) = (vec![], vec![]);
    let broken_body = chat_body_for("openclaw/broken", TEXT, false);
    for _ in 0..n {
        let t = raw.run(TEXT, "main").await.expect("raw run");
        raw_total.push(t.done);
        raw_accepted.push(t.accepted);
        raw_delta.push(t.first_delta);

        let r = conn.get("/healthz").await.expect("healthz");
        assert_eq!(r.status, 200);
        floor.push(r.total);

        let r = conn.chat(&body, None).await.expect("chat");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert!(contains(&r.body, b"echo: hello there friend"));
        shim_total.push(r.total);

        let r = conn
            .chat(&stream_body, Some(content))
            .await
            .expect("stream");
        assert_eq!(r.status, 200);
        assert!(contains(&r.body, b"data: [DONE]"));
        ttfb.push(r.first_byte);
        ttfc.push(r.marker.expect("a content chunk"));
        stream_total.push(r.total);

        raw_broken.push(raw.run(TEXT, "broken").await.expect("raw run").done);
        let r = conn.chat(&broken_body, None).await.expect("chat");
        assert!(r.status >= 500, "{}", String::from_utf8_lossy(&r.body));
        shim_broken.push(r.total);
    }

    // CPU per request, one kind per block.
    let blocks = n.min(1000);
    let mut cpu_rows = String::new();
    let before = Cpu::now(None, &raw_gw);
    for _ in 0..blocks {
        raw.run(TEXT, "main").await.expect("raw run");
    }
    let used = Cpu::now(None, &raw_gw).since(before);
    let _ = writeln!(cpu_rows, "| (a) raw `agent` run | {} |", used.per(blocks));
    for (name, kind) in [
        ("`GET /healthz`", 0),
        ("(b) non-stream request", 1),
        ("(c) stream request", 2),
    ] {
        let before = Cpu::now(Some(&target), &gw);
        for _ in 0..blocks {
            let r = match kind {
                0 => conn.get("/healthz").await,
                1 => conn.chat(&body, None).await,
                _ => conn.chat(&stream_body, None).await,
            };
            assert_eq!(r.expect("request").status, 200);
        }
        let used = Cpu::now(Some(&target), &gw).since(before);
        let _ = writeln!(cpu_rows, "| {name} | {} |", used.per(blocks));
    }
    // A long stream: what each further delta costs.
    let long_body = chat_body("MOCK_LONG", true);
    let longs = (blocks / 20).max(1);
    let before = Cpu::now(Some(&target), &gw);
    for _ in 0..longs {
        let r = conn.chat(&long_body, None).await.expect("long stream");
        assert_eq!(r.status, 200);
        assert!(contains(&r.body, b" t199"));
    }
    let used = Cpu::now(Some(&target), &gw).since(before);
    let _ = writeln!(
        cpu_rows,
        "| (d) stream of 200 deltas (`MOCK_LONG`), {longs} in a row | {} |",
        used.per(longs)
    );
    drop(conn);
    drop(raw);
    drop(target);
    drop(raw_gw);
    drop(gw);

    let _ = writeln!(out, "### Non-stream: added latency = (b) - (a)\n");
    out.push_str(&table(&[
        (
            "(a) raw gateway client, `agent` req -> final `res`",
            &raw_total,
        ),
        (
            "(b) through clawshim, POST -> whole JSON response",
            &shim_total,
        ),
        ("HTTP floor: `GET /healthz` through clawshim", &floor),
    ]));
    out.push_str(&diff_row(
        "added by clawshim, (b) - (a)",
        &shim_total,
        &raw_total,
    ));
    let _ = writeln!(
        out,
        "\nThe mock paces each delta with a timer with `chunk_delay` 0, which only yields to the scheduler between deltas. A run of agent `broken` uses no timer (accepted, 8 recorded events, error `res`; clawshim answers with an error status):\n"
    );
    out.push_str(&table(&[
        ("(a') raw, agent `broken` -> final `res`", &raw_broken),
        (
            "(b') through clawshim, agent `broken` -> error response",
            &shim_broken,
        ),
    ]));
    out.push_str(&diff_row(
        "added by clawshim, (b') - (a')",
        &shim_broken,
        &raw_broken,
    ));
    out.push('\n');

    let _ = writeln!(out, "### Streams (c)\n");
    out.push_str(&table(&[
        ("raw: `accepted` res", &raw_accepted),
        ("clawshim: first response byte (headers)", &ttfb),
        ("raw: first assistant delta event", &raw_delta),
        ("clawshim: first content chunk", &ttfc),
        ("raw: final `res`", &raw_total),
        ("clawshim: `[DONE]` + end of body", &stream_total),
    ]));
    out.push_str(&diff_row(
        "first byte - raw `accepted`",
        &ttfb,
        &raw_accepted,
    ));
    out.push_str(&diff_row(
        "first content - raw first delta",
        &ttfc,
        &raw_delta,
    ));
    out.push_str(&diff_row(
        "end of stream - raw final `res`",
        &stream_total,
        &raw_total,
    ));
    out.push('\n');

    let _ = writeln!(
        out,
        "### CPU time per request ({blocks} in a row of each kind)\n"
    );
    out.push_str(CPU_HEADER);
    out.push_str(&cpu_rows);
    out.push('\n');
    out
}
