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
//!
//! One module per thing measured: [`latency`] (the `sequential` phase), [`throughput`] and
//! [`streams`] (the `concurrent` phase: many clients, then many long streams; `capacity`:
//! streams held open and memory); shared by them: [`processes`] (clawshim and the mock
//! gateway under test), [`clients`] (the raw gateway client and the HTTP/1.1 client) and
//! [`stats`] (CPU, memory, percentiles, tables).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clawshim_tests::{
    mock_with, next_json, poll_until, response, send_json, ws_open, MockGateway, MockOptions,
    Protocol, Shim, TOKEN,
};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Semaphore};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

mod clients;
mod latency;
mod processes;
mod stats;
mod streams;
mod throughput;

use clients::*;
use latency::*;
use processes::*;
use stats::*;
use streams::*;
use throughput::*;

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
