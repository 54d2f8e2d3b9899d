//! The one connection to Redis and whether it is usable: every operation of every kind of
//! shared state goes through [`Backend::invoke`], which bounds it by the operation timeout,
//! counts failures, and stops using Redis after one (requests then decide locally without
//! waiting at all) until the probe reconnects.
//!
//! One multiplexed connection per instance: redis-rs pipelines every caller's commands over
//! one socket, so concurrency needs no pool and the connection count is fixed (one per
//! instance, plus the probe's while Redis is away).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, FromRedisValue, RedisError, ScriptInvocation};

use crate::ops::metrics;

/// Time between reconnect attempts while Redis is unreachable.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// Limit for opening the connection (TCP, TLS, AUTH), off the request path.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why an operation got no answer from Redis; the caller decides locally.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// Not connected (not yet, or since a failure): not tried.
    #[error("not connected")]
    NotConnected,
    /// No answer within the operation timeout.
    #[error("no answer within the timeout")]
    Timeout,
    /// Redis answered with an error, or the connection failed.
    #[error("{0}")]
    Failed(String),
}

/// How the backend is doing, for `/readyz`, metrics and `clawshim doctor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendStatus {
    /// Connected: shared state is in use.
    Up,
    /// Configured but unreachable (or not connected yet): local state is in use.
    Down,
}

/// The Redis client, its connection and its health.
pub struct Backend {
    client: redis::Client,
    conn: Mutex<Option<MultiplexedConnection>>,
    timeout: Duration,
    /// `state.key_prefix`, named in the log lines: which fleet's state it is.
    key_prefix: String,
    /// A connection is in place and the last operation on it worked.
    up: AtomicBool,
    /// A probe task is trying to (re)connect.
    probing: AtomicBool,
    /// The outage was logged (once per outage; cleared on recovery).
    announced_down: AtomicBool,
}

impl std::fmt::Debug for Backend {
    // The client holds the URL and its password: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("timeout", &self.timeout)
            .field("up", &self.up.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Backend {
    /// A backend for `client`, not connected yet (the first use starts the probe).
    pub fn new(client: redis::Client, timeout: Duration, key_prefix: &str) -> Backend {
        Backend {
            client,
            conn: Mutex::new(None),
            timeout,
            key_prefix: key_prefix.to_owned(),
            up: AtomicBool::new(false),
            probing: AtomicBool::new(false),
            announced_down: AtomicBool::new(false),
        }
    }

    /// The bound on one operation.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Up or down; starts connecting when nothing is (needs a Tokio runtime, as every
    /// caller has).
    pub fn status(self: &Arc<Self>) -> BackendStatus {
        if self.up.load(Ordering::Acquire) {
            BackendStatus::Up
        } else {
            self.start_probe();
            BackendStatus::Down
        }
    }

    /// Run one script invocation: at most [`Backend::timeout`], or not at all while down.
    pub async fn invoke<T: FromRedisValue>(
        self: &Arc<Self>,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, Unavailable> {
        let mut conn = self.connection()?;
        let result = tokio::time::timeout(self.timeout, invocation.invoke_async(&mut conn)).await;
        self.settle(result)
    }

    /// Run one command, with the same bound.
    pub async fn query<T: FromRedisValue>(
        self: &Arc<Self>,
        cmd: &redis::Cmd,
    ) -> Result<T, Unavailable> {
        let mut conn = self.connection()?;
        let result = tokio::time::timeout(self.timeout, cmd.query_async(&mut conn)).await;
        self.settle(result)
    }

    fn connection(self: &Arc<Self>) -> Result<MultiplexedConnection, Unavailable> {
        if self.up.load(Ordering::Acquire) {
            if let Some(conn) = self.conn.lock().unwrap_or_else(|p| p.into_inner()).clone() {
                return Ok(conn);
            }
        }
        self.start_probe();
        Err(Unavailable::NotConnected)
    }

    fn settle<T>(
        self: &Arc<Self>,
        result: Result<Result<T, RedisError>, tokio::time::error::Elapsed>,
    ) -> Result<T, Unavailable> {
        let err = match result {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => {
                let lost = e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.is_timeout();
                let err = Unavailable::Failed(describe(&e));
                if !lost {
                    // Redis answered (a script error, OOM, ...): the connection is fine,
                    // this operation falls back.
                    metrics::get().state_backend_errors.inc();
                    tracing::debug!(error = %err, "shared state operation failed");
                    return Err(err);
                }
                err
            }
            Err(_) => Unavailable::Timeout,
        };
        metrics::get().state_backend_errors.inc();
        self.mark_down(&err);
        Err(err)
    }

    fn mark_down(self: &Arc<Self>, why: &Unavailable) {
        if self.up.swap(false, Ordering::AcqRel) {
            *self.conn.lock().unwrap_or_else(|p| p.into_inner()) = None;
            metrics::get().state_backend_up.set(0);
            self.announce_down(why);
        }
        self.start_probe();
    }

    fn announce_down(&self, why: &Unavailable) {
        if !self.announced_down.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                error = %why,
                timeout_ms = self.timeout.as_millis() as u64,
                key_prefix = %self.key_prefix,
                "shared state (Redis) unreachable: rate limits, run slots, failed-auth counts \
                 and Idempotency-Key readers are this instance's own, and token budgets are \
                 not checked, until it is back"
            );
        }
    }

    fn mark_up(&self, conn: MultiplexedConnection) {
        *self.conn.lock().unwrap_or_else(|p| p.into_inner()) = Some(conn);
        self.up.store(true, Ordering::Release);
        metrics::get().state_backend_up.set(1);
        if self.announced_down.swap(false, Ordering::AcqRel) {
            tracing::warn!(
                key_prefix = %self.key_prefix,
                "shared state (Redis) reachable again: limits are shared again"
            );
        } else {
            tracing::info!(key_prefix = %self.key_prefix, "shared state (Redis) connected");
        }
    }

    /// Start the reconnect task unless one runs (or no runtime is there to run it).
    fn start_probe(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        runtime.spawn(async move {
            loop {
                match this.connect().await {
                    Ok(conn) => {
                        this.mark_up(conn);
                        break;
                    }
                    Err(e) => {
                        metrics::get().state_backend_errors.inc();
                        this.announce_down(&e);
                    }
                }
                tokio::time::sleep(PROBE_INTERVAL).await;
            }
            this.probing.store(false, Ordering::Release);
        });
    }

    /// A new connection that answered `PING` within the operation timeout (a Redis that is
    /// there but slow stays "down": requests would only wait on it).
    pub async fn connect(&self) -> Result<MultiplexedConnection, Unavailable> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_response_timeout(CONNECT_TIMEOUT);
        let mut conn = tokio::time::timeout(
            CONNECT_TIMEOUT,
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await
        .map_err(|_| Unavailable::Timeout)?
        .map_err(|e| Unavailable::Failed(describe(&e)))?;
        tokio::time::timeout(
            self.timeout,
            redis::cmd("PING").query_async::<String>(&mut conn),
        )
        .await
        .map_err(|_| Unavailable::Timeout)?
        .map_err(|e| Unavailable::Failed(describe(&e)))?;
        Ok(conn)
    }
}

/// A Redis error in words that carry no part of the URL (redis-rs errors name the kind and
/// the server's message, never the connection's address or password).
fn describe(e: &RedisError) -> String {
    match e.detail() {
        Some(detail) => format!("{:?}: {detail}", e.kind()),
        None => format!("{:?}: {e}", e.kind()),
    }
}
