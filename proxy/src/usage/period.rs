//! The periods a budget counts in, and an account's totals in them: the UTC day and the UTC month, as the text that names them
//! in the stores (`2026-12-07`, `2026-12`). Each instance reads its own clock; a clock a few
//! seconds off only moves the tokens of those seconds to the neighbouring day.

use std::time::{SystemTime, UNIX_EPOCH};

/// The day and month a moment falls in (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Periods {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// `YYYY-MM`.
    pub month: String,
}

impl Periods {
    /// The periods of now.
    pub fn now() -> Periods {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Periods::of_unix_secs(secs)
    }

    /// The periods of a Unix time.
    pub fn of_unix_secs(secs: u64) -> Periods {
        let (y, m, d) = civil_from_days((secs / 86_400) as i64);
        Periods {
            day: format!("{y:04}-{m:02}-{d:02}"),
            month: format!("{y:04}-{m:02}"),
        }
    }
}

/// An account's tokens in one day and its month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub day: u64,
    pub month: u64,
}

/// Year, month, day of a count of days since 1970-01-01 (proleptic Gregorian; H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_months_in_utc() {
        let p = |s| Periods::of_unix_secs(s);
        assert_eq!(p(0).day, "1970-01-01");
        assert_eq!(p(86_399).day, "1970-01-01");
        assert_eq!(p(86_400).day, "1970-01-02");
        // 2024-02-29 (a leap day) and the midnight after it.
        assert_eq!(p(1_709_164_800).day, "2024-02-29");
        assert_eq!(p(1_709_251_199).month, "2024-02");
        assert_eq!(p(1_709_251_200).day, "2024-03-01");
        // 2026-12-31 23:59:59 and 2027-01-01 00:00:00.
        assert_eq!(p(1_798_761_599).day, "2026-12-31");
        assert_eq!(p(1_798_761_600).month, "2027-01");
    }
}
