//! Session-scoped events: on protocol 4 clawshim declares `session-scoped-events` and follows
//! only its own runs' sessions, so other clients' runs cost it nothing; on protocol 3 the
//! broadcast path stays.

use clawshim_tests::*;
use serde_json::{json, Value};

#[tokio::test]
async fn v4_receives_only_its_own_runs_events() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start_with(&gw.url(), |s| s.session_scoped_events = Some(true), true).await;
    let connect = requests_of(&gw, "connect").remove(0);
    assert_eq!(connect["params"]["caps"], json!(["session-scoped-events"]));

    // Another client's run: its events are not sent to clawshim's socket.
    gw.broadcast_foreign_run("someone else chatting").await;
    assert_eq!(gw.run_events_sent(), 0, "a foreign run reached clawshim");

    // Its own run streams as before: the session was followed before the run started.
    let mut body = user_msg("openclaw/main", "scoped stream");
    body["stream"] = json!(true);
    let res = shim.chat(body).await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(text.contains("scoped"), "{text}");
    assert!(gw.run_events_sent() > 0);

    let run = requests_of(&gw, "agent").remove(0);
    let key = run["params"]["sessionKey"].clone();
    let subscribed = requests_of(&gw, "sessions.messages.subscribe");
    assert_eq!(subscribed.len(), 1);
    assert_eq!(subscribed[0]["params"], json!({"key": key}));
    let order: Vec<Value> = gw
        .requests()
        .into_iter()
        .map(|r| r["method"].clone())
        .collect();
    let pos = |m: &str| order.iter().position(|x| x == m).unwrap();
    assert!(
        pos("sessions.messages.subscribe") < pos("agent"),
        "{order:?}"
    );
    let unsubscribed = poll_until("unsubscribe sent", || {
        let found = requests_of(&gw, "sessions.messages.unsubscribe");
        std::future::ready(if found.is_empty() {
            Err("none")
        } else {
            Ok(found)
        })
    })
    .await;
    assert_eq!(unsubscribed[0]["params"], json!({"key": key}));
}

#[tokio::test]
async fn v3_keeps_the_broadcast() {
    let gw = mock(Protocol::V3).await;
    let shim = Shim::start(&gw.url()).await;
    gw.broadcast_foreign_run("someone else chatting").await;
    assert!(gw.run_events_sent() > 0, "protocol 3 broadcasts every run");
    let res = shim.chat(user_msg("openclaw/main", "broadcast")).await;
    assert_eq!(res.status(), 200);
    assert!(requests_of(&gw, "sessions.messages.subscribe").is_empty());
}
