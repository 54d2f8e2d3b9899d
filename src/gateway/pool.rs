//! The pool of gateway sockets behind a [`super::GatewayClient`].
//!
//! A gateway closes a socket on its own terms (a slow consumer, a frame it refuses, a bug),
//! and every run on that socket fails with it. With several sockets ([`GatewayConfig::sockets`],
//! two by default) a lost socket fails only its own runs: new runs go to the others while it
//! reconnects, and its orphans are aborted once it is back. Each socket is a
//! [`Link`] task with its own status; the pool publishes one combined status ([`combine`]):
//! connected while any socket is.
//!
//! [`GatewayConfig::sockets`]: super::GatewayConfig::sockets

use std::future::Future;

use futures_util::future::{join_all, select_all};
use tokio::sync::watch;

use super::link::Link;
use super::state::GatewayStatus;

/// The background task behind a [`super::GatewayClient`]: every socket of the pool.
pub struct Connection {
    links: Vec<Link>,
    link_status: Vec<watch::Receiver<GatewayStatus>>,
    status: watch::Sender<GatewayStatus>,
}

impl Connection {
    pub(crate) fn new(links: Vec<Link>, status: watch::Sender<GatewayStatus>) -> Connection {
        let link_status = links.iter().map(Link::watch_status).collect();
        Connection {
            links,
            link_status,
            status,
        }
    }

    /// Connect, serve and reconnect every socket until `shutdown` completes (then each
    /// fails and aborts its runs in flight) or every handle is gone.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let links = join_all(self.links.into_iter().map(|link| {
            let mut stop = stop_rx.clone();
            link.run(async move {
                let _ = stop.wait_for(|stop| *stop).await;
            })
        }));
        let publish = publish_combined(self.link_status, self.status);
        let work = async move { tokio::join!(links, publish) };
        tokio::pin!(work);
        tokio::select! {
            _ = &mut work => return,
            _ = shutdown => {}
        }
        let _ = stop_tx.send(true);
        work.await;
    }
}

/// Keep `status` equal to [`combine`] of the sockets' statuses until all have stopped.
async fn publish_combined(
    mut links: Vec<watch::Receiver<GatewayStatus>>,
    status: watch::Sender<GatewayStatus>,
) {
    loop {
        let now: Vec<GatewayStatus> = links
            .iter_mut()
            .map(|l| l.borrow_and_update().clone())
            .collect();
        let combined = combine(&now);
        let stopped = combined == GatewayStatus::Stopped;
        status.send_if_modified(|current| {
            let changed = *current != combined;
            if changed {
                *current = combined;
            }
            changed
        });
        if stopped {
            return;
        }
        let changes = links.iter_mut().map(|l| Box::pin(l.changed()));
        let (changed, _, _) = select_all(changes).await;
        if changed.is_err() {
            // A socket task ended without saying `Stopped` (it was dropped): the pool is over.
            status.send_replace(GatewayStatus::Stopped);
            return;
        }
    }
}

/// The pool's status from its sockets': connected while any socket is (the first one's
/// version); stopped once all are; otherwise connecting, with the first failure any socket
/// reported (so a call fails fast once the gateway is known to be down) and that socket's
/// attempt count.
pub(crate) fn combine(links: &[GatewayStatus]) -> GatewayStatus {
    if let Some(up) = links.iter().find(|s| s.is_connected()) {
        return up.clone();
    }
    let connecting = links
        .iter()
        .filter(|s| matches!(s, GatewayStatus::Connecting { .. }));
    let failed = connecting.clone().find(|s| {
        matches!(
            s,
            GatewayStatus::Connecting {
                last_failure: Some(_),
                ..
            }
        )
    });
    match failed.or_else(|| connecting.clone().next()) {
        Some(s) => s.clone(),
        None => GatewayStatus::Stopped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::error::ConnectFailure;

    fn connecting(attempt: u32, failed: bool) -> GatewayStatus {
        GatewayStatus::Connecting {
            attempt,
            last_failure: failed.then(|| ConnectFailure::Unreachable {
                url: "ws://127.0.0.1:1".into(),
                detail: "refused".into(),
            }),
        }
    }

    fn connected() -> GatewayStatus {
        GatewayStatus::Connected {
            server_version: "2026.9.6".into(),
        }
    }

    #[test]
    fn one_connected_socket_makes_the_pool_connected() {
        assert_eq!(combine(&[connecting(3, true), connected()]), connected());
        assert_eq!(combine(&[connected(), GatewayStatus::Stopped]), connected());
    }

    #[test]
    fn a_known_failure_wins_over_a_first_attempt() {
        assert_eq!(
            combine(&[connecting(0, false), connecting(2, true)]),
            connecting(2, true)
        );
        assert_eq!(
            combine(&[connecting(0, false), connecting(0, false)]),
            connecting(0, false)
        );
    }

    #[test]
    fn the_pool_stops_with_its_last_socket() {
        assert_eq!(
            combine(&[GatewayStatus::Stopped, connecting(1, true)]),
            connecting(1, true)
        );
        assert_eq!(
            combine(&[GatewayStatus::Stopped, GatewayStatus::Stopped]),
            GatewayStatus::Stopped
        );
        assert_eq!(combine(&[]), GatewayStatus::Stopped);
    }
}
