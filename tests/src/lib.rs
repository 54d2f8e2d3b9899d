//! Test harness for clawshim's end-to-end suites: start the real pingora server on an
//! ephemeral loopback port in front of the in-process mock gateway, talk to it with an HTTP
//! client, read SSE streams into typed events, speak the gateway protocol over a WebSocket
//! ([`ws`]), wait for a condition instead of sleeping ([`poll`]). Every wait is bounded.

pub mod poll;
pub mod redis_server;
pub mod ws;

use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use clawshim_proxy::config::{Config, Settings};
use clawshim_proxy::{build_server, ChannelShutdown};
use pingora::server::ShutdownSignal;
use serde_json::Value;

pub use clawshim_mock_gateway::{MockGateway, MockOptions, Protocol};
pub use poll::{poll_until, wait_until};
pub use ws::{next_json, response, send_json, ws_open, Ws};

/// Upper bound for any single wait in the suites.
pub const WAIT: Duration = Duration::from_secs(20);

/// The client token the suites use (also the mock gateway's token).
pub const TOKEN: &str = "secret";

/// Gateway sockets a shim keeps unless a test sets `gateway_sockets`.
pub const SOCKETS: usize = clawshim_core::gateway::DEFAULT_SOCKETS;

/// A free loopback port (bound then released; good enough on loopback).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
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
                let r = probe.await.map_err(|e| e.to_string())?;
                let v: Value = r.json().await.map_err(|e| e.to_string())?;
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
        let mut req = client()
            .post(self.url("/v1/chat/completions"))
            .bearer_auth(TOKEN)
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

/// One SSE event of a chat stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Sse {
    /// A `data: {json}` event.
    Data(Value),
    /// `data: [DONE]`.
    Done,
    /// A `: comment` line (keep-alive).
    Comment(String),
}

/// Parse a whole SSE body.
pub fn parse_sse(body: &str) -> Vec<Sse> {
    body.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|event| {
            let line = event.trim();
            if let Some(c) = line.strip_prefix(':') {
                Sse::Comment(c.trim().to_string())
            } else if let Some(d) = line.strip_prefix("data:") {
                let d = d.trim();
                if d == "[DONE]" {
                    Sse::Done
                } else {
                    Sse::Data(
                        serde_json::from_str(d).unwrap_or_else(|e| panic!("bad SSE json {d}: {e}")),
                    )
                }
            } else {
                panic!("unexpected SSE line {line:?}")
            }
        })
        .collect()
}

/// The concatenated `delta.content` of a parsed stream.
pub fn streamed_text(events: &[Sse]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Sse::Data(v) => v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned),
            _ => None,
        })
        .collect()
}

/// The string param `field` of every `agent` request the mock gateway received, in order.
pub fn run_params(gw: &MockGateway, field: &str) -> Vec<String> {
    gw.requests()
        .iter()
        .filter(|r| r["method"] == "agent")
        .map(|r| r["params"][field].as_str().unwrap_or_default().to_string())
        .collect()
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
