//! Token usage per account and the budgets of API keys.
//!
//! Each run that ends with the gateway's `usage` (both gateway versions report it in the final
//! answer's `result.meta.agentMeta.usage`: `input`, `output`, `cacheRead`, `cacheWrite`,
//! `total`) is counted once, in `logging` after its response: the metric
//! `clawshim_tokens_total{key,agent,kind}` and the account's totals of the UTC day and month
//! in the [`UsageStore`]. An account is an API key's name, or [`SHARED`] for every shared token.
//!
//! Budgets (`daily_token_budget`, `monthly_token_budget` of a `[[keys]]` entry) are checked
//! before a run is started ([`UsageBook::check_budget`], from `run::run_setup`): a key whose
//! day or month reached its budget gets 429 `insufficient_quota` and no run. A run already
//! going when the budget runs out finishes and is counted (no half answers), so a key can
//! end a period over its budget by at most its runs in flight.
//!
//! Where the totals live: Redis with `state.redis_url` (every instance sees the same
//! totals); else `state.usage_file`, an embedded database ([`disk`]); else nowhere (only the
//! metric; validation refuses budgets then). While Redis does not answer, budgets are not
//! checked (runs are allowed) and the tokens of runs that end meanwhile are kept by the
//! instance and added with its next write that Redis takes: see the table in
//! [`crate::shared_state`].

pub mod disk;
pub mod period;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use clawshim_core::gateway::Usage;

use crate::front_door::keys::Principal;
use crate::ops::metrics;
use crate::request::errors::{BudgetPeriod, HttpError};
use crate::shared_state::SharedState;
use disk::DiskStore;
use period::Periods;
pub use period::Totals;

/// The account (and `key` label) of every shared token's usage.
pub const SHARED: &str = "-";

/// Where the totals are kept.
#[derive(Debug)]
pub enum UsageStore {
    /// Redis, shared by every instance.
    Redis(Arc<SharedState>),
    /// `state.usage_file`, this instance's.
    Disk(DiskStore),
}

/// Why the totals could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Redis did not answer within `state.timeout_ms` (or is known to be down).
    #[error("Redis did not answer")]
    RedisUnavailable,
    /// The usage file failed.
    #[error("{0}")]
    Disk(String),
}

impl UsageStore {
    async fn add(&self, account: &str, periods: &Periods, tokens: u64) -> Result<(), StoreError> {
        match self {
            UsageStore::Redis(shared) => shared
                .usage_add(account, &periods.day, &periods.month, tokens)
                .await
                .ok_or(StoreError::RedisUnavailable),
            UsageStore::Disk(disk) => disk
                .add(account, periods, tokens)
                .await
                .map_err(StoreError::Disk),
        }
    }

    /// `account`'s totals now.
    pub async fn totals(&self, account: &str, periods: &Periods) -> Result<Totals, StoreError> {
        match self {
            UsageStore::Redis(shared) => shared
                .usage_totals(account, &periods.day, &periods.month)
                .await
                .map(|(day, month)| Totals { day, month })
                .ok_or(StoreError::RedisUnavailable),
            UsageStore::Disk(disk) => disk
                .totals(account, periods)
                .await
                .map_err(StoreError::Disk),
        }
    }
}

/// The usage book of one instance: the store, and the tokens it could not write yet.
#[derive(Debug)]
pub struct UsageBook {
    store: Option<UsageStore>,
    /// Tokens per account and periods that the store did not take (Redis away); added with
    /// the next write it takes.
    unwritten: Mutex<HashMap<(String, Periods), u64>>,
}

impl UsageBook {
    /// A book over `store` (`None`: the metric only).
    pub fn new(store: Option<UsageStore>) -> UsageBook {
        UsageBook {
            store,
            unwritten: Mutex::new(HashMap::new()),
        }
    }

    /// The store, for `clawshim usage`.
    pub fn store(&self) -> Option<&UsageStore> {
        self.store.as_ref()
    }

    /// 429 `insufficient_quota` when `principal` is a key whose day or month reached its
    /// budget. Keys without a budget and shared tokens cost no lookup.
    pub async fn check_budget(&self, principal: &Principal) -> Result<(), HttpError> {
        let Principal::Key(key) = principal else {
            return Ok(());
        };
        let (daily, monthly) = (key.daily_token_budget(), key.monthly_token_budget());
        if daily.is_none() && monthly.is_none() {
            return Ok(());
        }
        let Some(store) = &self.store else {
            return Ok(());
        };
        let totals = match store.totals(&key.name, &Periods::now()).await {
            Ok(totals) => totals,
            // The fallback of the table in `shared_state`: allowed, counted later.
            Err(StoreError::RedisUnavailable) => return Ok(()),
            Err(StoreError::Disk(e)) => {
                return Err(HttpError::Internal(format!("usage file: {e}")));
            }
        };
        let m = metrics::get();
        for (period, budget, used) in [("day", daily, totals.day), ("month", monthly, totals.month)]
        {
            if let Some(budget) = budget {
                m.token_budget_remaining
                    .with_label_values(&[&key.name, period])
                    .set(budget.saturating_sub(used).min(i64::MAX as u64) as i64);
            }
        }
        if let Some(budget) = daily.filter(|b| totals.day >= *b) {
            return Err(HttpError::InsufficientQuota {
                period: BudgetPeriod::Day,
                budget,
            });
        }
        if let Some(budget) = monthly.filter(|b| totals.month >= *b) {
            return Err(HttpError::InsufficientQuota {
                period: BudgetPeriod::Month,
                budget,
            });
        }
        Ok(())
    }

    /// Count one run's `usage` for `key` (`None`: a shared token) and `agent`.
    pub async fn record(&self, key: Option<&str>, agent: &str, usage: &Usage) {
        let account = key.unwrap_or(SHARED);
        let tokens = count_metric(account, agent, usage);
        let Some(store) = &self.store else {
            return;
        };
        let periods = Periods::now();
        let mut writes = vec![((account.to_owned(), periods), tokens)];
        writes.extend(
            self.unwritten
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .drain(),
        );
        for ((account, periods), tokens) in writes {
            if tokens == 0 {
                continue;
            }
            if let Err(e) = store.add(&account, &periods, tokens).await {
                if let StoreError::Disk(e) = &e {
                    tracing::error!(error = %e, "cannot write token usage to state.usage_file");
                }
                *self
                    .unwritten
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry((account, periods))
                    .or_default() += tokens;
            }
        }
    }
}

/// `clawshim_tokens_total{key,agent,kind}` for one run; returns the tokens the budgets count:
/// the gateway's `total`, or the sum of the kinds when it sent none.
fn count_metric(account: &str, agent: &str, usage: &Usage) -> u64 {
    let m = metrics::get();
    let kinds = [
        ("input", usage.input),
        ("output", usage.output),
        ("cache_read", usage.cache_read),
        ("cache_write", usage.cache_write),
    ];
    for (kind, n) in kinds {
        if n > 0 {
            m.tokens
                .with_label_values(&[account, agent, kind])
                .inc_by(n);
        }
    }
    if usage.total > 0 {
        usage.total
    } else {
        kinds
            .iter()
            .map(|(_, n)| n)
            .fold(0u64, |a, n| a.saturating_add(*n))
    }
}
