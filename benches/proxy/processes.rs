//! The processes under test: clawshim (in-process or its own process) and the mock gateway
//! as its own process (this binary, re-executed), like a real gateway, so that CPU time is
//! read per process.

use super::*;

/// Open connections the benched clawshim accepts, in all and from one address: every bench
/// client is on 127.0.0.1, and the capacity phase holds thousands of streams at once.
const CONNECTIONS: usize = 100_000;

pub(crate) enum Target {
    InProcess(Shim),
    Process(ShimProcess),
}

impl Target {
    /// The release binary as its own process when there is one, else in-process.
    pub(crate) async fn start(gateway_url: &str, binary: Option<&Path>) -> Target {
        match binary {
            Some(path) => Target::Process(ShimProcess::spawn(path, gateway_url).await),
            None => Target::InProcess(
                Shim::start_with(
                    gateway_url,
                    |s| {
                        s.max_concurrent_runs = Some(100_000);
                        s.max_connections = Some(CONNECTIONS);
                        s.max_connections_per_address = Some(CONNECTIONS);
                    },
                    true,
                )
                .await,
            ),
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        match self {
            Target::InProcess(shim) => base_addr(&shim.base),
            Target::Process(p) => p.addr,
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        match self {
            Target::InProcess(_) => std::process::id(),
            Target::Process(p) => p.child.id(),
        }
    }

    pub(crate) fn memory(&self) -> Option<Memory> {
        memory(self.pid())
    }

    /// CPU time of the process so far, in ns: summed over its threads from `schedstat`,
    /// which is exact where `stat`'s clock ticks are 10 ms coarse.
    pub(crate) fn cpu(&self) -> Option<u64> {
        match self {
            // The bench's own threads would be counted too: not clawshim's cost.
            Target::InProcess(_) => None,
            Target::Process(p) => cpu_ns(p.child.id()),
        }
    }
}

/// The `clawshim` binary run as a child process, killed on drop.
pub(crate) struct ShimProcess {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
}

impl ShimProcess {
    pub(crate) async fn spawn(path: &Path, gateway_url: &str) -> ShimProcess {
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
            .env("CLAWSHIM_MAX_CONNECTIONS", CONNECTIONS.to_string())
            .env(
                "CLAWSHIM_MAX_CONNECTIONS_PER_ADDRESS",
                CONNECTIONS.to_string(),
            )
            .env("CLAWSHIM_THREADS", "2")
            .env("CLAWSHIM_GRACE_PERIOD_SECS", "0")
            .env("RUST_LOG", "warn")
            // The socket count and trace export are the settings worth comparing runs over.
            .envs(
                std::env::var("CLAWSHIM_GATEWAY_SOCKETS").map(|v| ("CLAWSHIM_GATEWAY_SOCKETS", v)),
            )
            .envs(std::env::vars().filter(|(name, _)| name.starts_with("OTEL_")))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("clawshim starts");
        let process = ShimProcess { child, addr };
        let what = format!("clawshim at {addr} ready (log: {})", log.display());
        poll_until(&what, || async {
            let mut c = HttpConn::connect(addr).await.map_err(|e| e.to_string())?;
            match c.get("/readyz").await {
                Ok(r) if r.status == 200 => Ok(()),
                Ok(r) => Err(format!("status {}", r.status)),
                Err(e) => Err(e.to_string()),
            }
        })
        .await;
        process
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
pub(crate) fn clawshim_binary() -> Option<PathBuf> {
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

pub(crate) fn modified(path: &Path) -> String {
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
pub(crate) const MOCK_FLAG: &str = "--mock-gateway";

/// Serves a mock gateway on one thread (the real gateway is one Node.js process), prints its
/// URL, and stops when stdin closes, so it never outlives the bench.
pub(crate) fn serve_mock(max_queued_frames: usize) {
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
pub(crate) struct MockProcess {
    pub(crate) child: Child,
    pub(crate) url: String,
}

impl MockProcess {
    pub(crate) async fn start(max_queued_frames: usize) -> MockProcess {
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
pub(crate) const CPU_HEADER: &str = "| µs of CPU per request | clawshim | mock gateway | clients (bench process) |\n| --- | --- | --- | --- |\n";

/// CPU time used so far (ns) by clawshim, the mock gateway and this bench process.
#[derive(Clone, Copy)]
pub(crate) struct Cpu {
    pub(crate) shim: Option<u64>,
    pub(crate) mock: Option<u64>,
    pub(crate) bench: Option<u64>,
}

impl Cpu {
    pub(crate) fn now(target: Option<&Target>, mock: &MockProcess) -> Cpu {
        Cpu {
            shim: target.and_then(Target::cpu),
            mock: cpu_ns(mock.child.id()),
            bench: cpu_ns(std::process::id()),
        }
    }

    pub(crate) fn since(self, before: Cpu) -> Cpu {
        Cpu {
            shim: delta(self.shim, before.shim),
            mock: delta(self.mock, before.mock),
            bench: delta(self.bench, before.bench),
        }
    }

    /// `clawshim | mock | bench` cells, in µs per operation.
    pub(crate) fn per(&self, ops: usize) -> String {
        let cell = |ns: Option<u64>| ns.map_or("-".to_string(), |ns| us_f(ns as f64 / ops as f64));
        format!(
            "{} | {} | {}",
            cell(self.shim),
            cell(self.mock),
            cell(self.bench)
        )
    }

    /// `clawshim | mock | bench` cells, in cores kept busy over `wall`.
    pub(crate) fn cores(&self, wall: Duration) -> String {
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

/// A v4 mock with no chunk delay: a run costs only the mock's frame work.
pub(crate) async fn bench_mock(max_queued_frames: usize) -> MockGateway {
    mock_with(MockOptions {
        protocol: Protocol::V4,
        token: Some(TOKEN.to_string()),
        chunk_delay: Duration::ZERO,
        max_queued_frames,
        ..MockOptions::default()
    })
    .await
}
