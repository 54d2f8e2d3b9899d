//! Waiting for a condition instead of sleeping: poll a probe until it holds, bounded by
//! [`crate::WAIT`], and fail with what was awaited and the last state seen.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use crate::WAIT;

/// Pause between two probes.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Run `probe` until it returns `Ok`, pausing [`POLL_INTERVAL`] between attempts; panics
/// after [`WAIT`] with `what` and the last `Err` (the state that was not good enough).
pub async fn poll_until<T, E, F, Fut>(what: &str, mut probe: F) -> T
where
    E: Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let last = match probe().await {
            Ok(value) => return value,
            Err(last) => last,
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "not {what} within {WAIT:?}; last seen: {last:?}"
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// [`poll_until`] for a plain condition.
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    poll_until(what, || {
        std::future::ready(if condition() { Ok(()) } else { Err("false") })
    })
    .await
}
