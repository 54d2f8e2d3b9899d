//! `shared state`: with `state.redis_url`, Redis is reachable with the configured
//! credentials, runs clawshim's scripts, and answers within `state.timeout_ms`. `usage file`:
//! without Redis, `state.usage_file` opens (created when missing) and holds the keys' totals.

use std::time::Instant;

use super::check::Check;
use crate::config::Config;
use crate::shared_state::{scripts, Kind, SharedState};
use crate::usage::disk::DiskStore;
use crate::usage::period::Periods;

const NAME: &str = "shared state";
const USAGE_NAME: &str = "usage file";

/// `state.usage_file` opens and reads; skipped with Redis (which keeps usage) or without it.
pub async fn usage_file(config: &Config) -> Check {
    let settings = &config.shared_state;
    let Some(path) = settings
        .usage_file
        .as_ref()
        .filter(|_| settings.redis_url.is_none())
    else {
        return Check::skip(
            USAGE_NAME,
            if settings.redis_url.is_some() {
                "not used: token usage is kept in Redis"
            } else {
                "off: token usage is counted in clawshim_tokens_total only (set \
                 state.usage_file or state.redis_url to keep it and to use budgets)"
            },
        );
    };
    let fix = "let clawshim's user create and write the file (the Debian unit may write \
               /var/lib/clawshim), or point state.usage_file elsewhere";
    let store = match DiskStore::open(path) {
        Ok(store) => store,
        Err(e) => return Check::fail(USAGE_NAME, e, fix),
    };
    let periods = Periods::now();
    let mut used = 0u64;
    for key in &config.keys {
        match store.totals(&key.name, &periods).await {
            Ok(totals) => used = used.saturating_add(totals.month),
            Err(e) => return Check::fail(USAGE_NAME, format!("{}: {e}", path.display()), fix),
        }
    }
    Check::pass(
        USAGE_NAME,
        format!(
            "{}: {used} tokens this month over {} keys (`clawshim usage` for each)",
            path.display(),
            config.keys.len()
        ),
    )
}

/// One check; skipped without `state.redis_url`.
pub async fn check(config: &Config) -> Check {
    let settings = &config.shared_state;
    let shared = SharedState::new(settings);
    let Some(backend) = shared.backend() else {
        return Check::skip(
            NAME,
            "off: each instance keeps its own rate limits, run slots and failed-auth counts \
             (set state.redis_url to share them across instances)",
        );
    };
    let bound_ms = settings.timeout.as_millis();
    let fix = "check state.redis_url / CLAWSHIM_REDIS_URL (host, port, password; rediss:// \
               for TLS) and that Redis 7 or Valkey runs there; until it answers, each instance \
               enforces its limits on its own";
    let mut conn = match backend.connect().await {
        Ok(conn) => conn,
        Err(e) => {
            return Check::fail(NAME, format!("Redis not usable: {e}"), fix);
        }
    };
    let version = redis::cmd("INFO")
        .arg("server")
        .query_async::<String>(&mut conn)
        .await
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("redis_version:").map(str::to_owned))
        })
        .unwrap_or_else(|| "unknown".into());
    // One real check, as a request makes it: a failed-auth lookup of a bucket no client has.
    let mut invocation = scripts::FAILED_AUTH_CHECK.prepare_invoke();
    invocation
        .key(shared.names().key(Kind::FailedAuth, b"clawshim doctor"))
        .arg(1);
    let started = Instant::now();
    let answer = invocation.invoke_async::<i64>(&mut conn).await;
    let took = started.elapsed();
    match answer {
        Err(e) => Check::fail(
            NAME,
            format!("Redis {version} refused clawshim's script: {:?}", e.kind()),
            "clawshim needs EVALSHA and TIME in scripts (Redis 7 or Valkey; an ACL user \
             allowed +evalsha +eval +script on its keys)",
        ),
        Ok(_) if took > settings.timeout => Check::fail(
            NAME,
            format!(
                "Redis {version} took {} ms for one check, more than state.timeout_ms = \
                 {bound_ms}: requests would give up on it and count locally",
                took.as_millis()
            ),
            "put Redis closer to clawshim or raise state.timeout_ms",
        ),
        Ok(_) => Check::pass(
            NAME,
            format!(
                "Redis {version}: one check took {:.2} ms (bound {bound_ms} ms); keys under \
                 `{}`",
                took.as_secs_f64() * 1000.0,
                settings.key_prefix
            ),
        ),
    }
}
