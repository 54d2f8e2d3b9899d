//! clawdbot 2026.1.24's session-store lock timing out after `accepted` is overload: the
//! adaptive limit shrinks, the run is not sent again (it may have called the model), and
//! later runs queue in clawshim and complete.
//!
//! The mock's `MOCK_STORE_LOCK` plays a whole run and then the final `res` the real
//! gateway sends when its post-run store write times out. One test in this binary: the
//! metrics it reads are process-wide.

use clawshim_tests::*;
use futures_util::future::join_all;
use serde_json::Value;

const LOCK_SIGNAL: &str = "clawshim_run_overloads_total{signal=\"lock_timeout_after_accept\"}";

/// The value of `series` (name with its labels, as Prometheus prints them) in a scrape.
fn value(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?.strip_prefix(' ')?;
        rest.trim().parse().ok()
    })
}

/// Scrape until `check` holds for the scrape's text.
async fn scrape_until(url: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
    poll_until(what, || async {
        let text = client()
            .get(url)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        if check(&text) {
            Ok(text)
        } else {
            Err(text)
        }
    })
    .await
}

/// `n` requests at once; every one must complete with its own reply.
async fn burst(shim: &Shim, tag: &str, n: usize) {
    let replies = join_all((0..n).map(|i| async move {
        let res = shim
            .chat(user_msg("openclaw/main", &format!("{tag} {i}")))
            .await;
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        (i, status, body)
    }))
    .await;
    for (i, status, body) in replies {
        assert_eq!(status, 200, "{tag} {i}: {body}");
        assert_eq!(
            body["choices"][0]["message"]["content"],
            format!("echo: {tag} {i}")
        );
    }
}

#[tokio::test]
async fn a_lock_timeout_after_accepted_shrinks_the_limit_and_is_never_sent_again() {
    let gw = mock(Protocol::V3).await;
    let metrics_port = free_port();
    let shim = Shim::start_with(
        &gw.url(),
        move |s| s.listeners.metrics_listen = Some(format!("127.0.0.1:{metrics_port}")),
        true,
    )
    .await;
    let murl = format!("http://127.0.0.1:{metrics_port}/metrics");

    burst(&shim, "warm-up", 8).await;
    let idle = |text: &str| value(text, "clawshim_runs_in_flight") == Some(0.0);
    let before = scrape_until(&murl, "no run in flight", idle).await;
    let limit = value(&before, "clawshim_run_limit").expect("clawshim_run_limit");
    assert_eq!(value(&before, LOCK_SIGNAL).unwrap_or(0.0), 0.0);

    let res = shim
        .chat(user_msg("openclaw/main", "MOCK_STORE_LOCK"))
        .await;
    assert_eq!(res.status(), 502);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "agent_run_failed", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("(UNAVAILABLE): Error: timeout acquiring session store lock:"),
        "{message}"
    );

    let after = scrape_until(&murl, "the lock timeout counted", |text| {
        value(text, LOCK_SIGNAL) == Some(1.0) && idle(text)
    })
    .await;
    let shrunk = value(&after, "clawshim_run_limit").expect("clawshim_run_limit");
    assert!(
        shrunk < limit,
        "the limit shrinks on the lock timeout: {limit} -> {shrunk}"
    );
    let sent = gw
        .requests()
        .into_iter()
        .filter(|r| r["method"] == "agent" && r["params"]["message"] == "MOCK_STORE_LOCK")
        .count();
    assert_eq!(
        sent, 1,
        "a run that may have called the model is not retried"
    );

    // Later runs queue behind the smaller limit and all complete.
    burst(&shim, "after", 2 * limit as usize).await;
}
