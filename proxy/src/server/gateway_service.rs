//! The gateway connection as a pingora background service: it runs on its own runtime, and
//! the HTTP service talks to it only through the [`GatewayClient`] channels.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use clawshim_core::gateway::pool::Connection;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

/// How long before the end of the grace period the connection stops the runs still going
/// (at most half the period): pingora drops every connection when the period ends, and their
/// clients must get `server_shutting_down` before that, not a cut stream.
const LAST_WORD: Duration = Duration::from_millis(500);

/// Owns the connection task until the service starts it.
pub struct GatewayService {
    conn: Mutex<Option<Connection>>,
    grace: Duration,
}

impl GatewayService {
    /// Wrap a connection task. On a graceful stop the connection stays up for `grace` (less
    /// [`LAST_WORD`]), so streams that are still running can finish (pingora keeps the HTTP
    /// side alive that long); then the runs left fail with `server_shutting_down` and are
    /// aborted on the gateway.
    pub fn new(conn: Connection, grace: Duration) -> Self {
        GatewayService {
            conn: Mutex::new(Some(conn)),
            grace,
        }
    }
}

#[async_trait]
impl BackgroundService for GatewayService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(conn) = conn {
            let grace = self.grace.saturating_sub(LAST_WORD.min(self.grace / 2));
            conn.run(async move {
                let _ = shutdown.changed().await;
                tokio::time::sleep(grace).await;
            })
            .await;
        }
    }
}
