//! Connection-level limits of the client listeners, which pingora 0.9 leaves to the
//! application: a cap on open connections, a deadline for the first request header, and the
//! HTTP/2 stream limits.
//!
//! pingora has no connection cap (its listener accepts with a fixed backlog) and its header
//! read timeout is per read (`read_request` re-arms it for every read, so a client sending one
//! byte a second is never cut). [`Guarded`] wraps the HTTP app as the service's
//! [`ServerApp`]: every accepted connection (after the TLS handshake, which pingora bounds at
//! 60 s) takes a slot or is closed at once, and its stream is wrapped in [`HeaderDeadline`],
//! which fails reads once the deadline passes before the end of the first request header
//! (`\r\n\r\n`). What it does not bound: later requests on a kept-alive HTTP/1 connection
//! (pingora's per-read and keep-alive timeouts apply) and HTTP/2 HEADERS frames after the
//! preface (the h2 limits and the connection cap apply).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::http::v2::server::H2Options;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::tls::{SslDigest, TlsRef};
use pingora::protocols::{GetProxyDigest, GetSocketDigest, GetTimingDigest};
use pingora::protocols::{Peek, Shutdown, Ssl, Stream, UniqueID, UniqueIDType, ALPN};
use pingora::protocols::{SocketDigest, TimingDigest};
use pingora::server::ShutdownWatch;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// The connection-level limits (`[limits]` in the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open client connections at once.
    pub max_connections: usize,
    /// Time from a connection's start to the end of its first request header.
    pub header_timeout: Duration,
    /// HTTP/2 streams open at once per connection.
    pub h2_max_concurrent_streams: u32,
    /// HTTP/2 streams reset by the client before they were accepted, per connection.
    pub h2_max_pending_accept_reset_streams: usize,
    /// Largest HTTP/2 header list, bytes.
    pub h2_max_header_list_bytes: u32,
}

impl ConnectionLimits {
    /// The HTTP/2 settings clawshim announces and enforces.
    pub fn h2_options(&self) -> H2Options {
        let mut options = H2Options::default();
        options
            .max_concurrent_streams(self.h2_max_concurrent_streams)
            .max_pending_accept_reset_streams(self.h2_max_pending_accept_reset_streams)
            .max_header_list_size(self.h2_max_header_list_bytes);
        options
    }
}

/// A [`ServerApp`] that applies the connection cap and the header deadline in front of
/// `inner`.
pub struct Guarded<A> {
    inner: Arc<A>,
    limits: ConnectionLimits,
    open: AtomicUsize,
}

impl<A> Guarded<A> {
    /// `inner` behind `limits`.
    pub fn new(inner: A, limits: ConnectionLimits) -> Self {
        Guarded {
            inner: Arc::new(inner),
            limits,
            open: AtomicUsize::new(0),
        }
    }

    /// The wrapped app (to configure it before serving).
    pub fn inner_mut(&mut self) -> Option<&mut A> {
        Arc::get_mut(&mut self.inner)
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

/// One taken connection slot, given back on drop.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<A> Guarded<A> {
    fn take_slot(&self) -> Option<Slot<'_>> {
        let max = self.limits.max_connections;
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(&self.open))
    }
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for Guarded<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let Some(_slot) = self.take_slot() else {
            let peer = stream
                .get_socket_digest()
                .and_then(|d| d.peer_addr().cloned());
            tracing::warn!(
                max_connections = self.limits.max_connections,
                peer = ?peer,
                "connection refused: too many open connections"
            );
            return None;
        };
        // pingora hands a kept-alive HTTP/1 connection back here for its next request; it is
        // served within the same slot, and the deadline only covers the first header.
        let mut stream: Stream = Box::new(HeaderDeadline::new(stream, self.limits.header_timeout));
        loop {
            stream = self.inner.process_new(stream, shutdown).await?;
        }
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await
    }
}

/// A stream whose reads fail with `TimedOut` once `deadline` passes before the end of the
/// first request header (`\r\n\r\n`) has been read. Writes are untouched.
#[derive(Debug)]
pub struct HeaderDeadline {
    inner: Stream,
    /// `None` once the header is complete.
    deadline: Option<Pin<Box<Sleep>>>,
    /// The last bytes read, to find `\r\n\r\n` across reads.
    tail: [u8; 3],
    tail_len: usize,
}

impl HeaderDeadline {
    /// Wrap `inner`; the deadline starts now.
    pub fn new(inner: Stream, timeout: Duration) -> Self {
        HeaderDeadline {
            inner,
            deadline: Some(Box::pin(tokio::time::sleep(timeout))),
            tail: [0; 3],
            tail_len: 0,
        }
    }

    /// Note bytes read; disarm the deadline when they complete the header.
    fn saw(&mut self, data: &[u8]) {
        let mut window = Vec::with_capacity(self.tail_len + data.len());
        window.extend_from_slice(&self.tail[..self.tail_len]);
        window.extend_from_slice(data);
        if window.windows(4).any(|w| w == b"\r\n\r\n") {
            self.deadline = None;
            return;
        }
        let keep = window.len().min(3);
        self.tail[..keep].copy_from_slice(&window[window.len() - keep..]);
        self.tail_len = keep;
    }
}

impl AsyncRead for HeaderDeadline {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let Some(deadline) = this.deadline.as_mut() else {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        };
        if deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "request header not complete within the header timeout",
            )));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let fresh = buf.filled()[before..].to_vec();
            this.saw(&fresh);
        }
        polled
    }
}

impl AsyncWrite for HeaderDeadline {
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
impl Shutdown for HeaderDeadline {
    async fn shutdown(&mut self) {
        self.inner.shutdown().await
    }
}

impl UniqueID for HeaderDeadline {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for HeaderDeadline {
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

impl GetTimingDigest for HeaderDeadline {
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

impl GetProxyDigest for HeaderDeadline {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }

    fn set_proxy_digest(&mut self, digest: ProxyDigest) {
        self.inner.set_proxy_digest(digest)
    }
}

impl GetSocketDigest for HeaderDeadline {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }

    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.inner.set_socket_digest(digest)
    }
}

#[async_trait]
impl Peek for HeaderDeadline {
    async fn try_peek(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: max,
            header_timeout: Duration::from_secs(10),
            h2_max_concurrent_streams: 100,
            h2_max_pending_accept_reset_streams: 20,
            h2_max_header_list_bytes: 65536,
        }
    }

    #[test]
    fn slots_are_capped_and_given_back() {
        let g = Guarded::new((), limits(2));
        let a = g.take_slot().unwrap();
        let _b = g.take_slot().unwrap();
        assert!(g.take_slot().is_none());
        assert_eq!(g.open_connections(), 2);
        drop(a);
        assert!(g.take_slot().is_some());
    }
}
