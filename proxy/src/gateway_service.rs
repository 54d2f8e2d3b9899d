//! The gateway connection as a pingora background service: it runs on its own runtime, and
//! the HTTP service talks to it only through the [`GatewayClient`] channels.

use std::sync::Mutex;

use async_trait::async_trait;
use clawshim_core::gateway::conn::Connection;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

/// Owns the connection task until the service starts it.
pub struct GatewayService {
    conn: Mutex<Option<Connection>>,
}

impl GatewayService {
    /// Wrap a connection task.
    pub fn new(conn: Connection) -> Self {
        GatewayService {
            conn: Mutex::new(Some(conn)),
        }
    }
}

#[async_trait]
impl BackgroundService for GatewayService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(conn) = conn {
            conn.run(async move {
                let _ = shutdown.changed().await;
            })
            .await;
        }
    }
}
