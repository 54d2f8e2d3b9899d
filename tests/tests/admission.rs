//! Overload becomes queueing: against a gateway that refuses runs with clawdbot 2026.1.24's
//! store-lock `UNAVAILABLE` while too many are in flight, every request still completes,
//! refusals that ran nothing are retried, and runs that started are never sent twice.

use std::collections::HashSet;

use clawshim_tests::*;
use serde_json::Value;

#[tokio::test]
async fn lock_refusals_are_queued_and_retried_until_every_run_completes() {
    let gw = mock_with(MockOptions {
        protocol: Protocol::V3,
        token: Some(TOKEN.to_string()),
        max_runs_in_flight: Some(2),
        ..MockOptions::default()
    })
    .await;
    let shim = Shim::start(&gw.url()).await;

    let requests = 16;
    let replies = futures_util::future::join_all((0..requests).map(|i| {
        let shim = &shim;
        async move {
            let res = shim
                .chat(user_msg("openclaw/main", &format!("parallel {i}")))
                .await;
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            (i, status, body)
        }
    }))
    .await;
    for (i, status, body) in &replies {
        assert_eq!(*status, 200, "request {i}: {body}");
        assert_eq!(
            body["choices"][0]["message"]["content"],
            format!("echo: parallel {i}"),
            "each reply belongs to its request"
        );
    }

    let runs = requests_of(&gw, "agent");
    assert!(
        runs.len() > requests,
        "the adaptive limit starts above the gateway's 2, so some runs were refused and retried ({} agent requests)",
        runs.len()
    );
    let ids: HashSet<&str> = runs
        .iter()
        .filter_map(|r| r["params"]["idempotencyKey"].as_str())
        .collect();
    assert_eq!(ids.len(), runs.len(), "every try carries a fresh run id");
    let messages: HashSet<&str> = runs
        .iter()
        .filter_map(|r| r["params"]["message"].as_str())
        .collect();
    assert_eq!(
        messages.len(),
        requests,
        "only the refused runs were sent again"
    );
}
