//! What the mock gateway received, as the suites ask about it: requests by method, the
//! params and run ids of `agent` requests, and waiting for a `chat.abort`.
//!
//! The mock records a request when its socket task reads it, before it answers; a request
//! clawshim sends on its own (an abort, a session delete, an unsubscribe) may arrive after
//! the client's response has ended, so ask for those with [`wait_aborted`] or a
//! [`crate::poll_until`], never once.

use serde_json::Value;

use crate::{poll_until, wait_until, MockGateway};

/// Every request of `method` the mock received, in arrival order.
pub fn requests_of(gw: &MockGateway, method: &str) -> Vec<Value> {
    gw.requests()
        .into_iter()
        .filter(|r| r["method"] == method)
        .collect()
}

/// The string param `field` of every `agent` request the mock received, in order.
pub fn run_params(gw: &MockGateway, field: &str) -> Vec<String> {
    requests_of(gw, "agent")
        .iter()
        .map(|r| r["params"][field].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The run ids (`idempotencyKey`) of the `agent` requests whose message contains `marker`,
/// in arrival order.
pub fn run_ids(gw: &MockGateway, marker: &str) -> Vec<String> {
    requests_of(gw, "agent")
        .iter()
        .filter(|r| {
            r["params"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(marker))
        })
        .filter_map(|r| r["params"]["idempotencyKey"].as_str().map(str::to_owned))
        .collect()
}

/// Wait until the mock received an `agent` request whose message contains `marker`; its run
/// id. Panics if there is more than one.
pub async fn wait_run_id(gw: &MockGateway, marker: &str) -> String {
    let mut ids = poll_until(&format!("an agent request with {marker:?}"), || {
        let ids = run_ids(gw, marker);
        std::future::ready(if ids.is_empty() {
            Err("none yet")
        } else {
            Ok(ids)
        })
    })
    .await;
    assert_eq!(ids.len(), 1, "one run with {marker:?}: {ids:?}");
    ids.remove(0)
}

/// Whether the mock received a `chat.abort` for `run_id`.
pub fn aborted(gw: &MockGateway, run_id: &str) -> bool {
    requests_of(gw, "chat.abort")
        .iter()
        .any(|r| r["params"]["runId"] == run_id)
}

/// Wait until the mock received a `chat.abort` for `run_id`.
pub async fn wait_aborted(gw: &MockGateway, run_id: &str) {
    wait_until(&format!("chat.abort for {run_id}"), || aborted(gw, run_id)).await;
}
