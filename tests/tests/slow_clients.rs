//! End-to-end: slow and idle clients cannot hold what the others need (issue 18, holes 1 and
//! 2). A kept-alive connection that sends nothing is closed after the idle timeout; every
//! request header on a connection, leading blank lines or not, has a deadline and a size;
//! one address gets a share of the connections; a body that arrives too slowly gets 408
//! and frees its slot; one key or one address gets a share of the body slots.
//!
//! Attackers connect from 127.0.0.1 (and 127.0.0.3), victims from 127.0.0.2. Deadlines are
//! configured short (1 s) and every wait is bounded by `WAIT`: nothing asserts how long
//! anything took.

use std::time::Duration;

use clawshim_tests::raw::{
    closed_by_server, connect_from, healthz, post_head, read_response, shim_addr,
};
use clawshim_tests::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ATTACKER: &str = "127.0.0.1";
const VICTIM: &str = "127.0.0.2";

/// Write `bytes` one at a time, 100 ms apart, until done or the connection fails; `Err`
/// when the server closed it first.
async fn drip(tcp: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    for b in bytes {
        tcp.write_all(&[*b]).await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// The server closes `tcp` before `bytes` (at 10 bytes a second) are all sent.
async fn cut_while_dripping(tcp: &mut TcpStream, bytes: &[u8]) {
    assert!(
        drip(tcp, bytes).await.is_err() || closed_by_server(tcp).await.is_ok(),
        "a header dripped for {} s was still not cut",
        bytes.len() / 10
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start_with(&gw.url(), |s| s.idle_timeout_secs = Some(1), true).await;
    let mut tcp = connect_from(ATTACKER, shim_addr(&shim)).await.unwrap();
    assert_eq!(healthz(&mut tcp).await, Ok(200));
    // Kept alive, then nothing: closed, where it used to stay open for good.
    closed_by_server(&mut tcp).await.unwrap();
}

#[tokio::test]
async fn every_request_header_has_a_deadline_leading_blank_lines_or_not() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start_with(&gw.url(), |s| s.header_timeout_secs = Some(1), true).await;
    let addr = shim_addr(&shim);
    // 200 bytes at 10 a second: 20 s, far past the 1 s deadline and inside pingora's 60 s
    // per-read timeout, so only a deadline for the whole header can cut it.
    let endless = [b'x'; 200];
    let start = b"GET /healthz HTTP/1.1\r\nx-drip: ";

    // A later request on a kept-alive connection.
    let mut later = connect_from(ATTACKER, addr).await.unwrap();
    assert_eq!(healthz(&mut later).await, Ok(200));
    later.write_all(start).await.unwrap();
    cut_while_dripping(&mut later, &endless).await;

    // A first request after blank lines (pingora skips them; they used to end the deadline).
    let mut blank_first = connect_from(ATTACKER, addr).await.unwrap();
    blank_first.write_all(b"\r\n\r\n").await.unwrap();
    blank_first.write_all(start).await.unwrap();
    cut_while_dripping(&mut blank_first, &endless).await;

    // A later request that is only blank lines, one at a time.
    let mut blank_later = connect_from(ATTACKER, addr).await.unwrap();
    assert_eq!(healthz(&mut blank_later).await, Ok(200));
    cut_while_dripping(&mut blank_later, &b"\r\n".repeat(100)).await;

    // A client that sends its headers promptly is served, again and again.
    let mut good = connect_from(VICTIM, addr).await.unwrap();
    for _ in 0..3 {
        assert_eq!(healthz(&mut good).await, Ok(200));
    }
}

#[tokio::test]
async fn a_header_in_flight_is_bounded_in_size() {
    let gw = mock(Protocol::V4).await;
    // A long deadline: only the size can end this one.
    let shim = Shim::start_with(&gw.url(), |s| s.header_timeout_secs = Some(600), true).await;
    let mut tcp = connect_from(ATTACKER, shim_addr(&shim)).await.unwrap();
    assert_eq!(healthz(&mut tcp).await, Ok(200));
    // A second header of 900 KB that never ends (pingora alone buffers up to 1 MiB).
    let head = format!("GET /healthz HTTP/1.1\r\nx-big: {}", "a".repeat(900 << 10));
    let _ = tcp.write_all(head.as_bytes()).await;
    closed_by_server(&mut tcp).await.unwrap();
    // Within the limit, a big header is served.
    let mut good = connect_from(VICTIM, shim_addr(&shim)).await.unwrap();
    let head = format!(
        "GET /healthz HTTP/1.1\r\nhost: clawshim\r\nx-big: {}\r\n\r\n",
        "a".repeat(32 << 10)
    );
    good.write_all(head.as_bytes()).await.unwrap();
    assert_eq!(read_response(&mut good).await.map(|r| r.0), Ok(200));
}

#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    const CAP: usize = 8;
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start_with(&gw.url(), |s| s.max_connections = Some(CAP), true).await;
    let addr = shim_addr(&shim);
    // The attacker opens kept-alive connections (each served once) until one is refused.
    let mut held = Vec::new();
    loop {
        assert!(held.len() < CAP, "one address took all {CAP} connections");
        let mut tcp = connect_from(ATTACKER, addr).await.unwrap();
        if healthz(&mut tcp).await != Ok(200) {
            break;
        }
        held.push(tcp);
    }
    // The victim, from another address, is served while the attacker holds its share.
    let mut victim = connect_from(VICTIM, addr).await.unwrap();
    assert_eq!(healthz(&mut victim).await, Ok(200));
    for tcp in &mut held {
        assert_eq!(healthz(tcp).await, Ok(200));
    }
}

/// The body of a chat request of exactly `length` bytes (padded with spaces).
fn chat_body(length: usize) -> Vec<u8> {
    let mut body = serde_json::to_vec(&user_msg("openclaw/main", "hi")).unwrap();
    assert!(body.len() <= length);
    body.resize(length, b' ');
    body
}

/// A chat request whose header and first body byte are sent, the rest never.
async fn stalled_body(source: &str, shim: &Shim, token: &str) -> TcpStream {
    let mut tcp = connect_from(source, shim_addr(shim)).await.unwrap();
    let head = post_head("/v1/chat/completions", token, 1000);
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(b"{").await.unwrap();
    tcp
}

/// A whole chat request from `source` with `token`: its status and body.
async fn chat_from(source: &str, shim: &Shim, token: &str) -> (u16, String) {
    let mut tcp = connect_from(source, shim_addr(shim)).await.unwrap();
    let body = chat_body(200);
    let head = post_head("/v1/chat/completions", token, body.len());
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&body).await.unwrap();
    read_response(&mut tcp).await.expect("an answer")
}

fn error_code(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    for k in ["message", "type", "param", "code"] {
        assert!(v["error"].get(k).is_some(), "error.{k} missing in {v}");
    }
    v["error"]["code"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_slow_body_gets_408_and_gives_its_slot_back() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start_with(
        &gw.url(),
        |s| {
            s.max_concurrent_bodies = Some(1);
            s.body_timeout_secs = Some(1);
        },
        true,
    )
    .await;
    // One byte every 100 ms of a 1000-byte body: 100 s, where the deadline is 1 s.
    let mut slow = connect_from(ATTACKER, shim_addr(&shim)).await.unwrap();
    let head = post_head("/v1/chat/completions", TOKEN, 1000);
    slow.write_all(head.as_bytes()).await.unwrap();
    let (mut read, mut write) = slow.split();
    let answer = tokio::select! {
        answer = async {
            let mut answer = Vec::new();
            let _ = tokio::time::timeout(WAIT, read.read_to_end(&mut answer)).await;
            answer
        } => answer,
        _ = async {
            for _ in 0..1000 {
                if write.write_all(b" ").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            std::future::pending::<()>().await
        } => unreachable!(),
    };
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    let body = &text[text.find("\r\n\r\n").expect("a whole response") + 4..];
    assert_eq!(error_code(body), "request_timeout");
    // The one slot is free again: another client is served.
    let (status, body) = chat_from(VICTIM, &shim, TOKEN).await;
    assert_eq!(status, 200, "{body}");
}

/// Two stalled bodies from `first` and `second` (each with its token): one holds a body slot,
/// the other is over its share and gets 429; then a victim with `victim_token` is served from
/// 127.0.0.2 while the attacker still holds its slot. On a server without shares both
/// stalled bodies hold a slot and neither answers.
async fn attacker_holds_its_share_only(
    shim: &Shim,
    first: (&str, &str),
    second: (&str, &str),
    victim_token: &str,
) {
    let mut a = stalled_body(first.0, shim, first.1).await;
    let mut b = stalled_body(second.0, shim, second.1).await;
    let (refused, first_refused) = tokio::select! {
        r = read_response(&mut a) => (r, true),
        r = read_response(&mut b) => (r, false),
    };
    let mut holder = if first_refused { b } else { a };
    let (status, body) = refused.expect("one stalled body refused");
    assert_eq!(
        (status, error_code(&body).as_str()),
        (429, "rate_limit_exceeded")
    );
    let (status, body) = chat_from(VICTIM, shim, victim_token).await;
    assert_eq!(status, 200, "{body}");
    // The holder was still waiting for its body all along.
    holder.write_all(b"}").await.unwrap();
}

/// Two body slots, one per client (the default share: half), and stalled bodies held for
/// good: no deadline frees a slot during the test.
fn hold_bodies(s: &mut clawshim_proxy::config::Settings) {
    s.max_concurrent_bodies = Some(2);
    s.body_timeout_secs = Some(600);
    s.body_min_bytes_per_sec = Some(0);
}

#[tokio::test]
async fn one_address_cannot_hold_every_body_slot() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start_with(&gw.url(), hold_bodies, true).await;
    attacker_holds_its_share_only(&shim, (ATTACKER, TOKEN), (ATTACKER, TOKEN), TOKEN).await;
}

#[tokio::test]
async fn one_key_cannot_hold_every_body_slot() {
    const ATTACKER_KEY: &str = "csk-attacker";
    const VICTIM_KEY: &str = "csk-victim";
    let gw = mock(Protocol::V4).await;
    let path = std::env::temp_dir().join(format!("clawshim-slow-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(
        &path,
        format!(
            "[[keys]]\nname = \"attacker\"\nsha256 = \"{}\"\n\
             [[keys]]\nname = \"victim\"\nsha256 = \"{}\"\n",
            sha256_hex(ATTACKER_KEY),
            sha256_hex(VICTIM_KEY)
        ),
    )
    .unwrap();
    let shim = Shim::start_with(
        &gw.url(),
        |s| {
            s.config = Some(path);
            hold_bodies(s);
        },
        true,
    )
    .await;
    // One key from two addresses: each address is within its share, the key is not.
    attacker_holds_its_share_only(
        &shim,
        (ATTACKER, ATTACKER_KEY),
        ("127.0.0.3", ATTACKER_KEY),
        VICTIM_KEY,
    )
    .await;
}
