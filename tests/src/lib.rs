//! Test harness for clawshim's end-to-end suites: start the real pingora server on an
//! ephemeral loopback port in front of the in-process mock gateway, talk to it with an HTTP
//! client, read answers and SSE streams ([`body`]), ask what the mock gateway received
//! ([`records`]), speak the gateway protocol over a WebSocket ([`ws`]), wait for a condition
//! instead of sleeping ([`poll`]). Every wait is bounded.

pub mod body;
pub mod poll;
pub mod raw;
pub mod records;
pub mod redis_server;
pub mod ws;

use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use clawshim_proxy::config::{Config, Settings};
use clawshim_proxy::{build_server, ChannelShutdown};
use pingora::server::ShutdownSignal;
use serde_json::Value;

pub use body::{error_of, parse_sse, streamed_text, BodyReader, Sse};
pub use clawshim_mock_gateway::{MockGateway, MockOptions, Protocol};
pub use poll::{poll_until, wait_until};
pub use records::{aborted, requests_of, run_ids, run_params, wait_aborted, wait_run_id};
pub use ws::{next_json, response, send_json, ws_open, Ws};

/// Upper bound for any single wait in the suites.
pub const WAIT: Duration = Duration::from_secs(20);

/// The client token the suites use (also the mock gateway's token).
pub const TOKEN: &str = "secret";

/// Gateway sockets a shim keeps unless a test sets `gateway_sockets`.
pub const SOCKETS: usize = clawshim_core::gateway::DEFAULT_SOCKETS;

/// A free loopback port, for a server that binds it itself (clawshim's listeners take an
/// address). Taken below the kernel's ephemeral range (`ip_local_port_range`): a port the
/// kernel hands out for a bind to port 0 or an outgoing connection (of this suite, or of
/// another one running beside it) could be taken again between this check and the server's
/// bind, and the server would never listen. Each call in a process gets another port.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::OnceLock;
    const LOW: u32 = 10_000;
    static RANGE: OnceLock<(u32, u32)> = OnceLock::new();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (start, span) = *RANGE.get_or_init(|| {
        let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
            .unwrap_or(32_768);
        let span = ephemeral.saturating_sub(LOW).max(1);
        // Another suite running beside this one starts elsewhere in the range.
        (uuid::Uuid::new_v4().as_u128() as u32 % span, span)
    });
    if span < 1_000 {
        // An unusual ephemeral range: the kernel's choice, bound then released.
        return TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
    }
    for _ in 0..1_000 {
        let port = LOW + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        let port = u16::try_from(port).expect("a port number");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port from {LOW} up");
}

/// Start a mock gateway speaking `protocol` with the suites' token.
pub async fn mock(protocol: Protocol) -> MockGateway {
    mock_with(MockOptions {
        protocol,
        token: Some(TOKEN.to_string()),
        ..MockOptions::default()
    })
    .await
}

/// Start a mock gateway speaking `protocol` on `addr`: a gateway back on the port it had.
pub async fn mock_at(protocol: Protocol, addr: SocketAddr) -> MockGateway {
    mock_with(MockOptions {
        protocol,
        token: Some(TOKEN.to_string()),
        bind: addr,
        ..MockOptions::default()
    })
    .await
}

/// Start a mock gateway with explicit options.
pub async fn mock_with(opts: MockOptions) -> MockGateway {
    MockGateway::start(opts).await.expect("mock gateway starts")
}

/// A running clawshim; stopped (fast shutdown) and joined on drop.
pub struct Shim {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    shutdown: Option<tokio::sync::oneshot::Sender<ShutdownSignal>>,
    done: Option<mpsc::Receiver<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Shim {
    /// Start clawshim in front of `gateway_url` and wait until it is ready (gateway connected).
    pub async fn start(gateway_url: &str) -> Shim {
        Shim::start_with(gateway_url, |_| {}, true).await
    }

    /// Start with settings adjusted by `tweak`; wait for `/readyz` 200 when `wait_ready`,
    /// else only for `/healthz`.
    pub async fn start_with(
        gateway_url: &str,
        tweak: impl FnOnce(&mut Settings),
        wait_ready: bool,
    ) -> Shim {
        let port = free_port();
        let mut settings = Settings {
            listen: Some(format!("127.0.0.1:{port}")),
            gateway_url: Some(gateway_url.to_string()),
            gateway_token: Some(TOKEN.to_string()),
            threads: Some(2),
            grace_period_secs: Some(0),
            ..Settings::default()
        };
        tweak(&mut settings);
        let sockets = settings.gateway_sockets.unwrap_or(SOCKETS);
        let config = Config::load(&settings).expect("valid test config");
        let server = build_server(config);
        let (watch, shutdown) = ChannelShutdown::new();
        let (done_tx, done) = mpsc::channel();
        let thread = thread::spawn(move || {
            server.run(watch.into_run_args());
            let _ = done_tx.send(());
        });
        let shim = Shim {
            base: format!("http://127.0.0.1:{port}"),
            shutdown: Some(shutdown),
            done: Some(done),
            thread: Some(thread),
        };
        if wait_ready {
            // Every socket of the pool, so tests see the same gateway connections each time.
            shim.wait_sockets_up(sockets).await;
        } else {
            shim.wait_status("/healthz", 200).await;
        }
        shim
    }

    /// Poll `/readyz` until it is 200 with `sockets` gateway sockets up.
    pub async fn wait_sockets_up(&self, sockets: usize) {
        let client = reqwest::Client::new();
        let url = self.url("/readyz");
        poll_until(&format!("/readyz with {sockets} sockets up"), || {
            let probe = client.get(&url).send();
            async move {
                // Debug: with the cause (connection refused, reset, ...).
                let r = probe.await.map_err(|e| format!("{e:?}"))?;
                let v: Value = r.json().await.map_err(|e| format!("{e:?}"))?;
                match v["sockets_up"].as_u64() {
                    Some(n) if n == sockets as u64 => Ok(()),
                    _ => Err(v.to_string()),
                }
            }
        })
        .await;
    }

    /// Poll `path` until it answers `status` (bounded by [`WAIT`]).
    pub async fn wait_status(&self, path: &str, status: u16) {
        let client = reqwest::Client::new();
        let url = self.url(path);
        poll_until(&format!("{path} answering {status}"), || {
            let probe = client.get(&url).send();
            async move {
                match probe.await {
                    Ok(r) if r.status().as_u16() == status => Ok(()),
                    Ok(r) => Err(r.status().to_string()),
                    Err(e) => Err(e.to_string()),
                }
            }
        })
        .await
    }

    /// Poll `/readyz` until its `reason` is `reason` (the shim is not ready); returns the body.
    pub async fn wait_ready_reason(&self, reason: &str) -> Value {
        let url = self.url("/readyz");
        poll_until(&format!("/readyz saying {reason}"), || async {
            let r = client().get(&url).send().await.map_err(|e| e.to_string())?;
            let status = r.status().as_u16();
            let body: Value = r.json().await.map_err(|e| e.to_string())?;
            if body["reason"] != reason {
                return Err(body.to_string());
            }
            assert_eq!(status, 503, "{body}");
            Ok(body)
        })
        .await
    }

    /// Ask for a graceful stop (what SIGTERM does): no new connections, running requests
    /// may finish within the grace period.
    pub fn stop_gracefully(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(ShutdownSignal::GracefulTerminate);
        }
    }

    /// Absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `POST /v1/chat/completions` with the suites' token.
    pub async fn chat(&self, body: Value) -> reqwest::Response {
        self.chat_with(body, &[]).await
    }

    /// Same, with extra headers.
    pub async fn chat_with(&self, body: Value, headers: &[(&str, &str)]) -> reqwest::Response {
        self.chat_as(TOKEN, body, headers).await
    }

    /// `POST /v1/chat/completions` with `key` and extra headers.
    pub async fn chat_as(
        &self,
        key: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = client()
            .post(self.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        tokio::time::timeout(WAIT, req.send())
            .await
            .expect("response within the wait")
            .expect("request sent")
    }
}

impl Drop for Shim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(ShutdownSignal::FastShutdown);
        }
        if let Some(done) = self.done.take() {
            if done.recv_timeout(WAIT).is_ok() {
                if let Some(t) = self.thread.take() {
                    let _ = t.join();
                }
            }
        }
    }
}

/// A shared HTTP client with a bound on every request.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("http client")
}

/// The ids of a `GET /v1/models` list.
pub fn model_ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["id"].as_str())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Lower-case hex SHA-256 of `text`: what `clawshim gen-key` prints for a key, and the form
/// of the vendored-crate manifest.
pub fn sha256_hex(text: &str) -> String {
    use std::fmt::Write;
    let digest = <sha2::Sha256 as sha2::Digest>::digest(text.as_bytes());
    digest.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// A user message body for `model`.
pub fn user_msg(model: &str, text: &str) -> Value {
    serde_json::json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// [`user_msg`] asking for a stream.
pub fn stream_msg(model: &str, text: &str) -> Value {
    let mut body = user_msg(model, text);
    body["stream"] = Value::Bool(true);
    body
}
