//! `clawshim usage`: each key's tokens of the current UTC day and month, from where the
//! running clawshims keep them (Redis with `state.redis_url`, else `state.usage_file`), with
//! its budgets; shared tokens on one line (`-`).

use std::io::Write;
use std::time::Duration;

use crate::config::Config;
use crate::shared_state::{BackendStatus, SharedState};
use crate::usage::disk::DiskStore;
use crate::usage::period::Periods;
use crate::usage::{Totals, UsageStore, SHARED};

/// How long to wait for Redis to answer the first time.
const CONNECT_WAIT: Duration = Duration::from_secs(3);

/// Print the table to `out`; `Err` says why there is nothing to read.
pub async fn report(config: &Config, out: &mut impl Write) -> Result<(), String> {
    let store = open_store(config).await?;
    let periods = Periods::now();
    let mut rows: Vec<(String, Totals, Option<u64>, Option<u64>)> = Vec::new();
    for key in &config.keys {
        let totals = store
            .totals(&key.name, &periods)
            .await
            .map_err(|e| format!("reading {}'s usage: {e}", key.name))?;
        rows.push((
            key.name.clone(),
            totals,
            key.daily_token_budget,
            key.monthly_token_budget,
        ));
    }
    let shared = store
        .totals(SHARED, &periods)
        .await
        .map_err(|e| format!("reading shared tokens' usage: {e}"))?;
    rows.push((format!("{SHARED} (shared tokens)"), shared, None, None));
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(3).max(3);
    let budget = |b: Option<u64>| b.map_or("-".to_string(), |b| b.to_string());
    let w = |e: std::io::Error| e.to_string();
    writeln!(
        out,
        "{:<width$}  {:>16}  {:>16}  {:>16}  {:>16}",
        "key",
        format!("today {}", periods.day),
        "daily budget",
        format!("month {}", periods.month),
        "monthly budget"
    )
    .map_err(w)?;
    for (name, totals, daily, monthly) in rows {
        writeln!(
            out,
            "{name:<width$}  {:>16}  {:>16}  {:>16}  {:>16}",
            totals.day,
            budget(daily),
            totals.month,
            budget(monthly)
        )
        .map_err(w)?;
    }
    Ok(())
}

async fn open_store(config: &Config) -> Result<UsageStore, String> {
    let settings = &config.shared_state;
    if settings.redis_url.is_some() {
        let shared = std::sync::Arc::new(SharedState::new(settings));
        // The first call starts connecting; wait for it.
        let _ = shared.usage_totals(SHARED, "-", "-").await;
        let until = tokio::time::Instant::now() + CONNECT_WAIT;
        while shared.status() != Some(BackendStatus::Up) {
            if tokio::time::Instant::now() >= until {
                return Err(
                    "Redis (state.redis_url) does not answer; `clawshim doctor` says why".into(),
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        return Ok(UsageStore::Redis(shared));
    }
    match &settings.usage_file {
        Some(path) => DiskStore::open(path).map(UsageStore::Disk),
        None => Err(
            "token usage is not kept: set state.redis_url or state.usage_file (the metric \
             clawshim_tokens_total counts it per process)"
                .into(),
        ),
    }
}
