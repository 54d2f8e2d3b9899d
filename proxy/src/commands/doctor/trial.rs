//! One real chat completion through clawshim: the server built from this configuration
//! ([`crate::build_server`]) runs in-process on an ephemeral loopback port, with TLS, metrics
//! and the pid file left out and a one-time client token added, and answers one
//! non-streaming request for the default agent (`openclaw/default`), which runs on the gateway.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use clawshim_core::gateway::Secret;
use pingora::server::ShutdownSignal;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::check::Check;
use crate::config::Config;
use crate::server::{build_server, ChannelShutdown};

/// `real run`.
pub async fn check(config: &Config) -> Check {
    let addr = match TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(a) => a,
        Err(e) => return Check::fail("real run", format!("no loopback port: {e}"), "retry"),
    };
    let token = format!("doctor-{}", uuid::Uuid::new_v4().simple());
    let mut trial = config.clone();
    trial.listen = Some(addr);
    trial.tls = None;
    trial.metrics_listen = None;
    trial.pid_file = None;
    trial.upgrade = false;
    trial.threads = 1;
    trial.grace_period = Duration::ZERO;
    // The running clawshim holds the usage file (locked while open); the trial's tokens
    // are not kept there.
    trial.shared_state.usage_file = None;
    trial.api_tokens.push(Secret::new(token.clone()));

    let (watch, stop) = ChannelShutdown::new();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let server = std::thread::Builder::new()
        .name("doctor-server".into())
        .spawn(move || {
            build_server(trial).run(watch.into_run_args());
            let _ = done_tx.send(());
        });
    if let Err(e) = server {
        return Check::fail("real run", format!("cannot start clawshim: {e}"), "retry");
    }

    let ready_within = config.gateway.connect_timeout
        + config.gateway.wait_for_connection
        + Duration::from_secs(5);
    let result = run_once(
        addr,
        &token,
        ready_within,
        config.run_timeout + config.run_grace,
    )
    .await;
    let _ = stop.send(ShutdownSignal::FastShutdown);
    let _ = tokio::time::timeout(Duration::from_secs(10), done_rx).await;

    match result {
        Ok((model, text)) => {
            let mut preview: String = text.chars().take(60).collect();
            if preview.len() < text.len() {
                preview.push('…');
            }
            Check::pass(
                "real run",
                format!("POST /v1/chat/completions ({model}) answered: {preview:?}"),
            )
        }
        Err(e) => Check::fail(
            "real run",
            e,
            "run clawshim in the foreground with RUST_LOG=debug and retry the request: the log \
             names the failing step",
        ),
    }
}

async fn run_once(
    addr: SocketAddr,
    token: &str,
    ready_within: Duration,
    run_within: Duration,
) -> Result<(String, String), String> {
    let deadline = tokio::time::Instant::now() + ready_within;
    loop {
        match request(addr, "GET", "/readyz", None, None).await {
            Ok((200, _)) => break,
            Ok((_, body)) if tokio::time::Instant::now() >= deadline => {
                return Err(format!("clawshim never became ready: {body}"))
            }
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(format!("clawshim did not start: {e}"))
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let model = "openclaw/default";
    let body = json!({
        "model": model,
        "messages": [{"role": "user", "content": "clawshim doctor: reply with one short sentence."}],
    });
    let answer = tokio::time::timeout(
        run_within,
        request(
            addr,
            "POST",
            "/v1/chat/completions",
            Some(token),
            Some(&body),
        ),
    )
    .await
    .map_err(|_| format!("no answer within {}s", run_within.as_secs()))??;
    let (status, text) = answer;
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status != 200 {
        let message = v["error"]["message"].as_str().unwrap_or(&text);
        return Err(format!("HTTP {status}: {message}"));
    }
    let content = v["choices"][0]["message"]["content"]
        .as_str()
        .ok_or_else(|| format!("HTTP 200 without a message: {text}"))?;
    Ok((
        v["model"].as_str().unwrap_or(model).to_string(),
        content.to_string(),
    ))
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), the body read to the end.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let payload = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        payload.len()
    );
    if body.is_some() {
        head.push_str("Content-Type: application/json\r\n");
    }
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(format!("{head}{payload}").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .await
        .map_err(|e| e.to_string())?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| "incomplete HTTP response".to_string())?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let body = &raw[split + 4..];
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "no HTTP status".to_string())?;
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// The payload of a chunked body.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&body[..eol]);
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        let rest = &body[eol + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        body = rest[n..].strip_prefix(b"\r\n").unwrap_or(&rest[n..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::dechunk;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), b"abcde");
        assert!(dechunk(b"nonsense").is_empty());
    }
}
