//! State shared by every clawshim in front of one gateway, kept in Redis when
//! `state.redis_url` is set: per-key request rate, per-key runs in flight, failed-auth counts
//! per client bucket, the client reading an `Idempotency-Key` run, and token usage
//! ([`crate::usage`]). Without it (or while Redis is unreachable) each instance decides from
//! its own counts, as a single instance always has.
//!
//! Every operation answers `Option`: `Some(verdict)` is the fleet-wide answer, `None` means
//! "no shared state now, decide locally". The callers (`front_door::auth`, `run::run_setup`)
//! keep their local counts up to date either way, so a fallback starts from this instance's
//! real recent traffic.
//!
//! | kind | Redis | without Redis | why |
//! | --- | --- | --- | --- |
//! | request rate | GCRA, one key per API key | the key's local token bucket | refusing every request because a cache is away would turn a Redis outage into a full outage; the cost is up to N x the rate on N instances for the outage |
//! | runs in flight | lease set per API key | the key's local slots | same; leases of a dead instance expire within `lease_ttl` |
//! | failed auth | counter per IPv4 address / IPv6 /64 | the local table | same; each instance still blocks a guesser after `max_failed_attempts` |
//! | `Idempotency-Key` reader | lease set of one per run id | the gateway connection's own check | the gateway de-duplicates by run id, so the agent never runs twice either way; without Redis a retry on another instance joins the run instead of getting 409 |
//! | token usage and budgets | a hash per account: today's and this month's tokens | budgets are not checked (the run is allowed); tokens of runs that end meanwhile are kept by the instance and added when Redis answers again (`crate::usage`) | a budget limits spending, it is no defence: refusing every budgeted key while a cache is away would turn a Redis outage into a full outage, and the tokens are not lost, only counted late |
//!
//! The request path waits at most `state.timeout_ms` (default 25 ms) per check, one round
//! trip (`EVALSHA`) each, and not at all while Redis is known to be down: [`backend`] marks it
//! down on the first timeout or connection error (logged once per outage, metric
//! `clawshim_state_backend_up`, `clawshim_state_backend_errors_total`) and a probe reconnects
//! every second; recovery is logged once too.
//!
//! Adding a kind of shared state: a [`names::Kind`] (its key space), its
//! script(s) in [`scripts`], one method here that builds the invocation and returns
//! `Option<verdict>` through [`Backend::invoke`], and the decision of what the caller does
//! with `None`, written in the table above.

pub mod backend;
pub mod lease;
pub mod names;
pub mod scripts;

use std::sync::Arc;
use std::time::Duration;

use clawshim_core::gateway::Secret;

pub use backend::{Backend, BackendStatus, Unavailable};
pub use lease::Lease;
pub use names::{KeyNames, Kind};

/// `[state]`, as validated config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedStateSettings {
    /// `redis://` or `rediss://` URL, with its password (a [`Secret`]: never printed).
    pub redis_url: Option<Secret>,
    /// Longest a request waits on one Redis operation.
    pub timeout: Duration,
    /// Start of every key name.
    pub key_prefix: String,
    /// Life of a lease not renewed: how long a dead instance's run slot stays taken.
    pub lease_ttl: Duration,
    /// Where token usage is kept without Redis ([`crate::usage`]).
    pub usage_file: Option<std::path::PathBuf>,
}

/// A lease set was full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// The shared state of one instance: no backend without `redis_url`.
#[derive(Debug)]
pub struct SharedState {
    backend: Option<Arc<Backend>>,
    names: KeyNames,
    lease_ttl: Duration,
}

impl SharedState {
    /// Shared state per `settings`; connects on first use.
    pub fn new(settings: &SharedStateSettings) -> SharedState {
        let backend = settings.redis_url.as_ref().and_then(|url| {
            match redis::Client::open(url.expose()) {
                Ok(client) => Some(Arc::new(Backend::new(
                    client,
                    settings.timeout,
                    &settings.key_prefix,
                ))),
                Err(e) => {
                    // Validation parsed it already; never echo the URL (it has the password).
                    tracing::error!(kind = ?e.kind(), "state.redis_url does not parse; shared state is off");
                    None
                }
            }
        });
        SharedState {
            backend,
            names: KeyNames::new(&settings.key_prefix),
            lease_ttl: settings.lease_ttl,
        }
    }

    /// `None` without `redis_url`; else up or down (and starts connecting when needed).
    pub fn status(&self) -> Option<BackendStatus> {
        self.backend.as_ref().map(Backend::status)
    }

    /// The backend, for `clawshim doctor`.
    pub fn backend(&self) -> Option<&Arc<Backend>> {
        self.backend.as_ref()
    }

    /// The key names this instance uses.
    pub fn names(&self) -> &KeyNames {
        &self.names
    }

    /// Take one request of key `name`'s `per_minute`: `Some(Err(retry_after))` when over.
    pub async fn take_request(&self, name: &str, per_minute: u32) -> Option<Result<(), Duration>> {
        let backend = self.backend.as_ref()?;
        let per_minute = per_minute.max(1);
        let interval_us = 60_000_000 / u64::from(per_minute);
        let mut invocation = scripts::RATE.prepare_invoke();
        invocation
            .key(self.names.key(Kind::Rate, name.as_bytes()))
            .arg(interval_us.max(1))
            .arg(per_minute);
        let wait_us: i64 = backend.invoke(&invocation).await.ok()?;
        Some(match wait_us {
            n if n <= 0 => Ok(()),
            n => Err(Duration::from_micros(n as u64)),
        })
    }

    /// A slot of `id`'s lease set of `kind`, `capacity` slots fleet-wide, held while the
    /// [`Lease`] lives.
    pub async fn acquire(
        &self,
        kind: Kind,
        id: &[u8],
        capacity: usize,
    ) -> Option<Result<Lease, Full>> {
        let backend = self.backend.as_ref()?;
        let set = self.names.key(kind, id);
        let lease_id = uuid::Uuid::new_v4().to_string();
        let mut invocation = scripts::LEASE_ACQUIRE.prepare_invoke();
        invocation
            .key(&set)
            .arg(&lease_id)
            .arg(capacity)
            .arg(self.lease_ttl.as_millis() as u64);
        let taken: i64 = backend.invoke(&invocation).await.ok()?;
        Some(if taken == 1 {
            Ok(Lease::hold(backend.clone(), set, lease_id, self.lease_ttl))
        } else {
            Err(Full)
        })
    }

    /// Whether client bucket `bucket` has `max` failures in its window:
    /// `Some(Err(retry_after))` when blocked.
    pub async fn failed_auth_check(&self, bucket: &[u8], max: u32) -> Option<Result<(), Duration>> {
        let backend = self.backend.as_ref()?;
        let mut invocation = scripts::FAILED_AUTH_CHECK.prepare_invoke();
        invocation
            .key(self.names.key(Kind::FailedAuth, bucket))
            .arg(max);
        let left_ms: i64 = backend.invoke(&invocation).await.ok()?;
        Some(match left_ms {
            n if n <= 0 => Ok(()),
            n => Err(Duration::from_millis(n as u64)),
        })
    }

    /// Add `tokens` to `account`'s `day` (`YYYY-MM-DD`) and `month` (`YYYY-MM`): `None` when
    /// Redis did not take them.
    pub async fn usage_add(
        &self,
        account: &str,
        day: &str,
        month: &str,
        tokens: u64,
    ) -> Option<()> {
        let backend = self.backend.as_ref()?;
        let mut invocation = scripts::USAGE_ADD.prepare_invoke();
        invocation
            .key(self.names.key(Kind::Usage, account.as_bytes()))
            .arg(format!("d:{day}"))
            .arg(format!("m:{month}"))
            .arg(tokens);
        backend.invoke::<i64>(&invocation).await.ok().map(|_| ())
    }

    /// `account`'s tokens of `day` and `month`, fleet-wide.
    pub async fn usage_totals(&self, account: &str, day: &str, month: &str) -> Option<(u64, u64)> {
        let backend = self.backend.as_ref()?;
        let mut invocation = scripts::USAGE_READ.prepare_invoke();
        invocation
            .key(self.names.key(Kind::Usage, account.as_bytes()))
            .arg(format!("d:{day}"))
            .arg(format!("m:{month}"));
        backend.invoke(&invocation).await.ok()
    }

    /// Count one failure of `bucket` (a window of `window` starts with the first). Awaited
    /// before the 401 goes out, so the client's next try already sees it.
    pub async fn failed_auth_record(&self, bucket: &[u8], window: Duration) {
        let Some(backend) = self.backend.as_ref() else {
            return;
        };
        let mut invocation = scripts::FAILED_AUTH_RECORD.prepare_invoke();
        invocation
            .key(self.names.key(Kind::FailedAuth, bucket))
            .arg((window.as_millis() as u64).max(1));
        let _ = backend.invoke::<i64>(&invocation).await;
    }
}
