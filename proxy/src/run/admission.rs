//! Admission of runs to the gateway: an adaptive limit on the runs in flight, a bounded FIFO
//! queue for the rest, and the rule for which refusals are retried.
//!
//! clawdbot 2026.1.24 serializes every session-store write on one file lock (25 ms polling,
//! 10 s timeout: `config/sessions/store.js`), and an `agent` run takes it before `accepted`
//! (`gateway/server-methods/agent.js`, `updateSessionStore` before `respond(true, accepted)`).
//! When that times out the handler throws, and the socket handler answers `ok:false`
//! `UNAVAILABLE "Error: timeout acquiring session store lock: …"`
//! (`gateway/server/ws-connection/message-handler.js`), before `agentCommand` runs and before
//! the idempotency entry is stored: nothing ran. That refusal is our overload signal.
//!
//! The limit is AIMD, as in Netflix's concurrency-limits `AIMDLimit` and Vector's adaptive
//! request concurrency: it grows by about one per limit's worth of accepted runs while the
//! runs in flight use at least half of it, and shrinks by [`AdmissionSettings::backoff`] on
//! an overload refusal. Like TCP's one decrease per round trip, a refusal of a run admitted
//! before the last decrease does not shrink it again (a burst of refusals from one overload
//! is one signal). Runs last as long as their output, so their duration says nothing about
//! the gateway; on clawdbot the time to `accepted` does (it is the store-lock wait): the limit
//! does not grow while it is above [`AdmissionSettings::latency_tolerance`] times its running
//! minimum (the gradient idea of Netflix's `Gradient2Limit`). openclaw answers `accepted`
//! before any store work and has no store lock, so there the latency guard is off and only
//! refusals shrink the limit.
//!
//! After `accepted`, a clawdbot run takes the same lock again: in `agentCommand`
//! (`commands/agent.js:145` skills snapshot and `:163` overrides, before the model) and once
//! more after the model answered (`commands/agent.js:410` ->
//! `commands/agent/session-store.js:40`, usage and `updatedAt`); clawshim's own
//! `sessions.delete` of the run's session takes it too (so the run's slot is held until that
//! is answered: `run_loop`). A timeout in any of the run's writes fails the accepted run with
//! `UNAVAILABLE` (`gateway/server-methods/agent.js:284-300`), and the frame does not say
//! which write it was, so such a run may have called the model: it is never retried (a retry
//! under the same run id would only get the gateway's cached failure, `agent.js:291`). It is
//! the same overload, so it shrinks the limit; and since by then the run waited 10 s, the
//! time to `accepted` (one lock wait plus two store reads) at or above
//! [`AdmissionSettings::lock_wait_budget`] shrinks it too, before the waits after `accepted`
//! reach the timeout. [`overload_of`] is the one place that reads these signals from errors.
//! On openclaw (no store lock) neither applies.
//!
//! Signals that come 2 to 10 s late cannot stop a limit that grew meanwhile: with a hundred
//! other sessions in the store a quiet gateway accepts well within the budget, slow start
//! keeps growing the limit, and the runs then in flight, each with four lock waits still to
//! go, time out after `accepted` (15 of 64 in the store bench of `BENCHMARKS.md`). So on a
//! file-locked store the limit is also capped ahead of time. The lock is no queue, so a
//! waiter's wait is about the number of runs waiting times one hold, and the shortest time to
//! `accepted` seen (one hold plus a store read) bounds a hold from above: the cap is the runs
//! whose holds fit in [`AdmissionSettings::lock_wait_budget`] ([`AimdLimit::lock_cap`]). An
//! empty store accepts in milliseconds (a cap in the hundreds); with 1,000 other sessions an
//! accept takes a second or more on a quiet machine (a cap of 1 or 2).
//!
//! A refusal that provably ran nothing is retried with a fresh run id (so no idempotency
//! entry can match) after a jittered backoff, a bounded number of times; a run that may have
//! started never is. Clients get 429 (queue full) or 503 (waited too long) with
//! `Retry-After` only when queueing cannot help.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use clawshim_core::gateway::{GatewayClient, GatewayError};
use rand::Rng;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::ops::metrics;

/// Tuning of [`Admission`].
#[derive(Debug, Clone, PartialEq)]
pub struct AdmissionSettings {
    /// Limit at start.
    pub initial_limit: usize,
    /// Lowest limit.
    pub min_limit: usize,
    /// Highest limit.
    pub max_limit: usize,
    /// Runs waiting beyond the limit; one more gets 429.
    pub max_queued: usize,
    /// Longest wait in the queue; then 503.
    pub max_queue_wait: Duration,
    /// Factor applied to the limit on an overload refusal.
    pub backoff: f64,
    /// Time to `accepted` above this multiple of its minimum holds the limit.
    pub latency_tolerance: f64,
    /// Retries of a refusal that ran nothing.
    pub max_retries: u32,
    /// First retry delay (doubled per try, full jitter).
    pub retry_base: Duration,
    /// On a file-locked store ([`SessionStore::FileLocked`]), a time to `accepted` at or
    /// above this shrinks the limit: a fifth of clawdbot's 10 s lock timeout
    /// (`config/sessions/store.js:207`). The lock is no queue (each waiter retries
    /// `open(…, "wx")` every 25 ms), so one run's waits spread far around the typical one,
    /// and an accepted run still has four to go. The limit also stays at or below the runs
    /// whose holds fit in it ([`AimdLimit::lock_cap`]).
    pub lock_wait_budget: Duration,
}

impl Default for AdmissionSettings {
    fn default() -> Self {
        AdmissionSettings {
            initial_limit: 4,
            min_limit: 1,
            max_limit: 256,
            max_queued: 4096,
            max_queue_wait: Duration::from_secs(60),
            backoff: 0.7,
            latency_tolerance: 3.0,
            max_retries: 5,
            retry_base: Duration::from_millis(100),
            lock_wait_budget: Duration::from_secs(2),
        }
    }
}

/// The AIMD limit with its latency guard; pure, so it is tested without time or tasks.
#[derive(Debug, Clone)]
pub struct AimdLimit {
    limit: f64,
    min: f64,
    max: f64,
    backoff: f64,
    tolerance: f64,
    /// Running minimum of the time to `accepted`, seconds (drifts up slowly so a lasting
    /// change of the gateway is learnt).
    min_latency: Option<f64>,
    /// Bumped on every decrease.
    generation: u64,
    /// [`AdmissionSettings::lock_wait_budget`], seconds.
    lock_wait_budget: f64,
}

impl AimdLimit {
    /// A limit tuned by `s`.
    pub fn new(s: &AdmissionSettings) -> AimdLimit {
        let min = s.min_limit.max(1) as f64;
        let max = (s.max_limit as f64).max(min);
        AimdLimit {
            limit: (s.initial_limit as f64).clamp(min, max),
            min,
            max,
            backoff: s.backoff.clamp(0.1, 0.95),
            tolerance: s.latency_tolerance.max(1.0),
            min_latency: None,
            generation: 0,
            lock_wait_budget: s.lock_wait_budget.as_secs_f64(),
        }
    }

    /// Runs allowed in flight.
    pub fn current(&self) -> usize {
        self.limit.floor() as usize
    }

    /// The decrease count, stamped on each admitted run.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// A run was accepted with `in_flight` runs admitted, after `latency` when that time
    /// measures the gateway's congestion (`None`: it says nothing on this gateway; see
    /// `GatewayClient::accept_waits_for_session_store`).
    pub fn on_accepted(&mut self, latency: Option<Duration>, in_flight: usize) {
        let congested = latency.is_some_and(|latency| self.learn_accept_time(latency));
        if !congested && in_flight as f64 * 2.0 >= self.limit {
            // Slow start until the gateway first refuses for overload: +1 per accepted run
            // doubles the limit each round, so a burst is not held at the initial limit;
            // after a refusal, +1 per limit's worth of runs (AIMD).
            let step = if self.generation == 0 {
                1.0
            } else {
                1.0 / self.limit
            };
            self.limit = (self.limit + step).min(self.max);
        }
        if latency.is_some() {
            self.limit = self.limit.min(self.lock_cap());
        }
    }

    /// Learns from a time to `accepted` on a file-locked store (its running minimum, and the
    /// lock cap that follows from it); returns whether it says the gateway is congested.
    pub fn learn_accept_time(&mut self, latency: Duration) -> bool {
        let sample = latency.as_secs_f64();
        let floor = match self.min_latency {
            Some(m) if sample >= m => m + (sample - m) * 0.01,
            _ => sample,
        };
        self.min_latency = Some(floor);
        self.limit = self.limit.min(self.lock_cap());
        // A few milliseconds of jitter on an idle gateway is no congestion.
        sample > floor * self.tolerance && sample > 0.05
    }

    /// On a file-locked store (a time to `accepted` is known), the most runs whose lock holds
    /// fit in the lock-wait budget, each hold taken as long as the shortest accept seen; no
    /// cap before the first accept, and never below the minimum.
    pub fn lock_cap(&self) -> f64 {
        match self.min_latency {
            Some(hold) if hold > 0.0 => (self.lock_wait_budget / hold).clamp(self.min, self.max),
            _ => self.max,
        }
    }

    /// A run admitted at `generation` was refused for overload. Returns whether the limit
    /// shrank (once per generation).
    pub fn on_overload(&mut self, generation: u64) -> bool {
        if generation < self.generation {
            return false;
        }
        self.limit = (self.limit * self.backoff).max(self.min);
        self.generation += 1;
        true
    }
}

/// Why a run was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The queue holds its maximum (429).
    QueueFull,
    /// The run waited [`AdmissionSettings::max_queue_wait`] (503).
    QueueTimeout,
}

struct State {
    limit: AimdLimit,
    in_flight: usize,
    queue: VecDeque<oneshot::Sender<Permit>>,
}

struct Inner {
    settings: AdmissionSettings,
    state: Mutex<State>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hand free slots to the oldest waiters still waiting.
    fn dispatch(self: &Arc<Self>, state: &mut State) {
        while state.in_flight < state.limit.current() {
            let Some(waiter) = state.queue.pop_front() else {
                break;
            };
            state.in_flight += 1;
            let permit = Permit::new(self.clone(), state.limit.generation());
            // A waiter that gave up: take the slot back here (we hold the lock its
            // drop would take).
            if let Err(mut permit) = waiter.send(permit) {
                permit.inner = None;
                state.in_flight -= 1;
            }
        }
        publish(state);
    }
}

fn publish(state: &State) {
    let m = metrics::get();
    m.run_limit.set(state.limit.current() as i64);
    m.runs_in_flight.set(state.in_flight as i64);
    m.run_queue_length.set(state.queue.len() as i64);
}

/// The admission of runs to one gateway. Clone freely.
#[derive(Clone)]
pub struct Admission {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("Admission")
            .field("limit", &state.limit.current())
            .field("in_flight", &state.in_flight)
            .field("queued", &state.queue.len())
            .finish()
    }
}

impl Admission {
    /// Admission with `settings`.
    pub fn new(settings: AdmissionSettings) -> Admission {
        for signal in Overload::ALL {
            // Every signal's series exists from the start, at zero.
            metrics::get()
                .run_overloads
                .with_label_values(&[signal.label()]);
        }
        let state = State {
            limit: AimdLimit::new(&settings),
            in_flight: 0,
            queue: VecDeque::new(),
        };
        publish(&state);
        Admission {
            inner: Arc::new(Inner {
                settings,
                state: Mutex::new(state),
            }),
        }
    }

    /// The settings in use.
    pub fn settings(&self) -> &AdmissionSettings {
        &self.inner.settings
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.inner.lock().limit.current()
    }

    /// Wait for a slot, first come first served. Cancel safe: a dropped wait leaves the
    /// queue.
    pub async fn acquire(&self) -> Result<Permit, Refusal> {
        let started = Instant::now();
        let rx = {
            let mut state = self.inner.lock();
            if state.queue.is_empty() && state.in_flight < state.limit.current() {
                state.in_flight += 1;
                publish(&state);
                metrics::get().run_queue_wait.observe(0.0);
                return Ok(Permit::new(self.inner.clone(), state.limit.generation()));
            }
            if state.queue.len() >= self.inner.settings.max_queued {
                return Err(Refusal::QueueFull);
            }
            let (tx, rx) = oneshot::channel();
            state.queue.push_back(tx);
            publish(&state);
            rx
        };
        let waited = tokio::time::timeout(self.inner.settings.max_queue_wait, rx).await;
        metrics::get()
            .run_queue_wait
            .observe(started.elapsed().as_secs_f64());
        match waited {
            Ok(Ok(permit)) => Ok(permit),
            // Our sender is gone only if the admission is; treat it as a timeout.
            Ok(Err(_)) | Err(_) => {
                let mut state = self.inner.lock();
                state.queue.retain(|w| !w.is_closed());
                publish(&state);
                Err(Refusal::QueueTimeout)
            }
        }
    }

    /// Delay before retry `attempt` (0-based): full jitter over a doubling base, capped.
    pub fn retry_delay(&self, attempt: u32) -> Duration {
        let base = self.inner.settings.retry_base;
        let cap = base.saturating_mul(1 << attempt.min(6));
        rand::rng().random_range(base / 2..=cap.max(base / 2))
    }
}

/// The session store behind the gateway, as far as overload goes (from its protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStore {
    /// clawdbot 2026.1.24 (protocol 3): one JSON file written under one file lock, before
    /// `accepted` and after it (see the module doc).
    FileLocked,
    /// openclaw 2026.9.6 (protocol 4): SQLite, no store lock, `accepted` before store work.
    Unlocked,
}

impl SessionStore {
    /// The store of the gateway `gateway` is connected to.
    pub fn of(gateway: &GatewayClient) -> SessionStore {
        if gateway.accept_waits_for_session_store() {
            SessionStore::FileLocked
        } else {
            SessionStore::Unlocked
        }
    }
}

/// An overload signal of the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overload {
    /// `ok:false` `UNAVAILABLE` before `accepted`: nothing ran (see the module doc).
    Refused,
    /// [`SessionStore::FileLocked`]: `accepted` took [`AdmissionSettings::lock_wait_budget`]
    /// or more.
    SlowAccept,
    /// [`SessionStore::FileLocked`]: the store lock timed out after `accepted`, possibly
    /// after the model was called.
    LockTimeoutAfterAccept,
}

impl Overload {
    /// Every signal (each exported from the start, at zero).
    pub const ALL: [Overload; 3] = [
        Overload::Refused,
        Overload::SlowAccept,
        Overload::LockTimeoutAfterAccept,
    ];

    /// Whether the run provably ran nothing, so it may be sent again.
    pub fn ran_nothing(self) -> bool {
        self == Overload::Refused
    }

    /// The `signal` label of `clawshim_run_overloads_total`.
    pub fn label(self) -> &'static str {
        match self {
            Overload::Refused => "refused",
            Overload::SlowAccept => "slow_accept",
            Overload::LockTimeoutAfterAccept => "lock_timeout_after_accept",
        }
    }
}

/// What `e`, the failure of a run on a gateway with `store`, says about overload. Other
/// refusals (`INVALID_REQUEST`, …) would fail again; other failures of accepted runs (an
/// unknown model, the LLM's errors) say nothing about the gateway's load.
pub fn overload_of(e: &GatewayError, store: SessionStore) -> Option<Overload> {
    match e {
        GatewayError::Rejected { code, .. } if code == "UNAVAILABLE" => Some(Overload::Refused),
        GatewayError::RunFailed { .. }
            if store == SessionStore::FileLocked && e.is_session_store_lock_timeout() =>
        {
            Some(Overload::LockTimeoutAfterAccept)
        }
        _ => None,
    }
}

/// One admitted run; dropping it frees the slot for the next in the queue.
pub struct Permit {
    /// `None` once the slot was given back by [`Inner::dispatch`].
    inner: Option<Arc<Inner>>,
    generation: u64,
    /// Set when the run is accepted.
    store: SessionStore,
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit")
            .field("generation", &self.generation)
            .finish()
    }
}

impl Permit {
    fn new(inner: Arc<Inner>, generation: u64) -> Permit {
        Permit {
            inner: Some(inner),
            generation,
            store: SessionStore::Unlocked,
        }
    }

    /// The run was accepted by a gateway with `store`, `latency` after it was sent. Only on a
    /// file-locked store does that time measure congestion (see the module doc).
    pub fn accepted(&mut self, store: SessionStore, latency: Duration) {
        self.store = store;
        metrics::get().run_accept.observe(latency.as_secs_f64());
        let Some(inner) = &self.inner else {
            return;
        };
        if store == SessionStore::FileLocked && latency >= inner.settings.lock_wait_budget {
            // A slow accept still tells how long a hold takes at least.
            inner.lock().limit.learn_accept_time(latency);
            self.overloaded(Overload::SlowAccept);
            return;
        }
        let mut state = inner.lock();
        let in_flight = state.in_flight;
        let latency = (store == SessionStore::FileLocked).then_some(latency);
        state.limit.on_accepted(latency, in_flight);
        inner.dispatch(&mut state);
    }

    /// The accepted run ended in `e`: shrink the limit when that is an overload signal.
    pub fn failed(&self, e: &GatewayError) {
        if let Some(signal) = overload_of(e, self.store) {
            self.overloaded(signal);
        }
    }

    /// The gateway signalled overload with this run.
    pub fn overloaded(&self, signal: Overload) {
        metrics::get()
            .run_overloads
            .with_label_values(&[signal.label()])
            .inc();
        if let Some(inner) = &self.inner {
            let mut state = inner.lock();
            state.limit.on_overload(self.generation);
            publish(&state);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let mut state = inner.lock();
            state.in_flight = state.in_flight.saturating_sub(1);
            inner.dispatch(&mut state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AdmissionSettings {
        AdmissionSettings {
            initial_limit: 4,
            max_limit: 8,
            max_queued: 2,
            max_queue_wait: Duration::from_secs(30),
            ..AdmissionSettings::default()
        }
    }

    const FAST: Duration = Duration::from_millis(10);

    /// Wait (bounded) until `n` acquisitions wait in the queue.
    async fn until_queued(admission: &Admission, n: usize) {
        let queued = async {
            while admission.inner.lock().queue.len() < n {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), queued)
            .await
            .unwrap_or_else(|_| panic!("{n} waiters never queued"));
    }

    #[test]
    fn grows_fast_until_the_first_refusal_then_additively() {
        let mut l = AimdLimit::new(&settings());
        for _ in 0..3 {
            l.on_accepted(Some(FAST), 4);
        }
        assert_eq!(l.current(), 7, "slow start: each accepted run adds one");
        for _ in 0..200 {
            l.on_accepted(Some(FAST), 8);
        }
        assert_eq!(l.current(), 8, "capped at max_limit");
        assert!(l.on_overload(l.generation()));
        let after = l.current();
        for _ in 0..=after {
            l.on_accepted(Some(FAST), 8);
        }
        assert_eq!(
            l.current(),
            after + 1,
            "after a refusal, about a limit's worth of accepted runs adds one"
        );
    }

    #[test]
    fn does_not_grow_while_idle_or_while_accepts_slow_down() {
        let mut l = AimdLimit::new(&settings());
        for _ in 0..50 {
            l.on_accepted(Some(FAST), 1);
        }
        assert_eq!(l.current(), 4, "a limit nobody uses does not grow");
        for _ in 0..20 {
            l.on_accepted(Some(Duration::from_millis(500)), 4);
        }
        assert_eq!(
            l.current(),
            4,
            "accepts far above their minimum hold the limit"
        );
    }

    #[test]
    fn on_a_file_locked_store_the_limit_stops_where_the_lock_holds_fill_the_budget() {
        let wide = AdmissionSettings {
            max_limit: 256,
            ..settings()
        };
        let budget = wide.lock_wait_budget;
        // A store of some hundred entries: 125 ms per accept, uncontended.
        let mut l = AimdLimit::new(&wide);
        for _ in 0..100 {
            let in_flight = l.current();
            l.on_accepted(Some(budget / 16), in_flight);
        }
        assert_eq!(l.current(), 16, "slow start stops at budget / hold");
        // A thousand entries: a second per accept, learnt from a slow accept too.
        let mut l = AimdLimit::new(&wide);
        assert!(
            !l.learn_accept_time(budget / 2),
            "a first sample is no congestion"
        );
        assert_eq!(l.current(), 2, "the initial 4 are cut to what fits at once");
        for _ in 0..100 {
            let in_flight = l.current();
            l.on_accepted(Some(budget / 2), in_flight);
        }
        assert_eq!(l.current(), 2);
        // An empty store accepts in milliseconds: no cap below max_limit.
        let mut l = AimdLimit::new(&wide);
        for _ in 0..300 {
            let in_flight = l.current();
            l.on_accepted(Some(Duration::from_millis(2)), in_flight);
        }
        assert_eq!(l.current(), 256);
        assert!(l.lock_cap() >= 256.0);
    }

    #[test]
    fn the_lock_cap_never_goes_below_the_minimum_nor_applies_without_a_latency() {
        let mut l = AimdLimit::new(&settings());
        assert_eq!(l.lock_cap(), 8.0, "no cap before the first accept");
        l.learn_accept_time(Duration::from_secs(30));
        assert_eq!(
            l.current(),
            1,
            "a hold longer than the budget leaves one run"
        );
        assert_eq!(l.lock_cap(), 1.0);
        let mut unlocked = AimdLimit::new(&settings());
        for _ in 0..8 {
            let in_flight = unlocked.current();
            unlocked.on_accepted(None, in_flight);
        }
        assert_eq!(
            unlocked.current(),
            8,
            "openclaw: no time to accepted, no cap"
        );
    }

    #[test]
    fn without_a_latency_signal_use_grows_the_limit_and_refusals_shrink_it() {
        let mut l = AimdLimit::new(&settings());
        for _ in 0..4 {
            l.on_accepted(None, 4);
        }
        assert_eq!(l.current(), 8, "slow start whatever the time to accepted");
        assert!(l.on_overload(l.generation()));
        assert_eq!(l.current(), 5);
    }

    #[test]
    fn shrinks_once_per_overload_and_never_below_min() {
        let mut l = AimdLimit::new(&settings());
        let gen = l.generation();
        assert!(l.on_overload(gen));
        assert_eq!(l.current(), 2);
        assert!(
            !l.on_overload(gen),
            "a run admitted before the decrease does not shrink it again"
        );
        assert_eq!(l.current(), 2);
        for _ in 0..10 {
            let gen = l.generation();
            l.on_overload(gen);
        }
        assert_eq!(l.current(), 1);
    }

    #[tokio::test]
    async fn queues_in_order_and_refuses_when_full() {
        let admission = Admission::new(AdmissionSettings {
            initial_limit: 1,
            max_limit: 1,
            ..settings()
        });
        let first = admission.acquire().await.unwrap();
        let a = tokio::spawn({
            let admission = admission.clone();
            async move { admission.acquire().await.map(|_| "a") }
        });
        until_queued(&admission, 1).await;
        let b = tokio::spawn({
            let admission = admission.clone();
            async move { admission.acquire().await.map(|_| "b") }
        });
        until_queued(&admission, 2).await;
        assert_eq!(admission.acquire().await.unwrap_err(), Refusal::QueueFull);
        drop(first);
        assert_eq!(a.await.unwrap(), Ok("a"));
        assert_eq!(b.await.unwrap(), Ok("b"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_past_its_bound_is_refused_and_leaves_the_queue() {
        let admission = Admission::new(AdmissionSettings {
            initial_limit: 1,
            max_limit: 1,
            max_queue_wait: Duration::from_secs(5),
            ..settings()
        });
        let held = admission.acquire().await.unwrap();
        assert_eq!(
            admission.acquire().await.unwrap_err(),
            Refusal::QueueTimeout
        );
        assert_eq!(admission.inner.lock().queue.len(), 0);
        drop(held);
        assert!(admission.acquire().await.is_ok());
    }

    const LOCK: &str =
        "Error: timeout acquiring session store lock: /s/agents/main/sessions/sessions.json.lock";

    fn run_failed(code: &str, message: &str) -> GatewayError {
        GatewayError::RunFailed {
            code: code.into(),
            message: message.into(),
        }
    }

    #[test]
    fn only_unavailable_refusals_ran_nothing() {
        use SessionStore::*;
        let lock = GatewayError::Rejected {
            code: "UNAVAILABLE".into(),
            message: LOCK.into(),
        };
        for store in [FileLocked, Unlocked] {
            assert_eq!(overload_of(&lock, store), Some(Overload::Refused));
        }
        assert!(Overload::Refused.ran_nothing());
        let bad = GatewayError::Rejected {
            code: "INVALID_REQUEST".into(),
            message: "unknown agent id".into(),
        };
        assert_eq!(overload_of(&bad, FileLocked), None);
    }

    #[test]
    fn a_lock_timeout_after_accepted_is_overload_on_clawdbot_and_never_retried() {
        use SessionStore::*;
        let started = run_failed("UNAVAILABLE", LOCK);
        let signal = overload_of(&started, FileLocked);
        assert_eq!(signal, Some(Overload::LockTimeoutAfterAccept));
        assert!(
            !signal.is_some_and(Overload::ran_nothing),
            "the model may have been called"
        );
        assert_eq!(
            overload_of(&started, Unlocked),
            None,
            "openclaw has no store lock: its failures are left as they were"
        );
        assert_eq!(
            overload_of(
                &run_failed("UNAVAILABLE", "Error: Unknown model: x/y"),
                FileLocked
            ),
            None,
            "other run failures say nothing about load"
        );
        assert_eq!(
            overload_of(&run_failed("INVALID_REQUEST", LOCK), FileLocked),
            None
        );
    }

    #[tokio::test]
    async fn on_clawdbot_a_lock_timeout_after_accepted_shrinks_the_limit() {
        let admission = Admission::new(settings());
        let mut permit = admission.acquire().await.unwrap();
        permit.accepted(SessionStore::FileLocked, FAST);
        let before = admission.limit();
        permit.failed(&run_failed("UNAVAILABLE", LOCK));
        assert_eq!(admission.limit(), (before as f64 * 0.7) as usize);
    }

    #[tokio::test]
    async fn on_openclaw_the_same_failure_leaves_the_limit_alone() {
        let admission = Admission::new(settings());
        let mut permit = admission.acquire().await.unwrap();
        permit.accepted(SessionStore::Unlocked, FAST);
        let before = admission.limit();
        permit.failed(&run_failed("UNAVAILABLE", LOCK));
        assert_eq!(admission.limit(), before);
    }

    #[tokio::test]
    async fn on_clawdbot_an_accept_past_the_lock_wait_budget_shrinks_the_limit() {
        let admission = Admission::new(settings());
        let budget = admission.settings().lock_wait_budget;
        // A fast accept first, so the lock cap (budget / quickest accept) stays out of the way.
        let mut fast = admission.acquire().await.unwrap();
        fast.accepted(SessionStore::FileLocked, FAST);
        drop(fast);
        let mut slow = admission.acquire().await.unwrap();
        slow.accepted(SessionStore::FileLocked, budget);
        assert_eq!(admission.limit(), 2, "4 x 0.7");
        let mut also_slow = admission.acquire().await.unwrap();
        also_slow.accepted(SessionStore::FileLocked, budget * 2);
        assert_eq!(
            admission.limit(),
            1,
            "a run admitted after the decrease signals again"
        );
    }

    #[tokio::test]
    async fn on_clawdbot_a_first_accept_as_slow_as_the_budget_leaves_one_run() {
        let admission = Admission::new(settings());
        let budget = admission.settings().lock_wait_budget;
        let mut slow = admission.acquire().await.unwrap();
        slow.accepted(SessionStore::FileLocked, budget);
        assert_eq!(admission.limit(), 1, "one hold fills the lock-wait budget");
    }

    #[tokio::test]
    async fn on_openclaw_a_slow_accept_is_no_signal() {
        let admission = Admission::new(settings());
        let budget = admission.settings().lock_wait_budget;
        let mut permits = Vec::new();
        for _ in 0..4 {
            permits.push(admission.acquire().await.unwrap());
        }
        for permit in &mut permits {
            permit.accepted(SessionStore::Unlocked, budget * 10);
        }
        assert_eq!(
            admission.limit(),
            8,
            "slow start as before: the time to accepted says nothing there"
        );
    }

    #[test]
    fn retry_delays_stay_within_their_bounds() {
        let admission = Admission::new(settings());
        for attempt in 0..10 {
            let d = admission.retry_delay(attempt);
            assert!(d >= Duration::from_millis(50), "{d:?}");
            assert!(d <= Duration::from_millis(6400), "{d:?}");
        }
    }
}
