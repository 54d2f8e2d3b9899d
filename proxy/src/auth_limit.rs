//! Failed-auth limiting per client IP: after `max_failures` bad credentials within `window`,
//! the address gets 429 with `Retry-After` until the window ends, so a LAN host cannot
//! brute-force keys.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept before expired ones are swept.
const SWEEP_AT: usize = 4096;

/// Failure counts per address.
#[derive(Debug)]
pub struct FailedAuthLimiter {
    max_failures: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl FailedAuthLimiter {
    /// Block after `max_failures` failures within `window` (0 disables).
    pub fn new(max_failures: u32, window: Duration) -> Self {
        FailedAuthLimiter {
            max_failures,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(retry_after)` when `ip` is blocked.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.max_failures == 0 {
            return Ok(());
        }
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        match seen.get(&ip) {
            Some((count, start)) if *count >= self.max_failures => {
                let end = *start + self.window;
                if now < end {
                    Err(end - now)
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// Count a failure for `ip`.
    pub fn record_failure(&self, ip: IpAddr, now: Instant) {
        if self.max_failures == 0 {
            return;
        }
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= SWEEP_AT {
            let window = self.window;
            seen.retain(|_, (_, start)| now.saturating_duration_since(*start) < window);
        }
        let entry = seen.entry(ip).or_insert((0, now));
        if now.saturating_duration_since(entry.1) >= self.window {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    /// Forget `ip` after a success.
    pub fn record_success(&self, ip: IpAddr) {
        if self.max_failures == 0 {
            return;
        }
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let l = FailedAuthLimiter::new(3, Duration::from_secs(60));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check(ip, t0).is_ok());
            l.record_failure(ip, t0);
        }
        let retry = l.check(ip, t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(retry, Duration::from_secs(50));
        assert!(l.check(other, t0).is_ok());
        assert!(l.check(ip, t0 + Duration::from_secs(61)).is_ok());
    }

    #[test]
    fn zero_disables() {
        let l = FailedAuthLimiter::new(0, Duration::from_secs(60));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..100 {
            l.record_failure(ip, Instant::now());
        }
        assert!(l.check(ip, Instant::now()).is_ok());
    }
}
