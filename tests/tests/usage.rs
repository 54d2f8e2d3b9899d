//! End-to-end: token usage per key and budgets without Redis. `clawshim_tokens_total`
//! counts what both gateway versions report, on both run routes (JSON and streamed); a key
//! over its budget gets 429 `insufficient_quota` before any run, on both routes, and still
//! after a restart (`state.usage_file`); `clawshim usage` prints the totals; the usage file
//! keeps every committed count through a `kill -9` during writes. Redis-backed budgets
//! across two instances are in `shared_state.rs`.

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clawshim_proxy::usage::disk::DiskStore;
use clawshim_proxy::usage::period::Periods;
use clawshim_tests::*;
use serde_json::{json, Value};

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("clawshim-usage-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A config file with one key `name` (token `secret`) and `extra` appended.
fn config(dir: &Path, name: &str, secret: &str, key_extra: &str, extra: &str) -> PathBuf {
    let path = dir.join("clawshim.toml");
    let mut f = std::fs::File::create(&path).unwrap();
    write!(
        f,
        "[[keys]]\nname = \"{name}\"\nsha256 = \"{}\"\n{key_extra}\n\n[auth]\ntokens = [\"{TOKEN}\"]\n\n{extra}",
        sha256_hex(secret)
    )
    .unwrap();
    path
}

fn tokens(key: &str, agent: &str, kind: &str) -> u64 {
    clawshim_proxy::ops::metrics::get()
        .tokens
        .with_label_values(&[key, agent, kind])
        .get()
}

async fn post(shim: &Shim, path: &str, token: &str, body: Value) -> reqwest::Response {
    client()
        .post(shim.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// One run on each route and form; returns the (input, output) tokens the answers reported.
async fn one_of_each(shim: &Shim, token: &str) -> (u64, u64) {
    let (mut input, mut output) = (0, 0);
    // Chat completion, JSON.
    let v: Value = post(
        shim,
        "/v1/chat/completions",
        token,
        user_msg("openclaw/main", "count me"),
    )
    .await
    .json()
    .await
    .unwrap();
    input += v["usage"]["prompt_tokens"].as_u64().unwrap();
    output += v["usage"]["completion_tokens"].as_u64().unwrap();
    // Chat completion, streamed with the usage chunk.
    let mut body = stream_msg("openclaw/main", "count me streamed");
    body["stream_options"] = json!({"include_usage": true});
    let text = post(shim, "/v1/chat/completions", token, body)
        .await
        .text()
        .await
        .unwrap();
    let usage = parse_sse(&text)
        .into_iter()
        .find_map(|e| match e {
            Sse::Data(d) if d["usage"].is_object() => Some(d["usage"].clone()),
            _ => None,
        })
        .expect("a usage chunk");
    input += usage["prompt_tokens"].as_u64().unwrap();
    output += usage["completion_tokens"].as_u64().unwrap();
    // Responses API, JSON and streamed.
    let v: Value = post(
        shim,
        "/v1/responses",
        token,
        json!({"model": "openclaw/main", "input": "count the response"}),
    )
    .await
    .json()
    .await
    .unwrap();
    input += v["usage"]["input_tokens"].as_u64().unwrap();
    output += v["usage"]["output_tokens"].as_u64().unwrap();
    let text = post(
        shim,
        "/v1/responses",
        token,
        json!({"model": "openclaw/main", "input": "count the streamed response", "stream": true}),
    )
    .await
    .text()
    .await
    .unwrap();
    // `event:` and `data:` lines; the last event carries the usage.
    let usage = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|d| d["type"] == "response.completed")
        .map(|d| d["response"]["usage"].clone())
        .expect("response.completed");
    input += usage["input_tokens"].as_u64().unwrap();
    output += usage["output_tokens"].as_u64().unwrap();
    (input, output)
}

async fn tokens_per_key_on_both_routes(protocol: Protocol, name: &str) {
    let dir = TempDir::new();
    let secret = format!("csk-{name}");
    let cfg = config(&dir.0, name, &secret, "", "");
    let gw = mock(protocol).await;
    let shim = Shim::start_with(&gw.url(), move |s| s.config = Some(cfg), true).await;
    let (input, output) = one_of_each(&shim, &secret).await;
    assert!(input > 0 && output > 0);
    // Counted in `logging`, just after each response.
    poll_until("the four runs' tokens counted", || {
        let seen = (
            tokens(name, "main", "input"),
            tokens(name, "main", "output"),
        );
        std::future::ready(if seen == (input, output) {
            Ok(())
        } else {
            Err(seen)
        })
    })
    .await;
    // The mock reports no cache tokens: no series for them.
    assert_eq!(tokens(name, "main", "cache_read"), 0);
}

#[tokio::test]
async fn tokens_per_key_on_both_routes_v3() {
    tokens_per_key_on_both_routes(Protocol::V3, "meter-v3").await;
}

#[tokio::test]
async fn tokens_per_key_on_both_routes_v4() {
    tokens_per_key_on_both_routes(Protocol::V4, "meter-v4").await;
}

#[tokio::test]
async fn shared_tokens_count_under_one_label() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start(&gw.url()).await;
    let before = tokens("-", "main", "output");
    let v: Value = shim
        .chat(user_msg("openclaw/main", "shared"))
        .await
        .json()
        .await
        .unwrap();
    let output = v["usage"]["completion_tokens"].as_u64().unwrap();
    // Other tests of this binary may add to the shared label meanwhile: at least ours.
    poll_until("the shared token's run counted under `-`", || {
        let seen = tokens("-", "main", "output") - before;
        std::future::ready(if seen >= output { Ok(()) } else { Err(seen) })
    })
    .await;
}

async fn day_total(file: &Path, name: &str) -> u64 {
    DiskStore::open(file)
        .unwrap()
        .totals(name, &Periods::now())
        .await
        .unwrap()
        .day
}

#[tokio::test]
async fn a_key_over_its_budget_gets_insufficient_quota_before_any_run_and_after_a_restart() {
    let dir = TempDir::new();
    let file = dir.0.join("usage.redb");
    let secret = "csk-budgeted";
    let cfg = config(
        &dir.0,
        "budgeted",
        secret,
        "daily_token_budget = 1\nmonthly_token_budget = 1000000",
        &format!("[state]\nusage_file = \"{}\"\n", file.display()),
    );
    let gw = mock(Protocol::V4).await;
    let gw_url = gw.url();
    let start = |cfg: PathBuf| Shim::start_with(&gw_url, move |s| s.config = Some(cfg), true);

    let shim = start(cfg.clone()).await;
    let r = post(
        &shim,
        "/v1/chat/completions",
        secret,
        user_msg("openclaw/main", "spend"),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let spent = v["usage"]["total_tokens"].as_u64().unwrap();
    poll_until("the run's tokens in the usage file", || async {
        match day_total(&file, "budgeted").await {
            n if n == spent => Ok(()),
            n => Err(n),
        }
    })
    .await;

    let runs_before = gw.runs_started();
    let refused = |r: reqwest::Response| async move {
        assert_eq!(r.headers()["x-should-retry"], "false");
        let (status, v) = error_of(r).await;
        assert_eq!(status, 429, "{v}");
        assert_eq!(v["error"]["code"], "insufficient_quota");
        assert_eq!(v["error"]["type"], "insufficient_quota");
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("daily_token_budget"));
    };
    refused(
        post(
            &shim,
            "/v1/chat/completions",
            secret,
            user_msg("openclaw/main", "more"),
        )
        .await,
    )
    .await;
    refused(
        post(
            &shim,
            "/v1/responses",
            secret,
            json!({"model": "openclaw/main", "input": "more"}),
        )
        .await,
    )
    .await;
    // The owner's shared token has no budget.
    assert_eq!(
        shim.chat(user_msg("openclaw/main", "owner")).await.status(),
        200
    );

    // `clawshim usage` reads the file while clawshim serves.
    let config = clawshim_proxy::config::Config::load(&clawshim_proxy::config::Settings {
        config: Some(cfg.clone()),
        gateway_url: Some(gw.url()),
        gateway_token: Some(TOKEN.into()),
        ..Default::default()
    })
    .unwrap();
    let mut out = Vec::new();
    clawshim_proxy::commands::usage::report(&config, &mut out)
        .await
        .unwrap();
    let out = String::from_utf8(out).unwrap();
    let line = out.lines().find(|l| l.starts_with("budgeted")).unwrap();
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "budgeted",
            &spent.to_string(),
            "1",
            &spent.to_string(),
            "1000000"
        ],
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.starts_with("- (shared tokens)")),
        "{out}"
    );

    // A restart keeps the day's usage: still refused.
    drop(shim);
    let shim = start(cfg).await;
    refused(
        post(
            &shim,
            "/v1/chat/completions",
            secret,
            user_msg("openclaw/main", "again"),
        )
        .await,
    )
    .await;
    let owner_runs = 1;
    assert_eq!(
        gw.runs_started(),
        runs_before + owner_runs,
        "no run for a refused key"
    );
}

#[test]
fn budgets_without_a_place_to_keep_usage_and_a_key_named_like_the_shared_tokens_are_config_errors()
{
    let dir = TempDir::new();
    let cfg = config(
        &dir.0,
        "nowhere",
        "csk-nowhere",
        "daily_token_budget = 10",
        "",
    );
    let err = refusal_of(cfg);
    assert!(err.contains("state.usage_file"), "{err}");
    let cfg = config(&dir.0, "zero", "csk-zero", "monthly_token_budget = 0", "");
    let err = refusal_of(cfg);
    assert!(err.contains("at least 1"), "{err}");
    // `-` is the shared tokens' name in the metrics and the usage totals: no key may take it.
    let cfg = config(&dir.0, "-", "csk-dash", "", "");
    let err = refusal_of(cfg);
    assert!(err.contains("stands for the shared tokens"), "{err}");
}

/// Why loading the config file `cfg` fails.
fn refusal_of(cfg: PathBuf) -> String {
    clawshim_proxy::config::Config::load(&clawshim_proxy::config::Settings {
        config: Some(cfg),
        gateway_url: Some("ws://127.0.0.1:1".into()),
        gateway_token: Some(TOKEN.into()),
        ..Default::default()
    })
    .unwrap_err()
    .to_string()
}

/// The account and period the crash test writes.
const CRASH_ACCOUNT: &str = "crash";
const CRASH_AT: u64 = 1_798_761_599;
const CRASH_ENV: &str = "CLAWSHIM_USAGE_CRASH_FILE";

/// Not a test of its own: the child process of `the_usage_file_keeps_every_commit_through_kill_9`
/// (run only with the file in its environment). Adds one token per commit and prints the
/// count after each commit returned.
#[tokio::test]
#[ignore = "child process of the kill -9 test"]
async fn usage_file_writer_child() {
    let Some(file) = std::env::var_os(CRASH_ENV) else {
        return;
    };
    let store = DiskStore::open(Path::new(&file)).unwrap();
    let periods = Periods::of_unix_secs(CRASH_AT);
    let mut out = std::io::stdout().lock();
    for n in 1u64.. {
        store.add(CRASH_ACCOUNT, &periods, 1).await.unwrap();
        writeln!(out, "committed {n}").unwrap();
        out.flush().unwrap();
    }
}

#[tokio::test]
async fn the_usage_file_keeps_every_commit_through_kill_9() {
    let dir = TempDir::new();
    let file = dir.0.join("usage.redb");
    let mut before = 0;
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "usage_file_writer_child",
                "--ignored",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CRASH_ENV, &file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut last = 0u64;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("committed ") {
                    last = n.parse().unwrap();
                    let _ = tx.send(last);
                }
            }
            last
        });
        // Let it commit a while, then kill it (SIGKILL) in the middle of its writes.
        let started = std::time::Instant::now();
        loop {
            let n = rx
                .recv_timeout(WAIT.saturating_sub(started.elapsed()))
                .expect("the writer commits");
            if n >= 30 {
                break;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let acknowledged = reader.join().unwrap();
        // Every count the child saw committed is there; at most the one it was writing
        // (committed, not yet printed) is more. Earlier rounds' counts add up.
        let store = DiskStore::open(&file).unwrap();
        let totals = store
            .totals(CRASH_ACCOUNT, &Periods::of_unix_secs(CRASH_AT))
            .await
            .unwrap();
        eprintln!(
            "round {round}: {acknowledged} acknowledged, {} in the file",
            totals.day
        );
        assert_eq!(totals.day, totals.month, "day and month are one commit");
        let added = totals.day - before;
        assert!(
            added == acknowledged || added == acknowledged + 1,
            "round {round}: {added} in the file after {acknowledged} acknowledged commits"
        );
        before = totals.day;
    }
}

#[tokio::test]
async fn doctor_checks_the_usage_file() {
    use clawshim_proxy::commands::doctor::check::Outcome;
    let dir = TempDir::new();
    let load = |file: &Path| {
        let cfg = config(
            &dir.0,
            "doctored",
            "csk-doctored",
            "daily_token_budget = 10",
            &format!("[state]\nusage_file = \"{}\"\n", file.display()),
        );
        clawshim_proxy::config::Config::load(&clawshim_proxy::config::Settings {
            config: Some(cfg),
            gateway_url: Some("ws://127.0.0.1:1".into()),
            gateway_token: Some(TOKEN.into()),
            ..Default::default()
        })
        .unwrap()
    };
    let good = load(&dir.0.join("usage.redb"));
    let check = clawshim_proxy::commands::doctor::state::usage_file(&good).await;
    assert_eq!(check.outcome, Outcome::Pass, "{check:?}");
    // A directory that does not exist: the check fails and says what to do.
    let bad = load(&dir.0.join("missing").join("usage.redb"));
    let check = clawshim_proxy::commands::doctor::state::usage_file(&bad).await;
    assert_eq!(check.outcome, Outcome::Fail, "{check:?}");
    assert!(
        format!("{check:?}").contains("state.usage_file"),
        "{check:?}"
    );
}

#[tokio::test]
async fn an_idempotent_replay_is_not_counted_twice() {
    let dir = TempDir::new();
    let secret = "csk-replayed";
    let cfg = config(&dir.0, "replayed", secret, "", "");
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start_with(&gw.url(), move |s| s.config = Some(cfg), true).await;
    let ask = || {
        client()
            .post(shim.url("/v1/chat/completions"))
            .bearer_auth(secret)
            .header("Idempotency-Key", "once-only")
            .json(&user_msg("openclaw/main", "count me once"))
            .send()
    };
    let first: Value = ask().await.unwrap().json().await.unwrap();
    let output = first["usage"]["completion_tokens"].as_u64().unwrap();
    let requests = |n: u64| {
        let seen = clawshim_proxy::ops::metrics::get()
            .requests
            .with_label_values(&["chat_completions", "200", "replayed"])
            .get();
        std::future::ready(if seen == n { Ok(()) } else { Err(seen) })
    };
    poll_until("the first request counted", || requests(1)).await;
    assert_eq!(tokens("replayed", "main", "output"), output);
    let runs = gw.runs_started();
    let again: Value = ask().await.unwrap().json().await.unwrap();
    assert_eq!(again["choices"], first["choices"]);
    assert_eq!(gw.runs_started(), runs, "answered from the gateway's cache");
    // `logging` counts the request, then its tokens, with no wait in between.
    poll_until("the replay counted as a request", || requests(2)).await;
    assert_eq!(
        tokens("replayed", "main", "output"),
        output,
        "tokens counted once"
    );
}
