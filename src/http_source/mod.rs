//! The second run source: runs through the gateway's own `/v1/chat/completions`.
//!
//! Client tools reach an agent only through openclaw's HTTP endpoints (docs/client-tools.md),
//! so a request whose tools are honoured runs here instead of through the WebSocket `agent`
//! method. [`HttpSource::start`] sends the run ([`body`]: the same run input as the
//! WebSocket source, plus the tools) and returns once the gateway started streaming;
//! [`HttpRun::next`] then yields the same [`RunEvent`]s as a WebSocket run ([`stream`]): text
//! deltas, and a final [`RunEvent::Finished`] whose outcome carries the tool calls under the
//! caller's names.
//!
//! What differs from a WebSocket run, and what is done instead:
//!
//! - **Abort**: dropping an [`HttpRun`] drops the HTTP response, which closes its
//!   connection; openclaw aborts the run when its client goes (`watchClientDisconnect`).
//! - **Idempotency**: the endpoint takes no run id, so a client's retry with the same
//!   `Idempotency-Key` cannot join the first run; it starts another one.
//! - **Run timeout**: the endpoint takes none; the agent's `timeoutSeconds` applies on the
//!   gateway, and clawshim's own deadline (dropping the run) still ends it here.
//! - **Thinking level**: the endpoint takes none; the agent's default applies.
//! - **Run id**: the gateway's (`chatcmpl_<uuid>`, the `id` of its first chunk), known once
//!   the stream started.
//!
//! The gateway credential goes only to the gateway (`Authorization`); errors are mapped to
//! [`GatewayError`]s here, so no answer of the gateway reaches a client as it came.

pub mod body;
pub mod stream;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::client_tools::ClientTools;
use crate::gateway::GatewayAuth;
use crate::gateway::{ExternalEvents, GatewayError, RunEvent, RunId, RunRequest};
use stream::{Decoded, StreamDecoder};

/// The largest body openclaw's chat endpoint reads (`DEFAULT_OPENAI_CHAT_COMPLETIONS_BODY_BYTES`,
/// 20 MiB); a bigger one is refused here, before anything is sent.
pub const MAX_BODY_BYTES: usize = 20 * 1024 * 1024;

/// Largest error body read from the gateway.
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// Where and how to reach the gateway's HTTP endpoint.
#[derive(Debug, Clone)]
pub struct HttpSourceConfig {
    /// `http://host:port` or `https://host:port` (the gateway's WebSocket address).
    pub base_url: String,
    /// The gateway credential, sent as a bearer token.
    pub auth: GatewayAuth,
    /// Trust anchors for an `https://` gateway instead of the system roots.
    pub tls_roots: Option<Arc<rustls::RootCertStore>>,
    /// Limit for connecting and for the answer's headers (the gateway answers them at once:
    /// it writes its role chunk before the run starts working).
    pub connect_timeout: Duration,
}

/// Why a run could not start through the HTTP endpoint.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The gateway does not serve `/v1/chat/completions` (404, 405, or a page that is not
    /// an event stream, as openclaw's Control UI fallback gives): the endpoint is off.
    #[error("the gateway's /v1/chat/completions is not enabled")]
    EndpointOff,
    /// The gateway refused the run, or could not be reached.
    #[error(transparent)]
    Failed(#[from] GatewayError),
}

/// The client of the gateway's chat endpoint. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpSource {
    client: reqwest::Client,
    url: String,
    credential: Option<String>,
    connect_timeout: Duration,
}

impl HttpSource {
    /// A source for `config`; fails only when the TLS setup cannot be built.
    pub fn new(config: HttpSourceConfig) -> Result<HttpSource, String> {
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .tcp_nodelay(true);
        if let Some(roots) = &config.tls_roots {
            let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
            builder = builder.use_preconfigured_tls(tls);
        }
        let credential = match &config.auth {
            GatewayAuth::Token(s) | GatewayAuth::Password(s) => Some(s.expose().to_owned()),
            GatewayAuth::None => None,
        };
        Ok(HttpSource {
            client: builder.build().map_err(|e| e.to_string())?,
            url: format!(
                "{}/v1/chat/completions",
                config.base_url.trim_end_matches('/')
            ),
            credential,
            connect_timeout: config.connect_timeout,
        })
    }

    /// The endpoint's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Starts `req` with `tools`; returns once the gateway's stream started (its first
    /// chunk arrived). Nothing is sent when the body is over [`MAX_BODY_BYTES`].
    pub async fn start(
        &self,
        req: &RunRequest,
        tools: &ClientTools,
    ) -> Result<HttpRun, StartError> {
        let body = serde_json::to_vec(&body::chat_body(req, tools))
            .map_err(|e| GatewayError::Protocol(e.to_string()))?;
        if body.len() > MAX_BODY_BYTES {
            return Err(GatewayError::FrameTooLarge {
                size: body.len(),
                limit: MAX_BODY_BYTES,
            }
            .into());
        }
        let mut request = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(c) = &self.credential {
            request = request.bearer_auth(c);
        }
        for (name, value) in body::routing_headers(req) {
            request = request.header(name, value);
        }
        let response = tokio::time::timeout(self.connect_timeout, request.body(body).send())
            .await
            .map_err(|_| unreachable_error("no answer in time"))?
            .map_err(|e| unreachable_error(&e.without_url().to_string()))?;
        let mut run = HttpRun::accept(response, tools.clone()).await?;
        run.first_chunk(Instant::now() + self.connect_timeout).await;
        Ok(run)
    }
}

/// The endpoint could not be reached: nothing ran.
fn unreachable_error(why: &str) -> StartError {
    GatewayError::Rejected {
        code: "UNAVAILABLE".into(),
        message: format!("the gateway's HTTP endpoint could not be reached: {why}"),
    }
    .into()
}

/// One run streaming from the gateway's endpoint. Dropping it aborts the run (see the
/// module doc).
#[derive(Debug)]
pub struct HttpRun {
    id: RunId,
    response: reqwest::Response,
    decoder: StreamDecoder,
    queue: VecDeque<RunEvent>,
    tools: ClientTools,
}

impl HttpRun {
    /// Checks the answer's status and type.
    async fn accept(
        response: reqwest::Response,
        tools: ClientTools,
    ) -> Result<HttpRun, StartError> {
        let status = response.status().as_u16();
        let is_stream = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        match status {
            200 if is_stream => Ok(HttpRun {
                id: RunId::default(),
                response,
                decoder: StreamDecoder::new(),
                queue: VecDeque::new(),
                tools,
            }),
            200 | 404 | 405 => Err(StartError::EndpointOff),
            _ => {
                let message = error_message(response).await;
                let code = match status {
                    400 => "INVALID_REQUEST",
                    429 | 503 => "UNAVAILABLE",
                    401 | 403 => "UNAUTHORIZED",
                    _ => "HTTP_ERROR",
                };
                let message = match status {
                    400 => message,
                    _ => format!("the gateway's HTTP endpoint answered {status}: {message}"),
                };
                Err(GatewayError::Rejected {
                    code: code.into(),
                    message,
                }
                .into())
            }
        }
    }

    /// Reads until the first chunk (the role chunk the gateway writes at once) to learn the
    /// run id; what else arrives is kept for [`HttpRun::next`].
    async fn first_chunk(&mut self, deadline: Instant) {
        while self.decoder.run_id().is_none() && self.queue.is_empty() {
            if !self.read(deadline).await {
                break;
            }
        }
        if let Some(id) = self.decoder.run_id() {
            self.id = RunId::from(id);
        }
    }

    /// The run id: the gateway's when its stream gave one, else a local one.
    pub fn id(&self) -> &RunId {
        &self.id
    }

    /// The next event, as [`crate::gateway::Run::next`]: text, then exactly one terminal
    /// event; [`RunEvent::TimedOut`] once `deadline` passes. Cancel safe.
    pub async fn next(&mut self, deadline: Instant) -> RunEvent {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return event;
            }
            if self.decoder.ended() {
                // Only reached when called again after the terminal event.
                return RunEvent::Failed(GatewayError::Protocol("the run already ended".into()));
            }
            if !self.read(deadline).await {
                return RunEvent::TimedOut;
            }
        }
    }

    /// Reads one piece of the body into the queue; `false` when `deadline` passed first.
    async fn read(&mut self, deadline: Instant) -> bool {
        let chunk = tokio::select! {
            chunk = self.response.chunk() => chunk,
            _ = tokio::time::sleep_until(deadline) => return false,
        };
        let decoded = match chunk {
            Ok(Some(bytes)) => self.decoder.push(&bytes),
            Ok(None) => self.decoder.finish().into_iter().collect(),
            Err(e) => {
                // Ends the decoder too: nothing more is read.
                let _ = self.decoder.finish();
                vec![Decoded::Failed(GatewayError::Disconnected {
                    reason: format!("the gateway's stream broke: {}", e.without_url()),
                })]
            }
        };
        for d in decoded {
            let event = match d {
                Decoded::Text(t) => RunEvent::Delta(t),
                Decoded::Failed(e) => RunEvent::Failed(e),
                Decoded::Done(mut outcome) => {
                    outcome.tool_calls = outcome
                        .tool_calls
                        .into_iter()
                        .map(|c| self.tools.to_client(c))
                        .collect();
                    RunEvent::Finished(outcome)
                }
            };
            self.queue.push_back(event);
        }
        true
    }
}

impl ExternalEvents for HttpRun {
    fn next(&mut self, deadline: Instant) -> Pin<Box<dyn Future<Output = RunEvent> + Send + '_>> {
        Box::pin(HttpRun::next(self, deadline))
    }
}

/// The `error.message` of a JSON error body, or a short description of what came.
async fn error_message(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BYTES {
        match response.chunk().await {
            Ok(Some(piece)) => body.extend_from_slice(&piece),
            _ => break,
        }
    }
    body.truncate(MAX_ERROR_BYTES);
    serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "(no error message)".into())
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::client_tools::{ToolChoice, ToolList};
    use crate::gateway::Secret;
    use crate::gateway::StopKind;
    use crate::routing::SessionKey;

    /// A one-request server answering `answer` (a recorded `HTTP/1.1 ...` text); returns
    /// its base URL and the request it got.
    async fn serve_once(answer: String) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then the body by its content-length.
            loop {
                let n = sock.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break;
                    }
                }
                assert!(n > 0, "request cut");
            }
            sock.write_all(answer.as_bytes()).await.unwrap();
            sock.shutdown().await.unwrap();
            String::from_utf8(got).unwrap()
        });
        (base, task)
    }

    /// A recorded answer as an HTTP/1.1 response closed after its body.
    fn recorded_answer(name: &str) -> String {
        let path = format!(
            "{}/mock-gateway/fixtures/v4/http/{name}.raw.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        let raw = std::fs::read_to_string(path).unwrap();
        let (head, body) = raw.split_once("\n\n").unwrap();
        let mut lines = head.lines();
        let status = lines.next().unwrap();
        let kept: Vec<&str> = lines
            .filter(|l| {
                let l = l.to_ascii_lowercase();
                !l.starts_with("transfer-encoding")
                    && !l.starts_with("content-length")
                    && !l.starts_with("connection")
            })
            .collect();
        format!(
            "{status}\r\n{}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            kept.join("\r\n"),
            body.len()
        )
    }

    fn source(base: &str) -> HttpSource {
        HttpSource::new(HttpSourceConfig {
            base_url: base.into(),
            auth: GatewayAuth::Token(Secret::new("gw-secret")),
            tls_roots: None,
            connect_timeout: Duration::from_secs(10),
        })
        .unwrap()
    }

    fn request() -> RunRequest {
        RunRequest::new(
            "main",
            SessionKey::named("agent:main:team:s1"),
            "MOCK_TOOL:get_weather",
        )
    }

    fn tools(names: &[&str]) -> ClientTools {
        let list: Vec<serde_json::Value> = names
            .iter()
            .map(|n| json!({"type": "function", "function": {"name": n}}))
            .collect();
        ClientTools::plan(ToolList::from_chat(&json!(list)).unwrap(), ToolChoice::Auto)
            .unwrap()
            .unwrap()
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    #[tokio::test]
    async fn a_recorded_tool_call_run_end_to_end() {
        let (base, server) = serve_once(recorded_answer("chat_tool_stream")).await;
        let mut run = source(&base)
            .start(&request(), &tools(&["get_weather"]))
            .await
            .unwrap();
        assert_eq!(
            run.id().as_str(),
            "chatcmpl_c9493a69-9ae0-457f-93b8-9801442faf42"
        );
        let RunEvent::Finished(outcome) = run.next(later()).await else {
            panic!("no outcome");
        };
        assert_eq!(outcome.stop, StopKind::Completed);
        assert_eq!(outcome.tool_calls.len(), 1);
        assert_eq!(outcome.tool_calls[0].name, "get_weather");
        let sent = server.await.unwrap();
        let lower = sent.to_ascii_lowercase();
        assert!(
            sent.starts_with("POST /v1/chat/completions HTTP/1.1\r\n"),
            "{sent}"
        );
        assert!(lower.contains("authorization: bearer gw-secret\r\n"));
        assert!(lower.contains("x-openclaw-session-key: agent:main:team:s1\r\n"));
        assert!(lower.contains("x-openclaw-agent-id: main\r\n"));
        assert!(!lower.contains("x-forwarded"));
    }

    #[tokio::test]
    async fn calls_come_back_under_the_callers_names() {
        let answer =
            recorded_answer("chat_tool_stream").replace("\"get_weather\"", "\"client_ask_user\"");
        let (base, _server) = serve_once(answer).await;
        let mut run = source(&base)
            .start(&request(), &tools(&["ask_user"]))
            .await
            .unwrap();
        let RunEvent::Finished(outcome) = run.next(later()).await else {
            panic!("no outcome");
        };
        assert_eq!(outcome.tool_calls[0].name, "ask_user");
    }

    #[tokio::test]
    async fn text_runs_give_deltas_then_the_outcome() {
        let (base, _server) = serve_once(recorded_answer("chat_text_stream_with_tools")).await;
        let mut run = source(&base)
            .start(&request(), &tools(&["get_weather"]))
            .await
            .unwrap();
        let mut text = String::new();
        loop {
            match run.next(later()).await {
                RunEvent::Delta(t) => text.push_str(&t),
                RunEvent::Finished(o) => {
                    assert_eq!(o.text, text);
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(text, "echo: hello there");
    }

    #[tokio::test]
    async fn refusals_are_gateway_errors_and_an_absent_endpoint_is_said() {
        let (base, _s) = serve_once(recorded_answer("chat_forced_unknown")).await;
        let err = source(&base)
            .start(&request(), &tools(&["f"]))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StartError::Failed(GatewayError::Rejected { code, message })
                if code == "INVALID_REQUEST" && message.contains("unknown tool: nope")),
            "{err:?}"
        );
        let off = "HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 9\r\nconnection: close\r\n\r\nNot Found".to_string();
        let (base, _s) = serve_once(off).await;
        let err = source(&base)
            .start(&request(), &tools(&["f"]))
            .await
            .unwrap_err();
        assert!(matches!(err, StartError::EndpointOff), "{err:?}");
        let page = "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 6\r\nconnection: close\r\n\r\n<html>".to_string();
        let (base, _s) = serve_once(page).await;
        let err = source(&base)
            .start(&request(), &tools(&["f"]))
            .await
            .unwrap_err();
        assert!(matches!(err, StartError::EndpointOff), "{err:?}");
        let unauthorized = "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: 55\r\nconnection: close\r\n\r\n{\"error\":{\"message\":\"Unauthorized\",\"type\":\"unauthorized\"}}".to_string();
        let (base, _s) = serve_once(unauthorized).await;
        let err = source(&base)
            .start(&request(), &tools(&["f"]))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StartError::Failed(GatewayError::Rejected { code, .. }) if code == "UNAUTHORIZED"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_body_over_the_gateways_limit_is_not_sent() {
        // Nothing listens there: refusing before connecting is the only way to pass.
        let mut req = request();
        req.message = "x".repeat(MAX_BODY_BYTES);
        let err = source("http://127.0.0.1:9")
            .start(&req, &tools(&["f"]))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StartError::Failed(GatewayError::FrameTooLarge { .. })),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_cut_stream_fails_the_run() {
        let cut = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\ndata: {\"id\":\"r1\",\"choices\":[{\"delta\":{\"content\":\"par\"}}]}\n\n".to_string();
        let (base, _s) = serve_once(cut).await;
        let mut run = source(&base)
            .start(&request(), &tools(&["f"]))
            .await
            .unwrap();
        assert_eq!(run.next(later()).await, RunEvent::Delta("par".into()));
        assert!(matches!(
            run.next(later()).await,
            RunEvent::Failed(GatewayError::Disconnected { .. })
        ));
    }
}
