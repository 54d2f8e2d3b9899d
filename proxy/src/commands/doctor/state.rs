//! `shared state`: with `state.redis_url`, Redis is reachable with the configured
//! credentials, runs clawshim's scripts, and answers within `state.timeout_ms`.

use std::time::Instant;

use super::check::Check;
use crate::config::Config;
use crate::shared_state::{scripts, Kind, SharedState};

const NAME: &str = "shared state";

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
