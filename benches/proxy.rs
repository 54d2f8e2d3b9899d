//! End-to-end benchmarks of what clawshim adds in front of a gateway: latency per request,
//! throughput with many clients, and how many streams one process holds open at once with
//! how much memory. BENCHMARKS.md explains the method and records the results.
//!
//! Every number compares the same `agent` run done two ways against the mock gateway
//! (`clawshim_mock_gateway`, `chunk_delay` 0), which runs as its own one-thread process
//! (this binary, re-executed) like a real gateway: a raw WebSocket client speaking the gateway
//! protocol directly, and an HTTP/1.1 keep-alive client going through clawshim. Both clients
//! are minimal (one write per request, no HTTP library, only the frame fields a client needs
//! parsed), so the difference is clawshim's cost plus one loopback HTTP hop. CPU time is read
//! per process from `/proc/<pid>/task/*/schedstat`.
//!
//! Run with `cargo bench -p clawshim-tests --bench proxy`. clawshim runs as its own process
//! from the release binary when it exists (`cargo build --release -p clawshim-proxy`, or
//! `CLAWSHIM_BIN=path`), so its CPU time and memory are read from `/proc/<pid>` alone;
//! otherwise it runs in-process, with no CPU figures and the whole bench process's memory.
//! Without `--bench` (e.g. `cargo test --benches`) or with `--quick`, every phase runs once
//! with tiny counts; `-- capacity` (or `sequential`, `concurrent`) runs only the phases named.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clawshim_tests::{mock_with, MockGateway, MockOptions, Protocol, Shim, TOKEN};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Semaphore};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The phases, in the order they run; naming some on the command line runs only those.
const PHASES: [&str; 3] = ["sequential", "concurrent", "capacity"];

/// Upper bound for any single wait (a request, a handshake, one stream's first chunk).
const LIMIT: Duration = Duration::from_secs(60);

/// The user text of the latency runs: the mock answers `echo: hello there friend` in four
/// deltas.
const TEXT: &str = "hello there friend";

/// Counts of one bench run.
struct Plan {
    warmup: usize,
    sequential: usize,
    clients: usize,
    per_client: usize,
    capacity: Vec<usize>,
    /// `MOCK_LONG` streams (200 deltas each) run at once.
    streams: usize,
    /// Streams being opened at once during the capacity ramp.
    ramp: usize,
}

impl Plan {
    fn full() -> Plan {
        Plan {
            warmup: 300,
            sequential: 2000,
            clients: 64,
            per_client: 100,
            capacity: vec![1000, 2000, 5000],
            streams: 256,
            ramp: 128,
        }
    }

    fn quick() -> Plan {
        Plan {
            warmup: 3,
            sequential: 20,
            clients: 4,
            per_client: 5,
            capacity: vec![20],
            streams: 4,
            ramp: 8,
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == MOCK_FLAG) {
        let max_queued = args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or(4096);
        serve_mock(max_queued);
        return;
    }
    let quick = !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--quick");
    // Phase names given on the command line select phases; none selects all.
    let mut phases: Vec<String> = args[1..]
        .iter()
        .filter(|a| PHASES.contains(&a.as_str()))
        .cloned()
        .collect();
    if phases.is_empty() {
        phases = PHASES.iter().map(|p| p.to_string()).collect();
    }
    let plan = if quick { Plan::quick() } else { Plan::full() };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let report = runtime.block_on(bench(&plan, quick, &phases));
    println!("{report}");
}

async fn bench(plan: &Plan, quick: bool, phases: &[String]) -> String {
    let mut out = String::new();
    let binary = clawshim_binary();
    let _ = writeln!(
        out,
        "# clawshim proxy bench{}\n",
        if quick { " (quick)" } else { "" }
    );
    let _ = writeln!(out, "{}\n", machine_facts());
    match &binary {
        Some(path) => {
            let _ = writeln!(
                out,
                "clawshim: `{}` (built {}), its own process; mock gateway: its own process (one thread).\n",
                path.display(),
                modified(path)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "clawshim: in-process (no release binary; `cargo build --release -p clawshim-proxy`), so its CPU time is in the bench column; mock gateway: its own process (one thread).\n"
            );
        }
    }

    let run = |name: &str| phases.iter().any(|p| p == name);
    if run("sequential") {
        let _ = writeln!(
            out,
            "## Sequential, one request at a time ({} after {} warm-up)\n",
            plan.sequential, plan.warmup
        );
        let _ = writeln!(out, "load before: {}\n", loadavg());
        out.push_str(&sequential(plan, binary.as_deref()).await);
        let _ = writeln!(out, "load after: {}\n", loadavg());
    }
    if run("concurrent") {
        let _ = writeln!(
            out,
            "## Concurrent: {} clients x {} requests\n",
            plan.clients, plan.per_client
        );
        let _ = writeln!(out, "load before: {}\n", loadavg());
        out.push_str(&concurrent(plan, binary.as_deref()).await);
        let _ = writeln!(out, "load after: {}\n", loadavg());
        let _ = writeln!(
            out,
            "### {} streams of 200 deltas (`MOCK_LONG`) at once\n",
            plan.streams
        );
        out.push_str(&streaming(plan, binary.as_deref()).await);
        let _ = writeln!(out, "load after: {}\n", loadavg());
    }
    if run("capacity") {
        let _ = writeln!(out, "## Capacity: streams held open at once (MOCK_HANG)\n");
        let _ = writeln!(out, "load before: {}\n", loadavg());
        out.push_str(&capacity(plan, binary.as_deref()).await);
        let _ = writeln!(out, "load after: {}", loadavg());
    }
    out
}

// ---------------------------------------------------------------------------------------
// Phases

/// (a) raw gateway client, (b) non-stream through clawshim, (c) streams through clawshim,
/// plus the HTTP floor (`GET /healthz`, answered by clawshim without the gateway). The four
/// kinds take turns, so a change of machine load hits them alike. Then the CPU each kind
/// costs, in blocks of one kind.
async fn sequential(plan: &Plan, binary: Option<&Path>) -> String {
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

/// Many clients at once: the raw client with that many runs in flight on one socket (as
/// clawshim multiplexes them), then as many keep-alive HTTP connections through clawshim.
async fn concurrent(plan: &Plan, binary: Option<&Path>) -> String {
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

/// Many long streams at once: deltas per second and the CPU each delta costs when they
/// come in bulk, raw (runs on one socket) and through clawshim (one connection per stream).
async fn streaming(plan: &Plan, binary: Option<&Path>) -> String {
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
async fn capacity(plan: &Plan, binary: Option<&Path>) -> String {
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

async fn capacity_one(n: usize, ramp: usize, binary: Option<&Path>) -> String {
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

// ---------------------------------------------------------------------------------------
// The clawshim under test: in-process or its own process.

enum Target {
    InProcess(Shim),
    Process(ShimProcess),
}

impl Target {
    /// The release binary as its own process when there is one, else in-process.
    async fn start(gateway_url: &str, binary: Option<&Path>) -> Target {
        match binary {
            Some(path) => Target::Process(ShimProcess::spawn(path, gateway_url).await),
            None => Target::InProcess(
                Shim::start_with(gateway_url, |s| s.max_concurrent_runs = Some(100_000), true)
                    .await,
            ),
        }
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Target::InProcess(shim) => base_addr(&shim.base),
            Target::Process(p) => p.addr,
        }
    }

    fn pid(&self) -> u32 {
        match self {
            Target::InProcess(_) => std::process::id(),
            Target::Process(p) => p.child.id(),
        }
    }

    fn memory(&self) -> Option<Memory> {
        memory(self.pid())
    }

    /// CPU time of the process so far, in ns: summed over its threads from `schedstat`,
    /// which is exact where `stat`'s clock ticks are 10 ms coarse.
    fn cpu(&self) -> Option<u64> {
        match self {
            // The bench's own threads would be counted too: not clawshim's cost.
            Target::InProcess(_) => None,
            Target::Process(p) => cpu_ns(p.child.id()),
        }
    }
}

/// The `clawshim` binary run as a child process, killed on drop.
struct ShimProcess {
    child: Child,
    addr: SocketAddr,
}

impl ShimProcess {
    async fn spawn(path: &Path, gateway_url: &str) -> ShimProcess {
        let port = clawshim_tests::free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let log = std::env::temp_dir().join(format!("clawshim-bench-{}.log", std::process::id()));
        let stderr = std::fs::File::create(&log).expect("log file");
        let child = Command::new(path)
            .env_clear()
            .env("CLAWSHIM_LISTEN", addr.to_string())
            .env("CLAWSHIM_GATEWAY_URL", gateway_url)
            .env("CLAWSHIM_GATEWAY_TOKEN", TOKEN)
            .env("CLAWSHIM_MAX_CONCURRENT_RUNS", "100000")
            .env("CLAWSHIM_THREADS", "2")
            .env("CLAWSHIM_GRACE_PERIOD_SECS", "0")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("clawshim starts");
        let process = ShimProcess { child, addr };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut c) = HttpConn::connect(addr).await {
                if c.get("/readyz").await.is_ok_and(|r| r.status == 200) {
                    return process;
                }
            }
            assert!(
                Instant::now() < deadline,
                "clawshim at {addr} never became ready; see {}",
                log.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ShimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `CLAWSHIM_BIN`, else `<target>/release/clawshim` of this workspace; `None` when that file
/// does not exist (`CLAWSHIM_BIN=none` forces the in-process clawshim).
fn clawshim_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CLAWSHIM_BIN") {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("release/clawshim");
    path.is_file().then_some(path)
}

fn modified(path: &Path) -> String {
    let age = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok());
    match age {
        Some(age) => format!("{} min ago", age.as_secs() / 60),
        None => "at an unknown time".to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// The mock gateway as its own process (this binary, re-executed), like a real gateway: its
// CPU time is read apart from the clients' and clawshim's.

/// Makes this binary serve a mock gateway: `--mock-gateway <max queued frames>`.
const MOCK_FLAG: &str = "--mock-gateway";

/// Serves a mock gateway on one thread (the real gateway is one Node.js process), prints its
/// URL, and stops when stdin closes, so it never outlives the bench.
fn serve_mock(max_queued_frames: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let mock = bench_mock(max_queued_frames).await;
        println!("{}", mock.url());
        let mut sink = Vec::new();
        let _ = tokio::io::stdin().read_to_end(&mut sink).await;
        mock.stop().await;
    });
}

/// A mock gateway child process; stopped on drop.
struct MockProcess {
    child: Child,
    url: String,
}

impl MockProcess {
    async fn start(max_queued_frames: usize) -> MockProcess {
        let exe = std::env::current_exe().expect("own path");
        let mut child = Command::new(exe)
            .args([MOCK_FLAG, &max_queued_frames.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("mock gateway process starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            io::BufRead::read_line(&mut io::BufReader::new(stdout), &mut line).map(|_| line)
        });
        let line = tokio::time::timeout(LIMIT, line)
            .await
            .expect("mock gateway announces its URL in time")
            .expect("reader")
            .expect("mock gateway URL");
        MockProcess {
            child,
            url: line.trim().to_string(),
        }
    }
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        // Closing stdin stops it; the kill is for a mock that does not stop in time.
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The table header for [`Cpu::per`] rows.
const CPU_HEADER: &str = "| µs of CPU per request | clawshim | mock gateway | clients (bench process) |\n| --- | --- | --- | --- |\n";

/// CPU time used so far (ns) by clawshim, the mock gateway and this bench process.
#[derive(Clone, Copy)]
struct Cpu {
    shim: Option<u64>,
    mock: Option<u64>,
    bench: Option<u64>,
}

impl Cpu {
    fn now(target: Option<&Target>, mock: &MockProcess) -> Cpu {
        Cpu {
            shim: target.and_then(Target::cpu),
            mock: cpu_ns(mock.child.id()),
            bench: cpu_ns(std::process::id()),
        }
    }

    fn since(self, before: Cpu) -> Cpu {
        Cpu {
            shim: delta(self.shim, before.shim),
            mock: delta(self.mock, before.mock),
            bench: delta(self.bench, before.bench),
        }
    }

    /// `clawshim | mock | bench` cells, in µs per operation.
    fn per(&self, ops: usize) -> String {
        let cell = |ns: Option<u64>| ns.map_or("-".to_string(), |ns| us_f(ns as f64 / ops as f64));
        format!(
            "{} | {} | {}",
            cell(self.shim),
            cell(self.mock),
            cell(self.bench)
        )
    }

    /// `clawshim | mock | bench` cells, in cores kept busy over `wall`.
    fn cores(&self, wall: Duration) -> String {
        let cell = |ns: Option<u64>| {
            ns.map_or("-".to_string(), |ns| {
                format!("{:.2}", ns as f64 / 1e9 / wall.as_secs_f64())
            })
        };
        format!(
            "{} | {} | {}",
            cell(self.shim),
            cell(self.mock),
            cell(self.bench)
        )
    }
}

// ---------------------------------------------------------------------------------------
// The raw gateway client: the least a client of the gateway protocol has to do.

type WsSink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;

/// The envelope of a gateway frame, borrowed from the text.
#[derive(serde::Deserialize)]
struct WireFrame<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(default)]
    id: Option<&'a str>,
    #[serde(default)]
    ok: Option<bool>,
    #[serde(default)]
    event: Option<&'a str>,
    #[serde(default, borrow)]
    payload: Option<&'a serde_json::value::RawValue>,
}

/// The payload fields the raw client reads (`res` status, `agent` event run and stream).
#[derive(Default, serde::Deserialize)]
struct WirePayload<'a> {
    #[serde(default)]
    status: Option<&'a str>,
    #[serde(default, rename = "runId")]
    run_id: Option<&'a str>,
    #[serde(default)]
    stream: Option<&'a str>,
}

/// Times of one raw run, from sending the `agent` request.
struct RawTimes {
    accepted: Duration,
    first_delta: Duration,
    done: Duration,
}

#[derive(Default)]
struct RawPending {
    accepted: Option<Instant>,
    first_delta: Option<Instant>,
    done: Option<oneshot::Sender<(bool, Instant)>>,
}

/// One handshaken gateway socket; runs are multiplexed on it by request id (the run id is
/// the same uuid, as the `idempotencyKey`).
struct RawClient {
    sink: tokio::sync::Mutex<WsSink>,
    pending: Arc<Mutex<HashMap<String, RawPending>>>,
    reader: tokio::task::JoinHandle<()>,
}

impl RawClient {
    async fn connect(url: &str) -> io::Result<RawClient> {
        let (mut ws, _) = tokio::time::timeout(LIMIT, tokio_tungstenite::connect_async(url))
            .await
            .map_err(|_| io::Error::other("connect timed out"))?
            .map_err(io::Error::other)?;
        // `connect.challenge` first, then our `connect`, then `hello-ok` (traces: simple).
        let _challenge = next_json(&mut ws).await?;
        let connect = json!({
            "type": "req", "id": "connect-1", "method": "connect",
            "params": {
                "minProtocol": 3, "maxProtocol": 4,
                "client": {"id": "gateway-client", "version": "bench", "platform": "linux", "mode": "backend"},
                "role": "operator",
                "scopes": ["operator.read", "operator.write"],
                "auth": {"token": TOKEN},
            }
        });
        ws.send(Message::text(connect.to_string()))
            .await
            .map_err(io::Error::other)?;
        loop {
            let frame = next_json(&mut ws).await?;
            if frame["type"] == "res" && frame["id"] == "connect-1" {
                if frame["ok"] != true {
                    return Err(io::Error::other(format!("connect refused: {frame}")));
                }
                break;
            }
        }
        let (sink, mut stream) = ws.split();
        let pending: Arc<Mutex<HashMap<String, RawPending>>> = Arc::default();
        let map = pending.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(text) = msg else { continue };
                let now = Instant::now();
                // Only the fields a client needs; payloads stay unparsed unless looked at,
                // as in clawshim's own frame parsing.
                let Ok(frame) = serde_json::from_str::<WireFrame>(text.as_str()) else {
                    continue;
                };
                let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
                match (frame.kind, frame.id, frame.event) {
                    ("res", Some(id), _) => {
                        let payload: WirePayload = frame
                            .payload
                            .and_then(|p| serde_json::from_str(p.get()).ok())
                            .unwrap_or_default();
                        if payload.status == Some("accepted") {
                            if let Some(p) = map.get_mut(id) {
                                p.accepted = Some(now);
                            }
                        } else if let Some(mut p) = map.remove(id) {
                            // The other times stay for the waiter, under a key of their own.
                            let done = p.done.take();
                            map.insert(format!("{id}/times"), p);
                            if let Some(done) = done {
                                let _ = done.send((frame.ok == Some(true), now));
                            }
                        }
                    }
                    ("event", _, Some("agent")) => {
                        let payload: WirePayload = frame
                            .payload
                            .and_then(|p| serde_json::from_str(p.get()).ok())
                            .unwrap_or_default();
                        if payload.stream == Some("assistant") {
                            if let Some(p) = payload.run_id.and_then(|id| map.get_mut(id)) {
                                p.first_delta.get_or_insert(now);
                            }
                        }
                    }
                    _ => {}
                }
            }
        });
        Ok(RawClient {
            sink: tokio::sync::Mutex::new(sink),
            pending,
            reader,
        })
    }

    /// One `agent` run with the params clawshim sends, to its final `res`.
    /// `agent` `broken` fails, and its final `res` is `ok:false` (traces: broken_agent).
    async fn run(&self, text: &str, agent: &str) -> io::Result<RawTimes> {
        let id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        let req = json!({
            "type": "req", "id": id, "method": "agent",
            "params": {
                "message": text,
                "idempotencyKey": id,
                "agentId": agent,
                "sessionKey": format!("agent:{agent}:openai:{}", uuid::Uuid::new_v4()),
                "timeout": 600,
                "deliver": false,
            }
        })
        .to_string();
        self.lock().insert(
            id.clone(),
            RawPending {
                done: Some(tx),
                ..RawPending::default()
            },
        );
        let start = Instant::now();
        self.sink
            .lock()
            .await
            .send(Message::text(req))
            .await
            .map_err(io::Error::other)?;
        let (ok, done) = tokio::time::timeout(LIMIT, rx)
            .await
            .map_err(|_| io::Error::other("run timed out"))?
            .map_err(|_| io::Error::other("socket closed"))?;
        let times = self
            .lock()
            .remove(&format!("{id}/times"))
            .unwrap_or_default();
        if ok == (agent == "broken") {
            return Err(io::Error::other(format!("run of {agent}: ok {ok}")));
        }
        let since = |t: Option<Instant>| t.map_or(Duration::ZERO, |t| t - start);
        Ok(RawTimes {
            accepted: since(times.accepted),
            first_delta: since(times.first_delta),
            done: done - start,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, RawPending>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for RawClient {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn next_json(ws: &mut WebSocketStream<MaybeTlsStream<TcpStream>>) -> io::Result<Value> {
    loop {
        let msg = tokio::time::timeout(LIMIT, ws.next())
            .await
            .map_err(|_| io::Error::other("no frame in time"))?
            .ok_or_else(|| io::Error::other("socket closed"))?
            .map_err(io::Error::other)?;
        if let Message::Text(text) = msg {
            return serde_json::from_str(text.as_str()).map_err(io::Error::other);
        }
    }
}

// ---------------------------------------------------------------------------------------
// A minimal HTTP/1.1 keep-alive client: one write per request, content-length and chunked
// bodies, times of the first byte and of a marker in the body.

/// One response and its times, from the request's write.
struct Reply {
    status: u16,
    body: Vec<u8>,
    first_byte: Duration,
    /// When the body first contained the marker asked for.
    marker: Option<Duration>,
    total: Duration,
}

struct HttpConn {
    tcp: TcpStream,
    host: String,
    buf: Vec<u8>,
}

impl HttpConn {
    async fn connect(addr: SocketAddr) -> io::Result<HttpConn> {
        let tcp = tokio::time::timeout(LIMIT, TcpStream::connect(addr))
            .await
            .map_err(|_| io::Error::other("connect timed out"))??;
        tcp.set_nodelay(true)?;
        Ok(HttpConn {
            tcp,
            host: addr.to_string(),
            buf: Vec::with_capacity(16 << 10),
        })
    }

    async fn get(&mut self, path: &str) -> io::Result<Reply> {
        let req = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.host);
        self.exchange(req.into_bytes(), None, false).await
    }

    async fn chat(&mut self, body: &[u8], marker: Option<&[u8]>) -> io::Result<Reply> {
        self.exchange(self.post(body), marker, false).await
    }

    /// Sends a stream request and returns once `marker` has arrived, leaving the stream open.
    async fn open_stream(&mut self, body: &[u8], marker: &[u8]) -> io::Result<(u16, Duration)> {
        let r = self.exchange(self.post(body), Some(marker), true).await?;
        match r.marker {
            Some(at) => Ok((r.status, at)),
            None => Err(io::Error::other(format!(
                "no first delta (status {}): {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ))),
        }
    }

    fn post(&self, body: &[u8]) -> Vec<u8> {
        let mut req = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.host,
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        req
    }

    async fn exchange(
        &mut self,
        req: Vec<u8>,
        marker: Option<&[u8]>,
        stop_at_marker: bool,
    ) -> io::Result<Reply> {
        tokio::time::timeout(LIMIT, self.exchange_inner(req, marker, stop_at_marker))
            .await
            .map_err(|_| io::Error::other("response timed out"))?
    }

    async fn exchange_inner(
        &mut self,
        req: Vec<u8>,
        marker: Option<&[u8]>,
        stop_at_marker: bool,
    ) -> io::Result<Reply> {
        let start = Instant::now();
        self.tcp.write_all(&req).await?;
        let mut first_byte = None;
        // Headers.
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill(&mut first_byte).await?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).to_ascii_lowercase();
        self.buf.drain(..head_end);
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other("bad status line"))?;
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
        };
        let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
        let length: Option<usize> = header("content-length").and_then(|v| v.parse().ok());
        let mut body = Vec::new();
        let mut marker_at = None;
        // Looks for the marker in what `from` added (and the marker's length before it).
        let check = |body: &[u8], from: usize, marker_at: &mut Option<Duration>| {
            if let (Some(m), None) = (marker, *marker_at) {
                if find(&body[from.saturating_sub(m.len())..], m).is_some() {
                    *marker_at = Some(start.elapsed());
                }
            }
        };
        if chunked {
            loop {
                let Some(line_end) = find(&self.buf, b"\r\n") else {
                    self.fill(&mut first_byte).await?;
                    continue;
                };
                let size_text = String::from_utf8_lossy(&self.buf[..line_end]);
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                        .map_err(|_| io::Error::other(format!("bad chunk size {size_text:?}")))?;
                if size == 0 {
                    // Last chunk, no trailers: `0\r\n\r\n`.
                    while self.buf.len() < line_end + 4 {
                        self.fill(&mut first_byte).await?;
                    }
                    self.buf.drain(..line_end + 4);
                    break;
                }
                while self.buf.len() < line_end + 2 + size + 2 {
                    self.fill(&mut first_byte).await?;
                }
                let from = body.len();
                body.extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
                self.buf.drain(..line_end + 2 + size + 2);
                check(&body, from, &mut marker_at);
                if stop_at_marker && marker_at.is_some() {
                    break;
                }
            }
        } else {
            let length = length.unwrap_or(0);
            while self.buf.len() < length {
                self.fill(&mut first_byte).await?;
            }
            body.extend(self.buf.drain(..length));
            check(&body, 0, &mut marker_at);
        }
        Ok(Reply {
            status,
            body,
            first_byte: first_byte.map_or(Duration::ZERO, |t: Instant| t - start),
            marker: marker_at,
            total: start.elapsed(),
        })
    }

    /// Whether the server has neither closed nor reset the connection (without waiting).
    fn still_open(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        loop {
            match self.tcp.try_read(&mut chunk) {
                Ok(0) => return false,
                // Keep-alive comments may have arrived meanwhile.
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
        }
    }

    async fn fill(&mut self, first_byte: &mut Option<Instant>) -> io::Result<()> {
        let mut chunk = [0u8; 16 << 10];
        let n = self.tcp.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        first_byte.get_or_insert_with(Instant::now);
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

fn chat_body(text: &str, stream: bool) -> Vec<u8> {
    chat_body_for("openclaw/main", text, stream)
}

fn chat_body_for(model: &str, text: &str, stream: bool) -> Vec<u8> {
    json!({
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    })
    .to_string()
    .into_bytes()
}

fn base_addr(base: &str) -> SocketAddr {
    base.trim_start_matches("http://")
        .parse()
        .expect("shim address")
}

/// A v4 mock with no chunk delay: a run costs only the mock's frame work.
async fn bench_mock(max_queued_frames: usize) -> MockGateway {
    mock_with(MockOptions {
        protocol: Protocol::V4,
        token: Some(TOKEN.to_string()),
        chunk_delay: Duration::ZERO,
        max_queued_frames,
        ..MockOptions::default()
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Process facts and statistics.

struct Memory {
    rss_kib: u64,
    hwm_kib: u64,
    threads: u64,
}

fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
        threads: field("Threads:")?,
    })
}

fn cpu_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0;
    for task in tasks.flatten() {
        let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        total += stat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Some(total)
}

fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_string())
}

fn machine_facts() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "?".to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("cores: {cores}, CPU: {cpu}, load: {}", loadavg())
}

/// The `q` quantile of sorted `v` (nearest rank).
fn pct(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn sorted(v: &[Duration]) -> Vec<Duration> {
    let mut v = v.to_vec();
    v.sort();
    v
}

fn us(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e6)
}

fn us_f(us_times_1000: f64) -> String {
    format!("{:.1}", us_times_1000 / 1e3)
}

fn delta(after: Option<u64>, before: Option<u64>) -> Option<u64> {
    Some(after?.saturating_sub(before?))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

const QUANTILES: [f64; 3] = [0.50, 0.90, 0.99];

fn table(rows: &[(&str, &Vec<Duration>)]) -> String {
    let mut out =
        String::from("| µs | p50 | p90 | p99 | mean |\n| --- | --- | --- | --- | --- |\n");
    for (name, v) in rows {
        let s = sorted(v);
        let mean = s.iter().sum::<Duration>() / s.len().max(1) as u32;
        let _ = write!(out, "| {name} ");
        for q in QUANTILES {
            let _ = write!(out, "| {} ", us(pct(&s, q)));
        }
        let _ = writeln!(out, "| {} |", us(mean));
    }
    out
}

/// Per-quantile difference `a - b` as one more table row.
fn diff_row(name: &str, a: &[Duration], b: &[Duration]) -> String {
    let (a, b) = (sorted(a), sorted(b));
    let mut out = format!("| **{name}** ");
    for q in QUANTILES {
        let d = pct(&a, q).as_secs_f64() - pct(&b, q).as_secs_f64();
        let _ = write!(out, "| **{:+.0}** ", d * 1e6);
    }
    let mean =
        |v: &[Duration]| v.iter().map(Duration::as_secs_f64).sum::<f64>() / v.len().max(1) as f64;
    let _ = writeln!(out, "| **{:+.0}** |", (mean(&a) - mean(&b)) * 1e6);
    out
}
