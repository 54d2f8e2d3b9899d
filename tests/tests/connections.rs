//! End-to-end connection-level limits: a client dripping its request header is cut at the
//! header timeout, connections beyond the cap are closed while open ones keep working, and a
//! client that never reads its response is dropped after the write timeout (its run
//! aborted). HTTP/2 stream limits are in `tls.rs` (HTTP/2 needs the HTTPS listener); idle
//! connections, later headers, header size and the per-address share in `slow_clients.rs`.

use std::time::{Duration, Instant};

use clawshim_tests::raw::{healthz, shim_addr};
use clawshim_tests::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

#[tokio::test]
async fn a_client_dripping_its_header_is_cut_at_the_header_timeout() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start_with(&gw.url(), |s| s.header_timeout_secs = Some(1), true).await;
    let mut tcp = TcpStream::connect(shim_addr(&shim)).await.unwrap();
    let (mut read, mut write) = tcp.split();
    let started = Instant::now();
    // One header byte every 100 ms: each read arrives long before pingora's per-read timeout
    // (60 s), so only a total deadline can end this. 200 bytes would take 20 s.
    let drip = async {
        write.write_all(b"GET /healthz HTTP/1.1\r\n").await?;
        for _ in 0..200 {
            write.write_all(b"x").await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok::<(), std::io::Error>(())
    };
    let closed = async {
        let mut rest = Vec::new();
        let _ = read.read_to_end(&mut rest).await;
        rest
    };
    tokio::select! {
        answer = closed => {
            let text = String::from_utf8_lossy(&answer);
            assert!(!text.contains(" 200 "), "served a dripped header: {text}");
        }
        sent = drip => panic!("the whole dripped header was accepted ({sent:?}) after {:?}", started.elapsed()),
    }
    // A normal client on the same shim is served.
    let mut tcp = TcpStream::connect(shim_addr(&shim)).await.unwrap();
    assert_eq!(healthz(&mut tcp).await, Ok(200));
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_and_open_ones_keep_working() {
    const CAP: usize = 3;
    let gw = mock(Protocol::V4).await;
    // All from one address here: its share is the whole cap (`slow_clients.rs` tests the
    // share).
    let shim = Shim::start_with(
        &gw.url(),
        |s| {
            s.max_connections = Some(CAP);
            s.max_connections_per_address = Some(CAP);
        },
        true,
    )
    .await;
    // Fill the cap with kept-alive connections that have each been served once. The start-up
    // probe's connection may hold a slot for a moment: a refused attempt is retried.
    let deadline = Instant::now() + WAIT;
    let mut open = Vec::new();
    while open.len() < CAP {
        assert!(
            Instant::now() < deadline,
            "could not open {CAP} connections"
        );
        let mut tcp = TcpStream::connect(shim_addr(&shim)).await.unwrap();
        if healthz(&mut tcp).await == Ok(200) {
            open.push(tcp);
        }
    }
    // One more is closed without an answer.
    let mut extra = TcpStream::connect(shim_addr(&shim)).await.unwrap();
    let refused = healthz(&mut extra).await;
    assert!(refused.is_err(), "a connection beyond the cap was served");
    // The open ones still work.
    for tcp in &mut open {
        assert_eq!(healthz(tcp).await, Ok(200));
    }
    // A closed one gives its slot back.
    drop(open.pop());
    poll_until("a slot given back", || async {
        let mut tcp = TcpStream::connect(shim_addr(&shim))
            .await
            .map_err(|e| e.to_string())?;
        healthz(&mut tcp).await.map(|_| ())
    })
    .await;
}

#[tokio::test]
async fn a_client_that_never_reads_is_dropped_after_the_write_timeout_and_its_run_aborted() {
    let gw = mock(Protocol::V4).await;
    // One gateway socket: the big frames below are parsed once, not once per socket (a debug
    // build spends seconds on each).
    let shim = Shim::start_with(
        &gw.url(),
        |s| {
            s.write_timeout_secs = Some(1);
            s.gateway_sockets = Some(1);
        },
        true,
    )
    .await;
    // One delta far larger than the socket buffers, then the run hangs until aborted. The
    // mock reads its keywords on the message's last line and sends the first quarter of the
    // words of `echo: <line>` as its first delta, then hangs: the big word goes first.
    let big = "y".repeat(8 << 20);
    let body = stream_msg(
        "openclaw/main",
        &format!("{big} MOCK_HANG until the client is dropped"),
    )
    .to_string();
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut tcp = socket.connect(shim_addr(&shim)).await.unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: clawshim\r\nauthorization: Bearer {TOKEN}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(body.as_bytes()).await.unwrap();
    // Never read: the shim's write blocks, times out, and the run is aborted on the gateway.
    let run_id = wait_run_id(&gw, "MOCK_HANG").await;
    wait_aborted(&gw, &run_id).await;
    // And the connection was closed: reading now gets what was already sent, then the end of
    // the connection (not a finished stream, nor a socket kept open for the next request).
    let mut got = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut got))
        .await
        .expect("the connection was closed")
        .expect("read until the end");
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "{}",
        &text[..text.len().min(200)]
    );
    assert!(!text.contains("data: [DONE]"), "the stream completed");
}
