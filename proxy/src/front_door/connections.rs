//! Connection-level limits of the client listeners, which pingora 0.9 leaves to the
//! application: a cap on open connections in all and per client address, the limits on a
//! request header in flight, the idle timeout between requests, and the HTTP/2 settings.
//!
//! pingora has no connection cap (its listener accepts with a fixed backlog), bounds a
//! request header only per read, and keeps an HTTP/1.1 connection open between requests with
//! no timeout (`respect_keepalive` makes it infinite). [`Guarded`] wraps the HTTP app as the
//! service's [`ServerApp`]: every accepted connection (after the TLS handshake, which pingora
//! bounds at 60 s) takes a slot, in all and for its address (an IPv4 address or an IPv6 /64,
//! as the failed-auth limiter counts; a trusted proxy's connections are not counted per
//! address, they carry many clients), or is closed at once; its stream is wrapped in a
//! [`HeaderGuard`] (a deadline and a size for every request header). After each request
//! [`request_done`] sets pingora's keep-alive timeout to the idle timeout and tells the guard
//! a new header comes next. HTTP/2 connections with no stream open are closed after the same
//! idle timeout (pingora's `h2_idle_timeout`), a connection that only sent its preface
//! included.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::apps::{HttpServerOptions, ServerApp};
use pingora::protocols::http::v2::server::H2Options;
use pingora::protocols::http::ServerSession;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;

use crate::front_door::client_ip::TrustedProxies;
use crate::front_door::failed_auth::Bucket;
use crate::front_door::header_guard::{HeaderGuard, HeaderLimits};

/// The connection-level limits (`[limits]` in the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open client connections at once.
    pub max_connections: usize,
    /// Open client connections at once from one address (IPv4) or /64 (IPv6).
    pub max_connections_per_address: usize,
    /// A request header's deadline and size.
    pub header: HeaderLimits,
    /// How long a connection may wait with no request in flight: between requests on an
    /// HTTP/1.1 connection, or with no stream open on an HTTP/2 one.
    pub idle_timeout: Duration,
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

    /// pingora's server options: the HTTP/2 idle timeout.
    pub fn server_options(&self) -> HttpServerOptions {
        let mut options = HttpServerOptions::default();
        options.h2_idle_timeout = Some(self.idle_timeout);
        options
    }
}

/// A request on `session` is over: an HTTP/1 connection kept alive waits at most the idle
/// timeout for its next request (pingora's keep-alive timeout, carried to the next request
/// on the connection), and that request's header gets its own deadline and size. Called
/// from `logging`, which pingora calls once per request, before it reuses the connection.
pub fn request_done(session: &mut ServerSession, idle_timeout: Duration) {
    // `None`: the connection closes after this request (client's choice, an error, an
    // upgrade); leave it so.
    if session.get_keepalive().is_some() {
        session.set_keepalive(Some(idle_timeout.as_secs().max(1)));
    }
    if let Some(guard) = session.stream().and_then(HeaderGuard::of) {
        guard.expect_next_request();
    }
}

/// A [`ServerApp`] that applies the connection caps and the header limits in front of
/// `inner`.
pub struct Guarded<A> {
    inner: Arc<A>,
    limits: ConnectionLimits,
    trusted_proxies: TrustedProxies,
    open: AtomicUsize,
    per_address: Mutex<HashMap<Bucket, usize>>,
    refusals: RefusalLog,
}

impl<A> Guarded<A> {
    /// `inner` behind `limits`; connections from `trusted_proxies` are not capped per
    /// address.
    pub fn new(inner: A, limits: ConnectionLimits, trusted_proxies: TrustedProxies) -> Self {
        Guarded {
            inner: Arc::new(inner),
            limits,
            trusted_proxies,
            open: AtomicUsize::new(0),
            per_address: Mutex::new(HashMap::new()),
            refusals: RefusalLog::default(),
        }
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// `max_connections` are open.
    Full,
    /// `max_connections_per_address` are open from this address.
    AddressFull,
}

/// One taken connection slot, given back on drop.
struct Slot<'a, A> {
    guarded: &'a Guarded<A>,
    bucket: Option<Bucket>,
}

impl<A> Drop for Slot<'_, A> {
    fn drop(&mut self) {
        self.guarded.open.fetch_sub(1, Ordering::AcqRel);
        if let Some(bucket) = self.bucket {
            self.guarded.release_address(bucket);
        }
    }
}

impl<A> Guarded<A> {
    /// A slot for a connection from `peer` (`None`: not an IP socket, or a trusted proxy).
    fn take_slot(&self, peer: Option<IpAddr>) -> Result<Slot<'_, A>, Refused> {
        let bucket = peer
            .filter(|ip| !self.trusted_proxies.contains(*ip))
            .map(Bucket::of);
        if let Some(bucket) = bucket {
            let mut table = self.per_address.lock().unwrap_or_else(|p| p.into_inner());
            let count = table.entry(bucket).or_insert(0);
            if *count >= self.limits.max_connections_per_address {
                return Err(Refused::AddressFull);
            }
            *count += 1;
        }
        let max = self.limits.max_connections;
        let taken = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            });
        if taken.is_err() {
            if let Some(bucket) = bucket {
                self.release_address(bucket);
            }
            return Err(Refused::Full);
        }
        Ok(Slot {
            guarded: self,
            bucket,
        })
    }

    fn release_address(&self, bucket: Bucket) {
        let mut table = self.per_address.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = table.get_mut(&bucket) {
            *count -= 1;
            if *count == 0 {
                table.remove(&bucket);
            }
        }
    }
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for Guarded<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let peer = stream
            .get_socket_digest()
            .and_then(|d| d.peer_addr().and_then(|a| a.as_inet()).map(|a| a.ip()));
        let _slot = match self.take_slot(peer) {
            Ok(slot) => slot,
            Err(refused) => {
                self.refusals.note(refused, peer, &self.limits);
                return None;
            }
        };
        // pingora's HTTP app serves every request of the connection (HTTP/1 keep-alive or
        // HTTP/2 streams) before it returns, all within this slot.
        let mut stream: Stream = Box::new(HeaderGuard::new(stream, self.limits.header));
        loop {
            stream = self.inner.process_new(stream, shutdown).await?;
        }
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await
    }
}

/// Refused connections in the log: the first at once, then at most one line a second with
/// the count since, so a flood cannot flood the log too.
#[derive(Debug, Default)]
struct RefusalLog(Mutex<Option<(Instant, u64)>>);

impl RefusalLog {
    const EVERY: Duration = Duration::from_secs(1);

    fn note(&self, refused: Refused, peer: Option<IpAddr>, limits: &ConnectionLimits) {
        let now = Instant::now();
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let refused_since = match &mut *last {
            Some((at, count)) if now.duration_since(*at) < Self::EVERY => {
                *count += 1;
                return;
            }
            Some((_, count)) => *count,
            None => 0,
        };
        *last = Some((now, 0));
        drop(last);
        match refused {
            Refused::Full => tracing::warn!(
                max_connections = limits.max_connections,
                peer = ?peer,
                refused_since,
                "connection refused: too many open connections"
            ),
            Refused::AddressFull => tracing::warn!(
                max_connections_per_address = limits.max_connections_per_address,
                peer = ?peer,
                refused_since,
                "connection refused: too many open connections from this address"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize, per_address: usize) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: max,
            max_connections_per_address: per_address,
            header: HeaderLimits {
                timeout: Duration::from_secs(10),
                max_bytes: 65536,
            },
            idle_timeout: Duration::from_secs(60),
            h2_max_concurrent_streams: 100,
            h2_max_pending_accept_reset_streams: 20,
            h2_max_header_list_bytes: 65536,
        }
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn slots_are_capped_and_given_back() {
        let g = Guarded::new((), limits(2, 2), TrustedProxies::default());
        let a = g.take_slot(ip("10.0.0.1")).unwrap();
        let _b = g.take_slot(ip("10.0.0.2")).unwrap();
        assert_eq!(g.take_slot(ip("10.0.0.3")).err(), Some(Refused::Full));
        drop(a);
        assert!(g.take_slot(ip("10.0.0.3")).is_ok());
    }

    #[test]
    fn one_address_or_one_v6_64_gets_its_share_only() {
        let g = Guarded::new((), limits(10, 2), TrustedProxies::default());
        let a = g.take_slot(ip("10.0.0.1")).unwrap();
        let _b = g.take_slot(ip("::ffff:10.0.0.1")).unwrap();
        assert_eq!(
            g.take_slot(ip("10.0.0.1")).err(),
            Some(Refused::AddressFull)
        );
        assert!(g.take_slot(ip("10.0.0.2")).is_ok());
        let _c = g.take_slot(ip("2001:db8::1")).unwrap();
        let _d = g.take_slot(ip("2001:db8::2")).unwrap();
        assert_eq!(
            g.take_slot(ip("2001:db8::3")).err(),
            Some(Refused::AddressFull)
        );
        assert!(g.take_slot(ip("2001:db8:0:1::1")).is_ok());
        drop(a);
        assert!(g.take_slot(ip("10.0.0.1")).is_ok());
        // A refusal for the whole cap gives the address's count back.
        let g = Guarded::new((), limits(1, 1), TrustedProxies::default());
        let _only = g.take_slot(ip("10.0.0.9")).unwrap();
        assert_eq!(g.take_slot(ip("10.0.0.1")).err(), Some(Refused::Full));
        assert!(g
            .per_address
            .lock()
            .unwrap()
            .get(&Bucket::of("10.0.0.1".parse().unwrap()))
            .is_none());
    }

    #[test]
    fn a_trusted_proxy_is_not_capped_per_address() {
        let trusted = TrustedProxies::parse(&["127.0.0.1/32"]).unwrap();
        let g = Guarded::new((), limits(10, 1), trusted);
        let _a = g.take_slot(ip("127.0.0.1")).unwrap();
        let _b = g.take_slot(ip("127.0.0.1")).unwrap();
        let _c = g.take_slot(ip("127.0.0.2")).unwrap();
        assert_eq!(
            g.take_slot(ip("127.0.0.2")).err(),
            Some(Refused::AddressFull)
        );
    }
}
