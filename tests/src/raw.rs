//! HTTP/1.1 by hand over TCP, for what a client library will not do: connect from a chosen
//! loopback address (the hostile-client suites put attackers on 127.0.0.1 and victims on
//! 127.0.0.2), drip or withhold bytes, and watch for the server closing the connection.
//! Every read is bounded by [`crate::WAIT`].

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::{Shim, WAIT};

/// The shim's plain listener.
pub fn shim_addr(shim: &Shim) -> SocketAddr {
    shim.base
        .trim_start_matches("http://")
        .parse()
        .expect("shim address")
}

/// A connection to `server` from `source` (any 127.x.y.z address works on Linux loopback).
pub async fn connect_from(source: &str, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{source}:0").parse().expect("source address"))?;
    socket.connect(server).await
}

/// One response read off `tcp`: its status and body (`Content-Length` framed), or why none
/// came (closed, reset, or nothing within [`WAIT`]).
pub async fn read_response(tcp: &mut TcpStream) -> Result<(u16, String), String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(WAIT, tcp.read(&mut chunk))
            .await
            .map_err(|_| "no answer".to_string())?
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err(format!("closed after {:?}", String::from_utf8_lossy(&buf)));
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        let Some(end) = text.find("\r\n\r\n") else {
            continue;
        };
        let length: usize = text[..end]
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0);
        if buf.len() >= end + 4 + length {
            let status = text
                .get(9..12)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("no status in {text:?}"))?;
            return Ok((status, text[end + 4..end + 4 + length].to_string()));
        }
    }
}

/// `GET /healthz` on `tcp`: its status, or why none came.
pub async fn healthz(tcp: &mut TcpStream) -> Result<u16, String> {
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nhost: clawshim\r\n\r\n")
        .await
        .map_err(|e| format!("write: {e}"))?;
    read_response(tcp).await.map(|(status, _)| status)
}

/// Wait (at most [`WAIT`]) for the server to close `tcp`, discarding what it sends;
/// `Err` when it is still open.
pub async fn closed_by_server(tcp: &mut TcpStream) -> Result<(), String> {
    let mut chunk = [0u8; 4096];
    let waited = tokio::time::timeout(WAIT, async {
        loop {
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await;
    waited.map_err(|_| format!("still open after {WAIT:?}"))
}

/// The head of a `POST` to `path` with bearer `token` and a declared body of `length` bytes.
pub fn post_head(path: &str, token: &str, length: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: clawshim\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: {length}\r\n\r\n"
    )
}
