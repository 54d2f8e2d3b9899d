//! Throughput: many clients at once, the raw client multiplexing runs on one socket
//! against as many keep-alive HTTP connections through clawshim.

use super::*;

/// Many clients at once: the raw client with that many runs in flight on one socket (as
/// clawshim multiplexes them), then as many keep-alive HTTP connections through clawshim.
pub(crate) async fn concurrent(plan: &Plan, binary: Option<&Path>) -> String {
    let total = plan.clients * plan.per_client;

    let raw_gw = MockProcess::start(1 << 20).await;
    let raw = Arc::new(RawClient::connect(&raw_gw.url).await.expect("raw client"));
    for _ in 0..plan.warmup.min(50) {
        raw.run(TEXT, "main").await.expect("raw warm-up");
    }
    let before = Cpu::now(None, &raw_gw);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..plan.clients {
        let raw = raw.clone();
        let n = plan.per_client;
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(n);
            for _ in 0..n {
                lat.push(raw.run(TEXT, "main").await.expect("raw run").done);
            }
            lat
        }));
    }
    let mut raw_lat = Vec::with_capacity(total);
    for t in tasks {
        raw_lat.extend(t.await.expect("raw task"));
    }
    let raw_wall = started.elapsed();
    let raw_cpu = Cpu::now(None, &raw_gw).since(before);
    drop(raw);
    drop(raw_gw);

    let gw = MockProcess::start(1 << 20).await;
    let target = Target::start(&gw.url, binary).await;
    let addr = target.addr();
    let body = Arc::new(chat_body(TEXT, false));
    let mut conns = Vec::new();
    for _ in 0..plan.clients {
        let mut c = HttpConn::connect(addr).await.expect("connect");
        c.chat(&body, None).await.expect("warm-up");
        conns.push(c);
    }
    let before = Cpu::now(Some(&target), &gw);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut c in conns {
        let body = body.clone();
        let n = plan.per_client;
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(n);
            for _ in 0..n {
                let r = c.chat(&body, None).await.expect("chat");
                assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
                lat.push(r.total);
            }
            lat
        }));
    }
    let mut shim_lat = Vec::with_capacity(total);
    for t in tasks {
        shim_lat.extend(t.await.expect("client task"));
    }
    let shim_wall = started.elapsed();
    let shim_cpu = Cpu::now(Some(&target), &gw).since(before);
    drop(target);
    drop(gw);

    let mut out = table(&[
        ("raw gateway client, one socket", &raw_lat),
        ("through clawshim, one connection per client", &shim_lat),
    ]);
    out.push_str(&diff_row("added by clawshim", &shim_lat, &raw_lat));
    let rate = |wall: Duration| total as f64 / wall.as_secs_f64();
    let _ = writeln!(
        out,
        "\nthroughput: raw {:.0} runs/s ({total} in {:.2} s), through clawshim {:.0} req/s ({total} in {:.2} s)\n",
        rate(raw_wall),
        raw_wall.as_secs_f64(),
        rate(shim_wall),
        shim_wall.as_secs_f64(),
    );
    out.push_str(CPU_HEADER);
    let _ = writeln!(out, "| raw `agent` run | {} |", raw_cpu.per(total));
    let _ = writeln!(
        out,
        "| request through clawshim | {} |",
        shim_cpu.per(total)
    );
    let _ = writeln!(
        out,
        "| cores busy, raw | {} |\n| cores busy, through clawshim | {} |\n",
        raw_cpu.cores(raw_wall),
        shim_cpu.cores(shim_wall)
    );
    out
}
