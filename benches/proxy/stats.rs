//! Process facts (CPU time, memory, limits, load) and statistics for the tables.

use super::*;

pub(crate) struct Memory {
    pub(crate) rss_kib: u64,
    pub(crate) hwm_kib: u64,
    pub(crate) threads: u64,
}

pub(crate) fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
        threads: field("Threads:")?,
    })
}

pub(crate) fn cpu_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0;
    for task in tasks.flatten() {
        let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        total += stat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Some(total)
}

pub(crate) fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
}

pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_string())
}

pub(crate) fn machine_facts() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "?".to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("cores: {cores}, CPU: {cpu}, load: {}", loadavg())
}

/// The `q` quantile of sorted `v` (nearest rank).
pub(crate) fn pct(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub(crate) fn sorted(v: &[Duration]) -> Vec<Duration> {
    let mut v = v.to_vec();
    v.sort();
    v
}

pub(crate) fn us(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e6)
}

pub(crate) fn us_f(us_times_1000: f64) -> String {
    format!("{:.1}", us_times_1000 / 1e3)
}

pub(crate) fn delta(after: Option<u64>, before: Option<u64>) -> Option<u64> {
    Some(after?.saturating_sub(before?))
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

pub(crate) const QUANTILES: [f64; 3] = [0.50, 0.90, 0.99];

pub(crate) fn table(rows: &[(&str, &Vec<Duration>)]) -> String {
    let mut out =
        String::from("| µs | p50 | p90 | p99 | mean |\n| --- | --- | --- | --- | --- |\n");
    for (name, v) in rows {
        let s = sorted(v);
        let mean = s.iter().sum::<Duration>() / s.len().max(1) as u32;
        let _ = write!(out, "| {name} ");
        for q in QUANTILES {
            let _ = write!(out, "| {} ", us(pct(&s, q)));
        }
        let _ = writeln!(out, "| {} |", us(mean));
    }
    out
}

/// Per-quantile difference `a - b` as one more table row.
pub(crate) fn diff_row(name: &str, a: &[Duration], b: &[Duration]) -> String {
    let (a, b) = (sorted(a), sorted(b));
    let mut out = format!("| **{name}** ");
    for q in QUANTILES {
        let d = pct(&a, q).as_secs_f64() - pct(&b, q).as_secs_f64();
        let _ = write!(out, "| **{:+.0}** ", d * 1e6);
    }
    let mean =
        |v: &[Duration]| v.iter().map(Duration::as_secs_f64).sum::<f64>() / v.len().max(1) as f64;
    let _ = writeln!(out, "| **{:+.0}** |", (mean(&a) - mean(&b)) * 1e6);
    out
}
