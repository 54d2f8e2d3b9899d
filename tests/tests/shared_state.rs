//! End-to-end: two clawshim instances sharing one real Redis (`state.redis_url`). Rate and
//! run slots hold across both; a dead instance's slot is freed when its lease expires;
//! failed-auth counts add up across both; an `Idempotency-Key` retry on the other instance
//! neither runs the agent twice nor reads it twice; a key's name or an address cannot reach
//! another's Redis keys; Redis killed and restarted under load costs no request and state
//! comes back; the Redis password reaches no log line. Each test starts its own
//! `redis-server` and skips (saying so) only when the binary is missing.

use std::io::Write as _;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use clawshim_proxy::shared_state::{KeyNames, Kind};
use clawshim_tests::redis_server::RedisServer;
use clawshim_tests::*;
use futures_util::StreamExt;
use serde_json::{json, Value};

const KEY: &str = "csk-shared-state-key";
const RUNNER: &str = "csk-shared-state-runner";

/// Every log line of this test binary (the shims run in-process).
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || LogWriter(writer.clone()))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buf
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `[[keys]]`: KEY (4 requests a minute), RUNNER (one run at a time); `extra` appended.
fn config(extra: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("clawshim-shared-{}.toml", uuid::Uuid::new_v4()));
    let mut f = std::fs::File::create(&path).unwrap();
    write!(
        f,
        "[[keys]]\nname = \"rated\"\nsha256 = \"{}\"\nrequests_per_minute = 4\n\n\
         [[keys]]\nname = \"runner\"\nsha256 = \"{}\"\nmax_concurrent_runs = 1\n\n{extra}",
        sha256_hex(KEY),
        sha256_hex(RUNNER)
    )
    .unwrap();
    path
}

/// A shim using `redis_url`, started once shared state is up. Its Redis bound is the
/// longest allowed (1 s), not the 25 ms default: on a loaded test machine an answer can take
/// longer than 25 ms, and the instance would then (rightly) decide locally, which is not
/// what these tests look at.
async fn shim(gw: &MockGateway, redis_url: &str, config: &std::path::Path) -> Shim {
    let (url, path) = (redis_url.to_string(), config.to_path_buf());
    let shim = Shim::start_with(
        &gw.url(),
        move |s| {
            s.config = Some(path);
            s.redis_url = Some(url);
            s.state_timeout_ms = Some(1000);
        },
        true,
    )
    .await;
    wait_shared_state(&shim, "up").await;
    shim
}

async fn wait_shared_state(shim: &Shim, want: &str) {
    let url = shim.url("/readyz");
    poll_until(&format!("/readyz shared_state {want}"), || {
        let probe = client().get(&url).send();
        async move {
            let v: Value = probe
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            if v["shared_state"] == want {
                Ok(())
            } else {
                Err(v.to_string())
            }
        }
    })
    .await;
}

async fn models_as(shim: &Shim, key: &str) -> u16 {
    client()
        .get(shim.url("/v1/models"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Poll (bounded) until a run of the runner's key on `shim` gets `status`.
async fn until_status(shim: &Shim, what: &str, prompt: &str, status: u16) {
    poll_until(what, || {
        let r = shim.chat_as(RUNNER, user_msg("openclaw/main", prompt), &[]);
        async move {
            match r.await.status().as_u16() {
                s if s == status => Ok(()),
                s => Err(s.to_string()),
            }
        }
    })
    .await;
}

/// A streaming run that hangs after its first delta, read up to that delta: its slot is
/// held until the returned stream is dropped.
async fn hanging_stream(
    shim: &Shim,
    key: &str,
    headers: &[(&str, &str)],
) -> impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> {
    let mut body = user_msg("openclaw/main", "MOCK_HANG");
    body["stream"] = json!(true);
    let r = shim.chat_as(key, body, headers).await;
    assert_eq!(r.status(), 200);
    let mut stream = r.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("echo") {
        let chunk = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("first delta within the wait")
            .expect("stream open")
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    stream
}

#[tokio::test]
async fn rate_and_run_slots_hold_across_two_instances() {
    let Some(redis) = RedisServer::start(None) else {
        return;
    };
    let gw = mock(Protocol::V4).await;
    let cfg = config("");
    let a = shim(&gw, &redis.url(), &cfg).await;
    let b = shim(&gw, &redis.url(), &cfg).await;

    // Four a minute for the key, fleet-wide: two on each instance, then both refuse.
    for shim in [&a, &b, &a, &b] {
        assert_eq!(models_as(shim, KEY).await, 200);
    }
    assert_eq!(models_as(&a, KEY).await, 429);
    assert_eq!(models_as(&b, KEY).await, 429);

    // One run at a time for the runner, fleet-wide.
    let held = hanging_stream(&a, RUNNER, &[]).await;
    let refused = b
        .chat_as(RUNNER, user_msg("openclaw/main", "second"), &[])
        .await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    drop(held);
    // The run ends with its client, and its lease with it.
    until_status(
        &b,
        "B gets the runner's slot once A's run ended",
        "after",
        200,
    )
    .await;
}

#[tokio::test]
async fn a_dead_instances_slot_is_freed_when_its_lease_expires() {
    let Some(redis) = RedisServer::start(None) else {
        return;
    };
    let gw = mock(Protocol::V4).await;
    let cfg = config("[state]\nlease_ttl_secs = 3\n");
    let b = shim(&gw, &redis.url(), &cfg).await;
    let runs_key = KeyNames::new("clawshim:").key(Kind::Runs, b"runner");

    // A holder that died without releasing: its lease is there until it expires.
    let mut conn = redis.connection();
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query(&mut conn).unwrap();
    let expiry_ms = secs * 1000 + micros / 1000 + 3000;
    let _: i64 = redis::cmd("ZADD")
        .arg(&runs_key)
        .arg(expiry_ms)
        .arg("lease-of-a-dead-instance")
        .query(&mut conn)
        .unwrap();
    let refused = b
        .chat_as(RUNNER, user_msg("openclaw/main", "blocked"), &[])
        .await;
    assert_eq!(refused.status(), 429, "the dead holder's slot still counts");
    until_status(&b, "the dead holder's lease expired", "freed", 200).await;
    let left: Option<f64> = redis::cmd("ZSCORE")
        .arg(&runs_key)
        .arg("lease-of-a-dead-instance")
        .query(&mut conn)
        .unwrap();
    assert_eq!(left, None, "the expired lease was removed");

    // A live run keeps its lease past its time to live: renewed every second.
    let a = shim(&gw, &redis.url(), &cfg).await;
    let held = hanging_stream(&a, RUNNER, &[]).await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    let refused = b
        .chat_as(RUNNER, user_msg("openclaw/main", "still held"), &[])
        .await;
    assert_eq!(refused.status(), 429, "a live run's lease was renewed");

    // The instance dies with its run: its slot comes back to B.
    drop(a);
    drop(held);
    until_status(
        &b,
        "B gets the slot of the stopped instance",
        "mine now",
        200,
    )
    .await;
}

#[tokio::test]
async fn failed_auth_counts_add_up_across_instances() {
    let Some(redis) = RedisServer::start(None) else {
        return;
    };
    let gw = mock(Protocol::V4).await;
    let cfg = config("[auth]\nmax_failed_attempts = 4\n");
    let a = shim(&gw, &redis.url(), &cfg).await;
    let b = shim(&gw, &redis.url(), &cfg).await;
    for shim in [&a, &b, &a, &b] {
        assert_eq!(models_as(shim, "csk-wrong-guess").await, 401);
    }
    // Two guesses on each instance: each alone would allow two more.
    for shim in [&a, &b] {
        assert_eq!(models_as(shim, "csk-wrong-guess").await, 429);
        assert_eq!(
            models_as(shim, KEY).await,
            429,
            "a good key does not unblock"
        );
    }
}

#[tokio::test]
async fn an_idempotent_retry_on_the_other_instance_neither_runs_nor_reads_twice() {
    let Some(redis) = RedisServer::start(None) else {
        return;
    };
    let gw = mock(Protocol::V4).await;
    // With [[keys]], the suites' token is a client credential only when listed.
    let cfg = config(&format!("[auth]\ntokens = [\"{TOKEN}\"]\n"));
    let a = shim(&gw, &redis.url(), &cfg).await;
    let b = shim(&gw, &redis.url(), &cfg).await;

    // Finished on A: B replays its answer, no second run.
    let key = [("Idempotency-Key", "order-7")];
    let first: Value = a
        .chat_with(user_msg("openclaw/main", "pay once"), &key)
        .await
        .json()
        .await
        .unwrap();
    let again = b
        .chat_with(user_msg("openclaw/main", "pay once"), &key)
        .await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(
        again["choices"][0]["message"]["content"],
        first["choices"][0]["message"]["content"]
    );
    assert_eq!(gw.runs_started(), 1, "one LLM call for both");

    // Still being read on A: B answers 409 like A itself would.
    let key = [("Idempotency-Key", "order-8")];
    let runs_before = gw.runs_started();
    let held = {
        let mut body = user_msg("openclaw/main", "MOCK_HANG");
        body["stream"] = json!(true);
        let r = a.chat_with(body, &key).await;
        assert_eq!(r.status(), 200);
        let mut s = r.bytes_stream();
        tokio::time::timeout(WAIT, s.next()).await.unwrap();
        s
    };
    let mut body = user_msg("openclaw/main", "MOCK_HANG");
    body["stream"] = json!(true);
    let conflict = b.chat_with(body, &key).await;
    assert_eq!(conflict.status(), 409);
    let err: Value = conflict.json().await.unwrap();
    assert_eq!(err["error"]["code"], "idempotency_key_in_use");
    assert_eq!(gw.runs_started(), runs_before + 1, "no second run");
    drop(held);
}

#[tokio::test]
async fn a_key_name_cannot_reach_another_keys_redis_keys() {
    let Some(redis) = RedisServer::start(None) else {
        return;
    };
    let gw = mock(Protocol::V4).await;
    // A second key named like the first one's Redis key, with the same limit.
    let names = KeyNames::new("clawshim:");
    let spelled = names.key(Kind::Rate, b"rated");
    let twin = "csk-the-twin";
    let cfg = config(&format!(
        "[[keys]]\nname = \"{spelled}\"\nsha256 = \"{}\"\nrequests_per_minute = 4\nsession_namespace = \"twin\"\n",
        sha256_hex(twin)
    ));
    let a = shim(&gw, &redis.url(), &cfg).await;
    for _ in 0..4 {
        assert_eq!(models_as(&a, KEY).await, 200);
    }
    assert_eq!(models_as(&a, KEY).await, 429);
    for _ in 0..4 {
        assert_eq!(
            models_as(&a, twin).await,
            200,
            "the twin has its own budget"
        );
    }
    // Two keys, one per API key, both hashes under the prefix: the twin's name was hashed,
    // not used as its key.
    let mut conn = redis.connection();
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    keys.sort();
    let mut want = vec![spelled.clone(), names.key(Kind::Rate, spelled.as_bytes())];
    want.sort();
    assert_eq!(keys, want);
}

#[tokio::test]
async fn redis_killed_and_restarted_under_load_costs_no_request() {
    let Some(mut redis) = RedisServer::start(None) else {
        return;
    };
    let gw = mock(Protocol::V4).await;
    let loose = "csk-loose";
    let cfg = config(&format!(
        "[[keys]]\nname = \"loose\"\nsha256 = \"{}\"\nrequests_per_minute = 1000000\nmax_concurrent_runs = 1000\n",
        sha256_hex(loose)
    ));
    let a = shim(&gw, &redis.url(), &cfg).await;
    let b = shim(&gw, &redis.url(), &cfg).await;
    let errors_before = clawshim_proxy::ops::metrics::get()
        .state_backend_errors
        .get();

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for i in 0..8 {
        let shim = if i % 2 == 0 { &a } else { &b };
        let (url, stop) = (shim.url("/v1/chat/completions"), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut statuses = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let started = Instant::now();
                let r = client()
                    .post(&url)
                    .bearer_auth(loose)
                    .json(&user_msg("openclaw/main", "load"))
                    .send()
                    .await
                    .unwrap();
                statuses.push(r.status().as_u16());
                let _ = r.bytes().await;
                times.push(started.elapsed());
            }
            (times, statuses)
        }));
    }
    redis.kill();
    wait_shared_state(&a, "down").await;
    wait_shared_state(&b, "down").await;
    redis.restart();
    wait_shared_state(&a, "up").await;
    wait_shared_state(&b, "up").await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut times = Vec::new();
    for w in workers {
        let (t, statuses) = tokio::time::timeout(WAIT, w).await.unwrap().unwrap();
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
        times.extend(t);
    }
    times.sort();
    eprintln!(
        "{} requests through the outage; p50 {:?}, max {:?}",
        times.len(),
        times[times.len() / 2],
        times.last().unwrap()
    );
    assert!(
        clawshim_proxy::ops::metrics::get()
            .state_backend_errors
            .get()
            > errors_before
    );

    // State is shared again: the rated key's four a minute hold across both.
    for shim in [&a, &b, &a, &b] {
        assert_eq!(models_as(shim, KEY).await, 200);
    }
    assert_eq!(models_as(&a, KEY).await, 429);
    assert_eq!(models_as(&b, KEY).await, 429);
}

#[tokio::test]
async fn a_live_runs_lease_comes_back_after_redis_restarts_empty() {
    let Some(mut redis) = RedisServer::start(None) else {
        return;
    };
    let gw = mock(Protocol::V4).await;
    let cfg = config("[state]\nlease_ttl_secs = 3\n");
    let a = shim(&gw, &redis.url(), &cfg).await;
    let b = shim(&gw, &redis.url(), &cfg).await;
    let _held = hanging_stream(&a, RUNNER, &[]).await;
    redis.restart();
    wait_shared_state(&a, "up").await;
    wait_shared_state(&b, "up").await;
    // A's renewal puts its lease back; until then B may get the slot on its own instance.
    until_status(&b, "A's renewed lease refuses B again", "try", 429).await;
}

#[tokio::test]
async fn the_redis_password_reaches_no_log_line() {
    let password = "pw-d3adb33f-never-logged";
    let Some(redis) = RedisServer::start(Some(password)) else {
        return;
    };
    let logs = logs();
    let gw = mock(Protocol::V4).await;
    let cfg = config("");
    let good = shim(&gw, &redis.url(), &cfg).await;
    assert_eq!(models_as(&good, KEY).await, 200);
    // A wrong password: refused by Redis, logged as down, still serving on its own counts.
    let wrong_password = "pw-wrong-0ff1ce-never-logged";
    let wrong_url = redis.url().replace(password, wrong_password);
    let (url, path) = (wrong_url.clone(), cfg.clone());
    let wrong = Shim::start_with(
        &gw.url(),
        move |s| {
            s.config = Some(path);
            s.redis_url = Some(url);
        },
        true,
    )
    .await;
    wait_shared_state(&wrong, "down").await;
    assert_eq!(models_as(&wrong, KEY).await, 200);
    poll_until("the outage was logged", || {
        let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
        async move {
            if text.contains("shared state (Redis) unreachable") {
                Ok(())
            } else {
                Err("no line yet".to_string())
            }
        }
    })
    .await;
    // Nor in the configuration's Debug output or doctor's finding (which passes with the
    // right password and fails with the wrong one).
    use clawshim_proxy::commands::doctor::check::Outcome;
    for (url, outcome) in [(redis.url(), Outcome::Pass), (wrong_url, Outcome::Fail)] {
        let settings = clawshim_proxy::config::Settings {
            gateway_url: Some(gw.url()),
            gateway_token: Some(TOKEN.into()),
            redis_url: Some(url),
            state_timeout_ms: Some(1000),
            ..Default::default()
        };
        let config = clawshim_proxy::config::Config::load(&settings).unwrap();
        let debug = format!("{config:?}");
        let check = clawshim_proxy::commands::doctor::state::check(&config).await;
        assert_eq!(check.outcome, outcome, "{check:?}");
        let finding = format!("{check:?}");
        for secret in [password, wrong_password] {
            assert!(!debug.contains(secret));
            assert!(!finding.contains(secret), "{finding}");
        }
    }
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(!text.is_empty());
    for secret in [password, wrong_password] {
        assert!(!text.contains(secret), "the password is in the logs");
    }
}

#[tokio::test]
async fn an_outage_is_logged_once_shown_in_readyz_and_doctor_and_recovered_from() {
    let Some(mut redis) = RedisServer::start(None) else {
        return;
    };
    let logs = logs().clone();
    let gw = mock(Protocol::V4).await;
    // Its own prefix: the log lines name it, so this test counts only its instance's lines.
    let prefix = format!("outage-{}:", uuid::Uuid::new_v4().simple());
    let cfg = config(&format!("[state]\nkey_prefix = \"{prefix}\"\n"));
    let a = shim(&gw, &redis.url(), &cfg).await;
    let lines_with = |needle: &str| {
        String::from_utf8_lossy(&logs.lock().unwrap())
            .lines()
            .filter(|l| l.contains(needle) && l.contains(&format!("key_prefix={prefix}")))
            .count()
    };
    let settings = clawshim_proxy::config::Settings {
        config: Some(cfg.clone()),
        gateway_url: Some(gw.url()),
        gateway_token: Some(TOKEN.into()),
        redis_url: Some(redis.url()),
        state_timeout_ms: Some(1000),
        ..Default::default()
    };
    let config = clawshim_proxy::config::Config::load(&settings).unwrap();
    use clawshim_proxy::commands::doctor::check::Outcome;

    redis.kill();
    // Requests keep being answered from local counts; the outage is logged once however
    // many of them fall back.
    for _ in 0..3 {
        assert_eq!(models_as(&a, KEY).await, 200);
    }
    wait_shared_state(&a, "down").await;
    assert_eq!(models_as(&a, KEY).await, 200);
    let check = clawshim_proxy::commands::doctor::state::check(&config).await;
    assert_eq!(check.outcome, Outcome::Fail, "{check:?}");
    assert_eq!(lines_with("shared state (Redis) unreachable"), 1);

    redis.restart();
    wait_shared_state(&a, "up").await;
    poll_until("the recovery logged", || {
        std::future::ready(match lines_with("shared state (Redis) reachable again") {
            1 => Ok(()),
            n => Err(n),
        })
    })
    .await;
    assert_eq!(lines_with("shared state (Redis) unreachable"), 1);
    let check = clawshim_proxy::commands::doctor::state::check(&config).await;
    assert_eq!(check.outcome, Outcome::Pass, "{check:?}");
}

#[tokio::test]
async fn budgets_hold_on_both_instances_and_after_a_restart() {
    let Some(redis) = RedisServer::start(None) else {
        return;
    };
    let gw = mock(Protocol::V4).await;
    let spender = "csk-shared-budget";
    let cfg = config(&format!(
        "[[keys]]\nname = \"spender\"\nsha256 = \"{}\"\nmonthly_token_budget = 1\n",
        sha256_hex(spender)
    ));
    let a = shim(&gw, &redis.url(), &cfg).await;
    let b = shim(&gw, &redis.url(), &cfg).await;

    let r = a
        .chat_as(spender, user_msg("openclaw/main", "spend it"), &[])
        .await;
    assert_eq!(r.status(), 200);
    let spent = r.json::<Value>().await.unwrap()["usage"]["total_tokens"]
        .as_u64()
        .unwrap();
    // Counted in Redis after A's response: read it as `clawshim usage` does.
    let config = clawshim_proxy::config::Config::load(&clawshim_proxy::config::Settings {
        config: Some(cfg.clone()),
        gateway_url: Some(gw.url()),
        gateway_token: Some(TOKEN.into()),
        redis_url: Some(redis.url()),
        state_timeout_ms: Some(1000),
        ..Default::default()
    })
    .unwrap();
    let report = || async {
        let mut out = Vec::new();
        clawshim_proxy::commands::usage::report(&config, &mut out)
            .await
            .unwrap();
        String::from_utf8(out).unwrap()
    };
    poll_until("the run's tokens in Redis", || async {
        let out = report().await;
        let line = out
            .lines()
            .find(|l| l.starts_with("spender"))
            .unwrap_or("")
            .to_owned();
        let cells: Vec<&str> = line.split_whitespace().collect();
        if cells == ["spender", &spent.to_string(), "-", &spent.to_string(), "1"] {
            Ok(())
        } else {
            Err(out)
        }
    })
    .await;

    let runs = gw.runs_started();
    for shim in [&b, &a] {
        let (status, v) = error_of(
            shim.chat_as(spender, user_msg("openclaw/main", "more"), &[])
                .await,
        )
        .await;
        assert_eq!(status, 429, "{v}");
        assert_eq!(v["error"]["code"], "insufficient_quota");
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("monthly_token_budget"));
    }
    // A restarted instance reads the same totals.
    drop(b);
    let b = shim(&gw, &redis.url(), &cfg).await;
    let refused = b
        .chat_as(spender, user_msg("openclaw/main", "again"), &[])
        .await;
    assert_eq!(refused.status(), 429);
    assert_eq!(gw.runs_started(), runs, "no run for a key over its budget");
    drop(a);
}
