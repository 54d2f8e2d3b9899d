//! Failed-auth limiting per client: after `max_failures` bad credentials within `window`,
//! the client gets 429 with `Retry-After` until the window ends, so a LAN host cannot
//! brute-force keys.
//!
//! Three things keep it from being walked around:
//! - a success never clears failures (else 9 guesses, 1 good request, repeat);
//! - clients are counted per bucket: an IPv4 address, or an IPv6 /64 (one host usually owns
//!   a whole /64 and can pick a fresh address for every try); IPv4-mapped IPv6 is IPv4;
//! - the table is bounded and every operation is O(1): a segmented LRU (on the `lru`
//!   crate). A client's first failure goes to the probation segment; its second moves it to
//!   the protected segment. A flood of one-off addresses only churns probation, so a client
//!   that is guessing stays tracked; pushing it out of protected takes two failures from
//!   each of [`PROTECTED_CAPACITY`] other buckets, more guesses than the table saves it.

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lru::LruCache;

/// Buckets with one failure, newest kept.
pub const PROBATION_CAPACITY: usize = 16_384;
/// Buckets with two or more failures, most recently seen kept.
pub const PROTECTED_CAPACITY: usize = 16_384;

/// Who is counted together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// One IPv4 address.
    V4(u32),
    /// The /64 prefix of an IPv6 address.
    V6(u64),
}

impl Bucket {
    /// The bucket of `ip`: IPv4 per address (mapped IPv6 included), IPv6 per /64.
    pub fn of(ip: IpAddr) -> Bucket {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Bucket::V4(v4.to_bits()),
            IpAddr::V6(v6) => Bucket::V6((v6.to_bits() >> 64) as u64),
        }
    }

    /// The bucket as bytes, the id of its shared count (a tag byte keeps an IPv4 address
    /// and an IPv6 prefix with the same bits apart).
    pub fn to_bytes(self) -> Vec<u8> {
        match self {
            Bucket::V4(a) => [&[4u8][..], &a.to_be_bytes()].concat(),
            Bucket::V6(p) => [&[6u8][..], &p.to_be_bytes()].concat(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Count {
    failures: u32,
    since: Instant,
}

impl Count {
    /// One more failure; a window that ended starts again.
    fn bump(&mut self, now: Instant, window: Duration) {
        if now.saturating_duration_since(self.since) >= window {
            *self = Count {
                failures: 1,
                since: now,
            };
        } else {
            self.failures = self.failures.saturating_add(1);
        }
    }
}

#[derive(Debug)]
struct Table {
    probation: LruCache<Bucket, Count>,
    protected: LruCache<Bucket, Count>,
}

/// Failure counts per client bucket.
#[derive(Debug)]
pub struct FailedAuthLimiter {
    max_failures: u32,
    window: Duration,
    table: Mutex<Table>,
}

impl FailedAuthLimiter {
    /// Block after `max_failures` failures within `window` (0 disables).
    pub fn new(max_failures: u32, window: Duration) -> Self {
        let cap = |n: usize| NonZeroUsize::new(n).expect("capacity is not zero");
        FailedAuthLimiter {
            max_failures,
            window,
            table: Mutex::new(Table {
                probation: LruCache::new(cap(PROBATION_CAPACITY)),
                protected: LruCache::new(cap(PROTECTED_CAPACITY)),
            }),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Err(retry_after)` when `ip`'s bucket is blocked.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.max_failures == 0 {
            return Ok(());
        }
        let bucket = Bucket::of(ip);
        let mut table = self.table();
        // `get` marks a blocked client as recently seen: one that keeps trying stays.
        let count = match table.protected.get(&bucket) {
            Some(c) => *c,
            None => match table.probation.peek(&bucket) {
                Some(c) => *c,
                None => return Ok(()),
            },
        };
        let end = count.since + self.window;
        if count.failures >= self.max_failures && now < end {
            Err(end - now)
        } else {
            Ok(())
        }
    }

    /// Count a failure for `ip`'s bucket.
    pub fn record_failure(&self, ip: IpAddr, now: Instant) {
        if self.max_failures == 0 {
            return;
        }
        let bucket = Bucket::of(ip);
        let promote_at = self.max_failures.min(2);
        let mut table = self.table();
        if let Some(count) = table.protected.get_mut(&bucket) {
            count.bump(now, self.window);
            return;
        }
        let count = match table.probation.pop(&bucket) {
            Some(mut count) => {
                count.bump(now, self.window);
                count
            }
            None => Count {
                failures: 1,
                since: now,
            },
        };
        if count.failures >= promote_at {
            table.protected.push(bucket, count);
        } else {
            table.probation.push(bucket, count);
        }
    }

    /// Block after this many failures (0: off).
    pub fn max_failures(&self) -> u32 {
        self.max_failures
    }

    /// The window of the count.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Buckets tracked now (at most [`PROBATION_CAPACITY`] + [`PROTECTED_CAPACITY`]).
    pub fn tracked(&self) -> usize {
        let table = self.table();
        table.probation.len() + table.protected.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let l = FailedAuthLimiter::new(3, Duration::from_secs(60));
        let ip1 = ip("192.0.2.1");
        let other = ip("192.0.2.2");
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check(ip1, t0).is_ok());
            l.record_failure(ip1, t0);
        }
        let retry = l.check(ip1, t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(retry, Duration::from_secs(50));
        assert!(l.check(other, t0).is_ok());
        assert!(l.check(ip1, t0 + Duration::from_secs(61)).is_ok());
    }

    #[test]
    fn zero_disables() {
        let l = FailedAuthLimiter::new(0, Duration::from_secs(60));
        let a = ip("192.0.2.1");
        for _ in 0..100 {
            l.record_failure(a, Instant::now());
        }
        assert!(l.check(a, Instant::now()).is_ok());
        assert_eq!(l.tracked(), 0);
    }

    #[test]
    fn one_failure_blocks_when_the_limit_is_one() {
        let l = FailedAuthLimiter::new(1, Duration::from_secs(60));
        let t0 = Instant::now();
        l.record_failure(ip("192.0.2.1"), t0);
        assert!(l.check(ip("192.0.2.1"), t0).is_err());
    }

    #[test]
    fn buckets_are_ipv4_addresses_and_ipv6_64s() {
        let table = [
            ("192.0.2.1", "192.0.2.1", true),
            ("192.0.2.1", "192.0.2.2", false),
            ("::ffff:192.0.2.1", "192.0.2.1", true),
            ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true),
            ("2001:db8:1:2::1", "2001:db8:1:3::1", false),
            ("2001:db8::", "0.0.0.0", false),
        ];
        for (a, b, same) in table {
            assert_eq!(Bucket::of(ip(a)) == Bucket::of(ip(b)), same, "{a} {b}");
        }
    }

    #[test]
    fn shared_ids_of_buckets_never_meet() {
        // The same 32 bits as an IPv4 address and as the top of an IPv6 /64 prefix.
        let v4 = Bucket::of(ip("192.0.2.1")).to_bytes();
        let v6 = Bucket::of(ip("c000:201::1")).to_bytes();
        let v6_low = Bucket::of(ip("::c000:201")).to_bytes();
        assert_ne!(v4, v6);
        assert_ne!(v4, v6_low);
        assert_eq!(
            Bucket::of(ip("::ffff:192.0.2.1")).to_bytes(),
            v4,
            "mapped IPv4 is IPv4"
        );
        assert_eq!(
            Bucket::of(ip("2001:db8:1:2::1")).to_bytes(),
            Bucket::of(ip("2001:db8:1:2:ffff::9")).to_bytes()
        );
    }

    #[test]
    fn fresh_ipv6_addresses_in_one_64_share_a_budget() {
        let l = FailedAuthLimiter::new(10, Duration::from_secs(60));
        let t0 = Instant::now();
        let prefix = 0x2001_0db8_0000_0001_u128 << 64;
        for i in 0..100_000u128 {
            let addr = IpAddr::V6(Ipv6Addr::from_bits(prefix | (i * 7919 + 1)));
            if i >= 10 {
                assert!(
                    l.check(addr, t0).is_err(),
                    "address #{i} got a fresh budget"
                );
            } else {
                l.record_failure(addr, t0);
            }
        }
        assert_eq!(l.tracked(), 1);
    }

    #[test]
    fn a_flood_of_addresses_stays_bounded_and_the_guesser_stays_blocked() {
        let l = FailedAuthLimiter::new(10, Duration::from_secs(600));
        let t0 = Instant::now();
        let hot = ip("198.51.100.7");
        for _ in 0..10 {
            l.record_failure(hot, t0);
        }
        assert!(l.check(hot, t0).is_err());
        // 100k addresses with one failure each (the cheap flood), then 100k more with two
        // while the guesser keeps probing now and then.
        for i in 0..100_000u32 {
            l.record_failure(IpAddr::V4(Ipv4Addr::from_bits(0x0a00_0000 + i)), t0);
        }
        assert!(
            l.check(hot, t0).is_err(),
            "one-off addresses evicted the guesser"
        );
        assert!(l.tracked() <= PROBATION_CAPACITY + PROTECTED_CAPACITY);
        for i in 0..100_000u32 {
            let addr = IpAddr::V4(Ipv4Addr::from_bits(0x0b00_0000 + i));
            l.record_failure(addr, t0);
            l.record_failure(addr, t0);
            if i % 1000 == 0 {
                assert!(l.check(hot, t0).is_err(), "evicted after {i}");
            }
        }
        assert!(l.check(hot, t0).is_err());
        assert!(l.tracked() <= PROBATION_CAPACITY + PROTECTED_CAPACITY);
    }
}
