//! Streams: many long streams at once (`MOCK_LONG`), and how many open streams one
//! clawshim holds (`MOCK_HANG`) with how much memory.

use super::*;

/// Many long streams at once: deltas per second and the CPU each delta costs when they
/// come in bulk, raw (runs on one socket) and through clawshim (one connection per stream).
pub(crate) async fn streaming(plan: &Plan, binary: Option<&Path>) -> String {
    const DELTAS: usize = 200;
    let n = plan.streams;

    let raw_gw = MockProcess::start(1 << 22).await;
    let raw = Arc::new(RawClient::connect(&raw_gw.url).await.expect("raw client"));
    raw.run("MOCK_LONG", "main").await.expect("raw warm-up");
    let before = Cpu::now(None, &raw_gw);
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let raw = raw.clone();
            tokio::spawn(async move { raw.run("MOCK_LONG", "main").await.map(|t| t.done) })
        })
        .collect();
    let mut raw_lat = Vec::with_capacity(n);
    for t in tasks {
        raw_lat.push(t.await.expect("raw task").expect("raw long run"));
    }
    let raw_wall = started.elapsed();
    let raw_cpu = Cpu::now(None, &raw_gw).since(before);
    drop(raw);
    drop(raw_gw);

    let gw = MockProcess::start(1 << 22).await;
    let target = Target::start(&gw.url, binary).await;
    let addr = target.addr();
    let body = Arc::new(chat_body("MOCK_LONG", true));
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let mut c = HttpConn::connect(addr).await.expect("connect");
        c.chat(&chat_body(TEXT, true), None).await.expect("warm-up");
        conns.push(c);
    }
    let before = Cpu::now(Some(&target), &gw);
    let started = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut c| {
            let body = body.clone();
            tokio::spawn(async move {
                let r = c.chat(&body, None).await?;
                if r.status != 200 || !contains(&r.body, b" t199") {
                    return Err(io::Error::other(format!(
                        "incomplete stream ({})",
                        r.status
                    )));
                }
                Ok(r.total)
            })
        })
        .collect();
    let mut shim_lat = Vec::with_capacity(n);
    for t in tasks {
        shim_lat.push(t.await.expect("client task").expect("long stream"));
    }
    let shim_wall = started.elapsed();
    let shim_cpu = Cpu::now(Some(&target), &gw).since(before);
    drop(target);
    drop(gw);

    let deltas = n * DELTAS;
    let mut out = table(&[
        ("raw: 200-delta run, start to final `res`", &raw_lat),
        (
            "through clawshim: 200-delta stream, start to end",
            &shim_lat,
        ),
    ]);
    let _ = writeln!(
        out,
        "\ndeltas delivered: raw {:.0}/s, through clawshim {:.0}/s ({deltas} each)\n",
        deltas as f64 / raw_wall.as_secs_f64(),
        deltas as f64 / shim_wall.as_secs_f64(),
    );
    out.push_str(&CPU_HEADER.replace("per request", "per delta"));
    let _ = writeln!(out, "| raw | {} |", raw_cpu.per(deltas));
    let _ = writeln!(out, "| through clawshim | {} |", shim_cpu.per(deltas));
    let _ = writeln!(
        out,
        "| cores busy, raw | {} |\n| cores busy, through clawshim | {} |\n",
        raw_cpu.cores(raw_wall),
        shim_cpu.cores(shim_wall)
    );
    out
}

/// Holds N streams open at once, each stopped after its own first content delta
/// (`MOCK_HANG`), and reads clawshim's memory.
pub(crate) async fn capacity(plan: &Plan, binary: Option<&Path>) -> String {
    let mut out = String::new();
    let fd_limit = open_files_limit();
    match binary {
        Some(path) => {
            let _ = writeln!(
                out,
                "clawshim runs as its own process (`{}`), a fresh one and a fresh mock per N; RSS from /proc/<pid>/status.\n",
                path.display(),
            );
        }
        None => {
            let _ = writeln!(
                out,
                "No release binary found (`cargo build --release -p clawshim-proxy`): clawshim runs in-process and the RSS below is the whole bench process (clawshim + N clients).\n"
            );
        }
    }
    let _ = writeln!(out, "open-files limit: {fd_limit:?}\n");
    out.push_str("| N | opened | all open after | first content p50 / p99 (during ramp) | RSS idle (MiB) | RSS with N open (MiB) | per stream (KiB) | threads | CPU to open N (ms) | `/v1/chat/completions` p50 / max with N open |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for &n in &plan.capacity {
        // Each stream costs one descriptor here and one in clawshim (both here when
        // in-process), plus a margin for the runtime and the mock.
        let needed = if binary.is_some() {
            n + 256
        } else {
            2 * n + 256
        };
        if fd_limit.is_some_and(|l| l < needed as u64) {
            let _ = writeln!(
                out,
                "| {n} | skipped: open-files limit below {needed} (`ulimit -n`) |||||||||"
            );
            continue;
        }
        let _ = writeln!(out, "{}", capacity_one(n, plan.ramp, binary).await);
    }
    out.push('\n');
    out
}

pub(crate) async fn capacity_one(n: usize, ramp: usize, binary: Option<&Path>) -> String {
    let gw = MockProcess::start(1 << 22).await;
    let target = Target::start(&gw.url, binary).await;
    let addr = target.addr();
    // Warm up the allocator and the connection paths before the idle reading.
    {
        let mut c = HttpConn::connect(addr).await.expect("connect");
        for _ in 0..50 {
            c.chat(&chat_body(TEXT, false), None)
                .await
                .expect("warm-up");
            c.chat(&chat_body(TEXT, true), Some(b"[DONE]"))
                .await
                .expect("warm-up");
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = target.memory();
    let cpu_before = target.cpu();

    let gate = Arc::new(Semaphore::new(ramp));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("gate");
            let mut c = HttpConn::connect(addr).await?;
            let body = chat_body(&format!("t{i}x MOCK_HANG keep open"), true);
            // The first delta of `echo: t{i}x MOCK_HANG keep open` is `echo: t{i}x`: unique
            // per stream, so a delta delivered to the wrong stream is caught.
            let marker = format!("\"content\":\"echo: t{i}x\"");
            let (status, first) = c.open_stream(&body, marker.as_bytes()).await?;
            if status != 200 {
                return Err(io::Error::other(format!("status {status}")));
            }
            Ok::<_, io::Error>((c, first))
        }));
    }
    let mut held = Vec::with_capacity(n);
    let mut firsts = Vec::with_capacity(n);
    let mut failures: HashMap<String, usize> = HashMap::new();
    for t in tasks {
        match t.await {
            Ok(Ok((c, first))) => {
                held.push(c);
                firsts.push(first);
            }
            Ok(Err(e)) => *failures.entry(e.to_string()).or_default() += 1,
            Err(e) => *failures.entry(e.to_string()).or_default() += 1,
        }
    }
    let all_open = started.elapsed();
    let cpu_open = target
        .cpu()
        .zip(cpu_before)
        .map(|(a, b)| a.saturating_sub(b));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let loaded = target.memory();

    // Is it still answering normally with every stream open?
    let mut probe = Vec::new();
    if let Ok(mut c) = HttpConn::connect(addr).await {
        for _ in 0..50 {
            if let Ok(r) = c.chat(&chat_body(TEXT, false), None).await {
                if r.status == 200 {
                    probe.push(r.total);
                }
            }
        }
    }
    let opened = held.len();
    // Every stream still open (no EOF, no reset) after the probe.
    let alive = held
        .iter_mut()
        .map(HttpConn::still_open)
        .filter(|open| *open)
        .count();
    drop(held);
    drop(target);
    drop(gw);

    firsts.sort();
    probe.sort();
    let mib = |kib: u64| format!("{:.1}", kib as f64 / 1024.0);
    let (idle_rss, loaded_rss, per_stream, threads) = match (idle, loaded) {
        (Some(i), Some(l)) => (
            mib(i.rss_kib),
            format!("{} (peak {})", mib(l.rss_kib), mib(l.hwm_kib)),
            format!(
                "{:.1}",
                l.rss_kib.saturating_sub(i.rss_kib) as f64 / n.max(1) as f64
            ),
            l.threads.to_string(),
        ),
        _ => ("?".into(), "?".into(), "?".into(), "?".into()),
    };
    let failed = if failures.is_empty() {
        String::new()
    } else {
        format!(" (failed: {failures:?})")
    };
    format!(
        "| {n} | {opened}/{n}{failed}, {alive} still open at the end | {:.2} s | {} / {} | {idle_rss} | {loaded_rss} | {per_stream} | {threads} | {} | {} / {} ({} ok) |",
        all_open.as_secs_f64(),
        ms(pct(&firsts, 0.50)),
        ms(pct(&firsts, 0.99)),
        cpu_open.map_or("?".to_string(), |ns| format!("{:.0}", ns as f64 / 1e6)),
        ms(pct(&probe, 0.50)),
        ms(probe.last().copied().unwrap_or_default()),
        probe.len(),
    )
}
