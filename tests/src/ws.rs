//! A WebSocket test client for the gateway protocol: open a socket (to the mock or through
//! the shim), read text frames as JSON, wait for the `res` of one request. Every read is
//! bounded by [`crate::WAIT`]; failures come back as readable errors.

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::WAIT;

/// A client WebSocket (plain or TLS).
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Open a WebSocket to `request` (a URL or a request with headers); an error unless the
/// server answers `101` within the wait.
pub async fn ws_open(request: impl IntoClientRequest + Unpin) -> Result<Ws, String> {
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .map_err(|_| "no upgrade within the wait".to_string())?
        .map_err(|e| format!("upgrade failed: {e}"))?;
    Ok(ws)
}

/// The next text frame as JSON; a close frame, a closed socket or silence is an error.
pub async fn next_json(ws: &mut Ws) -> Result<Value, String> {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .map_err(|_| "no frame within the wait".to_string())?
            .ok_or("socket closed")?
            .map_err(|e| format!("socket error: {e}"))?;
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).map_err(|e| e.to_string()),
            Message::Close(c) => return Err(format!("closed by the gateway: {c:?}")),
            _ => continue,
        }
    }
}

/// Send `frame` as one text frame.
pub async fn send_json(ws: &mut Ws, frame: &Value) -> Result<(), String> {
    tokio::time::timeout(WAIT, ws.send(Message::text(frame.to_string())))
        .await
        .map_err(|_| "send blocked past the wait".to_string())?
        .map_err(|e| e.to_string())
}

/// The `res` frame answering request `id`, skipping events and other responses.
pub async fn response(ws: &mut Ws, id: &str) -> Result<Value, String> {
    loop {
        let v = next_json(ws).await?;
        if v["type"] == "res" && v["id"] == id {
            return Ok(v);
        }
    }
}
