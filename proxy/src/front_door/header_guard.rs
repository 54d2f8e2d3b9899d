//! The request header in flight on one client connection, bounded in time and in size.
//!
//! pingora 0.9 bounds a request header only per read: its read timeout (60 s) and, between
//! requests on a kept-alive HTTP/1 connection, its keep-alive timeout are re-armed for every
//! read, and it buffers up to 1 MiB of header. A client sending a byte every few seconds is
//! never cut, whichever request of the connection it is on. [`HeaderGuard`] wraps the
//! connection's stream and counts what is read while a header is in flight:
//!
//! - the first header of a connection must be complete within the header timeout of the
//!   connection's start (after the TLS handshake);
//! - every later one within the header timeout of its first byte, leading `\r\n` included
//!   (pingora skips blank lines before a request line: they start the clock all the same);
//!   the wait for that first byte is the idle timeout, pingora's keep-alive timeout, which
//!   [`crate::front_door::connections::request_done`] sets;
//! - a header in flight may not grow past the byte limit, blank lines included.
//!
//! A read past the deadline or the size fails, and pingora closes the connection. Once a
//! header is complete nothing is counted until the application says the request is done
//! ([`HeaderGuard::expect_next_request`]), so bodies, responses and upgraded WebSocket
//! tunnels are untouched. The first bytes of an HTTP/2 connection, the preface
//! `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`, end like a header; after it HTTP/2's own limits and
//! the idle timeout apply (see `connections`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::tls::{SslDigest, TlsRef};
use pingora::protocols::{GetProxyDigest, GetSocketDigest, GetTimingDigest};
use pingora::protocols::{Peek, Shutdown, Ssl, Stream, UniqueID, UniqueIDType, ALPN};
use pingora::protocols::{SocketDigest, TimingDigest};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// The limits on a request header in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderLimits {
    /// Time to send a whole header: from the connection's start for its first request,
    /// from the first byte for later ones.
    pub timeout: Duration,
    /// Largest header, bytes (leading blank lines included).
    pub max_bytes: usize,
}

/// A client stream whose reads fail once the request header in flight is over its limits.
/// Writes are untouched.
#[derive(Debug)]
pub struct HeaderGuard {
    inner: Stream,
    limits: HeaderLimits,
    phase: Phase,
    /// Set by the application when a request is over; read by the next `poll_read`.
    next_request: AtomicBool,
}

#[derive(Debug)]
enum Phase {
    /// A header is expected or in flight. `deadline` is `None` until its first byte (later
    /// requests: the idle wait is pingora's keep-alive timeout).
    Header {
        scan: HeaderScan,
        deadline: Option<Pin<Box<Sleep>>>,
    },
    /// The header is complete: body, response or an upgraded tunnel.
    Request,
}

impl HeaderGuard {
    /// Wrap a new connection's stream: its first header's deadline starts now.
    pub fn new(inner: Stream, limits: HeaderLimits) -> Self {
        HeaderGuard {
            inner,
            limits,
            phase: Phase::Header {
                scan: HeaderScan::default(),
                deadline: Some(Box::pin(tokio::time::sleep(limits.timeout))),
            },
            next_request: AtomicBool::new(false),
        }
    }

    /// The request on this connection is over: what is read next is a new header (HTTP/1
    /// keep-alive). Its deadline starts with its first byte.
    pub fn expect_next_request(&self) {
        self.next_request.store(true, Ordering::Release);
    }

    /// The guard under a pingora stream, when it is one.
    pub fn of(stream: &Stream) -> Option<&HeaderGuard> {
        let io: &dyn pingora::protocols::IO = stream.as_ref();
        io.as_any().downcast_ref::<HeaderGuard>()
    }
}

impl AsyncRead for HeaderGuard {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.next_request.swap(false, Ordering::AcqRel) {
            this.phase = Phase::Header {
                scan: HeaderScan::default(),
                deadline: None,
            };
        }
        let Phase::Header { scan, deadline } = &mut this.phase else {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        };
        if let Some(deadline) = deadline.as_mut() {
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "request header not complete within the header timeout",
                )));
            }
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        let Poll::Ready(Ok(())) = polled else {
            return polled;
        };
        let fresh = &buf.filled()[before..];
        if fresh.is_empty() {
            return polled;
        }
        if deadline.is_none() {
            *deadline = Some(Box::pin(tokio::time::sleep(this.limits.timeout)));
        }
        match scan.feed(fresh) {
            Scanned::Complete => this.phase = Phase::Request,
            Scanned::Partial if scan.bytes > this.limits.max_bytes => {
                buf.set_filled(before);
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("request header larger than {} bytes", this.limits.max_bytes),
                )));
            }
            Scanned::Partial => {}
        }
        polled
    }
}

/// Where a header stands after some bytes.
#[derive(Debug, PartialEq, Eq)]
enum Scanned {
    /// The header ended in these bytes (what follows is body or a later request).
    Complete,
    /// Not yet.
    Partial,
}

/// Finds the end of a request header the way `httparse` does: blank lines before the
/// request line are skipped; after it, the header ends at an empty line, `\n` then an
/// optional `\r` then `\n` (a CR-LF blank line or a bare-LF one). Anything the scanner calls
/// complete is a complete header or one `httparse` refuses, never one it still waits on.
#[derive(Debug, Default)]
struct HeaderScan {
    /// Bytes of this header so far, leading blank lines included.
    bytes: usize,
    /// A byte other than CR or LF was seen: the request line has started.
    started: bool,
    /// The last byte other than CR was LF: the next LF ends the header.
    line_start: bool,
}

impl HeaderScan {
    fn feed(&mut self, data: &[u8]) -> Scanned {
        for (i, &b) in data.iter().enumerate() {
            match b {
                b'\n' if self.started && self.line_start => {
                    self.bytes += i + 1;
                    return Scanned::Complete;
                }
                b'\n' => self.line_start = true,
                b'\r' => {}
                _ => {
                    self.started = true;
                    self.line_start = false;
                }
            }
        }
        self.bytes += data.len();
        Scanned::Partial
    }
}

impl AsyncWrite for HeaderGuard {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

// The rest of pingora's stream interface: delegated to the wrapped stream.

#[async_trait]
impl Shutdown for HeaderGuard {
    async fn shutdown(&mut self) {
        self.inner.shutdown().await
    }
}

impl UniqueID for HeaderGuard {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for HeaderGuard {
    fn get_ssl(&self) -> Option<&TlsRef> {
        self.inner.get_ssl()
    }

    fn get_ssl_digest(&self) -> Option<Arc<SslDigest>> {
        self.inner.get_ssl_digest()
    }

    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for HeaderGuard {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }

    fn get_read_pending_time(&self) -> Duration {
        self.inner.get_read_pending_time()
    }

    fn get_write_pending_time(&self) -> Duration {
        self.inner.get_write_pending_time()
    }
}

impl GetProxyDigest for HeaderGuard {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }

    fn set_proxy_digest(&mut self, digest: ProxyDigest) {
        self.inner.set_proxy_digest(digest)
    }
}

impl GetSocketDigest for HeaderGuard {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }

    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.inner.set_socket_digest(digest)
    }
}

#[async_trait]
impl Peek for HeaderGuard {
    async fn try_peek(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(parts: &[&[u8]]) -> (Scanned, usize) {
        let mut scan = HeaderScan::default();
        for part in parts {
            if scan.feed(part) == Scanned::Complete {
                return (Scanned::Complete, scan.bytes);
            }
        }
        (Scanned::Partial, scan.bytes)
    }

    #[test]
    fn a_header_ends_at_its_blank_line_across_reads() {
        let (s, n) = scan_all(&[b"GET / HTTP/1.1\r\nhost: a\r", b"\n\r", b"\nBODY"]);
        assert_eq!((s, n), (Scanned::Complete, 27));
        assert_eq!(
            scan_all(&[b"GET / HTTP/1.1\nhost: a\n\n"]).0,
            Scanned::Complete
        );
        assert_eq!(scan_all(&[b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"]).1, 18);
    }

    #[test]
    fn leading_blank_lines_do_not_end_a_header_but_count() {
        let (s, n) = scan_all(&[b"\r\n\r\n\r\n", b"\n\n", b"GET / HTTP/1.1\r\nhost: a\r\n"]);
        assert_eq!((s, n), (Scanned::Partial, 33));
        assert_eq!(
            scan_all(&[b"\r\n\r\nGET / HTTP/1.1\r\n\r\n"]).0,
            Scanned::Complete
        );
    }

    #[test]
    fn a_header_line_is_not_a_blank_line() {
        assert_eq!(
            scan_all(&[b"GET / HTTP/1.1\r\nx: \r\n", b"y: 1\r\n"]).0,
            Scanned::Partial
        );
    }

    fn pair(limits: HeaderLimits) -> (HeaderGuard, tokio::io::DuplexStream) {
        let (server, client) = tokio::io::duplex(1024);
        (HeaderGuard::new(Box::new(server), limits), client)
    }

    #[tokio::test(start_paused = true)]
    async fn reads_fail_past_the_deadline_of_every_header_and_past_the_size() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let limits = HeaderLimits {
            timeout: Duration::from_secs(10),
            max_bytes: 64,
        };
        let (mut guard, mut client) = pair(limits);
        let mut buf = [0u8; 256];
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        assert_eq!(guard.read(&mut buf).await.unwrap(), 18);
        // The request is in progress: no deadline.
        tokio::time::advance(Duration::from_secs(60)).await;
        client.write_all(b"body").await.unwrap();
        assert_eq!(guard.read(&mut buf).await.unwrap(), 4);
        // The next header: the clock starts with its first byte, a blank line.
        guard.expect_next_request();
        client.write_all(b"\r\n").await.unwrap();
        assert_eq!(guard.read(&mut buf).await.unwrap(), 2);
        tokio::time::advance(Duration::from_secs(11)).await;
        let err = guard.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        // Size: a header growing past the limit fails the read that crosses it.
        let (mut guard, mut client) = pair(limits);
        client.write_all(&[b'a'; 60]).await.unwrap();
        assert_eq!(guard.read(&mut buf).await.unwrap(), 60);
        client.write_all(&[b'a'; 10]).await.unwrap();
        let err = guard.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
