//! Reconnect delays: capped exponential backoff with full jitter, so a fleet of shims does
//! not reconnect in lock-step after a gateway restart.
//!
//! Two caps: a gateway that cannot be reached at all (nothing listening, connection refused)
//! is retried at most [`Backoff::unreachable_max`] apart, because a failed TCP connect to a
//! local upstream costs nothing and serving must resume within a second of the gateway
//! listening again, however long it was gone; a gateway that answers and refuses (credentials,
//! pairing, protocol) backs off up to [`Backoff::max`], since retrying it fast changes nothing.

use std::time::Duration;

/// Backoff policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay ceiling for the first retry.
    pub min: Duration,
    /// Cap for any retry.
    pub max: Duration,
    /// Cap while the gateway is unreachable (no TCP connection or no upgrade).
    pub unreachable_max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            min: Duration::from_millis(200),
            max: Duration::from_secs(15),
            unreachable_max: Duration::from_millis(500),
        }
    }
}

impl Backoff {
    /// The ceiling for retry number `attempt` (0-based): `min * 2^attempt`, capped at `max`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        self.min.saturating_mul(factor).min(self.max)
    }

    /// A random delay in `[ceiling/2, ceiling]` for retry number `attempt`; with
    /// `unreachable`, the ceiling is capped at [`Backoff::unreachable_max`] too.
    pub fn delay(&self, attempt: u32, unreachable: bool) -> Duration {
        let mut ceiling = self.ceiling(attempt);
        if unreachable {
            ceiling = ceiling.min(self.unreachable_max);
        }
        let half = ceiling / 2;
        let spread = ceiling.saturating_sub(half).as_millis() as u64;
        half + Duration::from_millis(rand::random_range(0..=spread))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_then_caps() {
        let b = Backoff {
            min: Duration::from_millis(100),
            max: Duration::from_secs(1),
            unreachable_max: Duration::from_millis(300),
        };
        assert_eq!(b.ceiling(0), Duration::from_millis(100));
        assert_eq!(b.ceiling(1), Duration::from_millis(200));
        assert_eq!(b.ceiling(3), Duration::from_millis(800));
        assert_eq!(b.ceiling(4), Duration::from_secs(1));
        assert_eq!(b.ceiling(1000), Duration::from_secs(1));
    }

    #[test]
    fn delay_stays_within_half_and_full_ceiling() {
        let b = Backoff::default();
        for attempt in 0..30 {
            let d = b.delay(attempt, false);
            let c = b.ceiling(attempt);
            assert!(d <= c && d >= c / 2, "{d:?} vs {c:?}");
        }
    }

    /// The property behind "serving again within a second of the gateway being back, whatever
    /// the outage length": however many attempts failed (a minute down is about 150 of them,
    /// a day down a few hundred thousand), the next one is at most half a second away.
    #[test]
    fn an_unreachable_gateway_is_retried_within_half_a_second_after_any_outage() {
        let b = Backoff::default();
        for attempt in [0, 1, 5, 10, 150, 1_000, 300_000, u32::MAX] {
            let d = b.delay(attempt, true);
            assert!(d <= Duration::from_millis(500), "attempt {attempt}: {d:?}");
            assert!(d >= b.min / 2, "attempt {attempt}: {d:?} (jitter floor)");
        }
        // A refusing gateway still backs off to the long cap.
        assert_eq!(b.ceiling(30), Duration::from_secs(15));
    }
}
