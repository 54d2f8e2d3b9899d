//! End-to-end: the pool of gateway sockets. A socket the gateway drops fails only the runs it
//! carried; the others finish, new requests go to the sockets still up, and the lost one
//! comes back.

use std::time::Duration;

use clawshim_tests::*;

/// How a stream ended: its full text, or the error code of its error event.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    Completed(String),
    Failed(String),
}

async fn read_to_end(resp: reqwest::Response) -> Ending {
    let text = tokio::time::timeout(WAIT, resp.text())
        .await
        .expect("stream ends")
        .unwrap();
    let events = parse_sse(&text);
    assert_eq!(
        events.last(),
        Some(&Sse::Done),
        "every stream ends with [DONE]"
    );
    let error = events.iter().find_map(|e| match e {
        Sse::Data(v) => v
            .get("error")
            .map(|e| e["code"].as_str().unwrap_or("").to_string()),
        _ => None,
    });
    match error {
        Some(code) => Ending::Failed(code),
        None => Ending::Completed(streamed_text(&events)),
    }
}

/// Starts six slow streams one after the other (each accepted before the next, so the pool
/// alternates sockets), then one that makes the gateway drop its own socket; returns how
/// each of the seven ended.
async fn six_runs_and_a_dropped_socket(sockets: usize) -> Vec<Ending> {
    let gw = mock_with(MockOptions {
        // Four deltas a second apart: the drop (after the last run's first delta) comes while
        // every run is still going, even on a loaded machine.
        chunk_delay: Duration::from_millis(1000),
        ..MockOptions::for_protocol(Protocol::V4)
    })
    .await;
    // Ready means every socket of the pool is up (`/readyz` `sockets_up`).
    let shim = Shim::start_with(&gw.url(), |s| s.gateway_sockets = Some(sockets), true).await;

    // A stream's header waits for its run's first event (a second here), so each run is
    // known started once the mock has its request, not once its header came.
    let start = |text: String| {
        let request = client()
            .post(shim.url("/v1/chat/completions"))
            .bearer_auth(TOKEN)
            .json(&stream_msg("openclaw/main", &text));
        tokio::spawn(async move {
            let resp = request.send().await.expect("request sent");
            assert_eq!(resp.status(), 200);
            read_to_end(resp).await
        })
    };
    let mut streams = Vec::new();
    for i in 0..6 {
        let text = format!("slow run number {i}");
        streams.push(start(text.clone()));
        wait_run_id(&gw, &text).await;
    }
    // Equal load (three each with two sockets): the first socket takes it.
    streams.push(start("MOCK_DROP_SOCKET go".to_owned()));

    let mut endings = Vec::new();
    for s in streams {
        endings.push(tokio::time::timeout(WAIT, s).await.unwrap().unwrap());
    }
    // With a socket left the next request is served at once; alone, the socket must come
    // back first (until then: a fast 503).
    if sockets == 1 {
        shim.wait_status("/readyz", 200).await;
    }
    assert_eq!(
        shim.chat(user_msg("openclaw/main", "next one"))
            .await
            .status(),
        200
    );
    wait_until("the dropped socket is back", || {
        gw.connections() == sockets && gw.total_connects() == sockets + 1
    })
    .await;
    endings
}

#[tokio::test]
async fn a_dropped_socket_fails_only_the_runs_it_carried() {
    let endings = six_runs_and_a_dropped_socket(2).await;
    let failed = |e: &Ending| matches!(e, Ending::Failed(code) if code == "gateway_disconnected");
    // Runs 0, 2, 4 and the dropper were on the first socket; 1, 3, 5 on the second.
    for (i, ending) in endings.iter().enumerate() {
        if i % 2 == 1 && i < 6 {
            assert_eq!(
                *ending,
                Ending::Completed(format!("echo: slow run number {i}")),
                "run {i} on the socket that stayed"
            );
        } else {
            assert!(failed(ending), "run {i} on the dropped socket: {ending:?}");
        }
    }
}

#[tokio::test]
async fn with_one_socket_a_drop_fails_every_run() {
    let endings = six_runs_and_a_dropped_socket(1).await;
    assert!(
        endings
            .iter()
            .all(|e| matches!(e, Ending::Failed(code) if code == "gateway_disconnected")),
        "{endings:?}"
    );
}

#[tokio::test]
async fn the_pool_is_not_ready_only_when_every_socket_is_down() {
    let gw = mock(Protocol::V3).await;
    let addr = gw.addr();
    let shim = Shim::start_with(&gw.url(), |s| s.gateway_sockets = Some(3), true).await;
    gw.stop().await;
    shim.wait_status("/readyz", 503).await;
    let resp = shim.chat(user_msg("openclaw/main", "anyone?")).await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    // Back on the same port: every socket reconnects.
    let gw = mock_at(Protocol::V3, addr).await;
    wait_until("three sockets again", || gw.connections() == 3).await;
    shim.wait_status("/readyz", 200).await;
    assert_eq!(
        shim.chat(user_msg("openclaw/main", "back")).await.status(),
        200
    );
}
