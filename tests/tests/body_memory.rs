//! End-to-end: eight concurrent worst-case bodies keep clawshim's memory bounded, on
//! `/v1/chat/completions` and on `/v1/responses`.
//!
//! Each body is as large as `limits.max_body_bytes` (20 MiB) allows and shaped to cost the
//! most per byte: `[[],[],...]` (three bytes per JSON value) where clawshim reads (content
//! parts, messages), where it skips (an ignored field) and where it measures without copying
//! (`tools`, kept as text for client tools), and arrays nested a few million levels deep. Parsed into `serde_json::Value` such a body costs hundreds of MB; read once
//! into typed structs, with skipped values never materialised and at most
//! `max_concurrent_bodies` bodies read at a time, the process's peak RSS grows by less than
//! the bodies' own size.
//!
//! Alone in its test binary: it measures the whole process (`VmHWM` in /proc/self/status,
//! reset through /proc/self/clear_refs), so no other test may run beside it.

use bytes::Bytes;
use clawshim_tests::*;

const BODY_LIMIT: usize = 20 << 20;
/// Every body is read at once (one body slot each): the worst case for memory.
const SLOTS: usize = 8;
/// The bound on peak RSS growth while the eight bodies are served: the eight bodies
/// themselves (each is buffered whole before parsing) plus 48 MiB for everything else
/// (parsed structs, buffers, runtimes, the mock gateway). Parsed through
/// `serde_json::Value`, one such body alone took over 200 MiB.
const BOUND_BYTES: u64 = (SLOTS * BODY_LIMIT) as u64 + (48 << 20);

/// A body of exactly `BODY_LIMIT` bytes: `head`, then `unit` repeated, then `tail`.
fn filled(head: &str, unit: &str, last: &str, tail: &str) -> Bytes {
    let room = BODY_LIMIT - head.len() - last.len() - tail.len();
    let mut body = String::with_capacity(BODY_LIMIT);
    body.push_str(head);
    for _ in 0..room / unit.len() {
        body.push_str(unit);
    }
    body.push_str(last);
    pad(&mut body, tail.len());
    body.push_str(tail);
    Bytes::from(body)
}

/// JSON whitespace up to `BODY_LIMIT - tail` bytes.
fn pad(body: &mut String, tail: usize) {
    while body.len() + tail < BODY_LIMIT {
        body.push(' ');
    }
}

/// Arrays nested as deep as fits: `{"messages":...,"tools":[[[...]]]}`.
fn nested(head: &str, tail: &str) -> Bytes {
    let depth = (BODY_LIMIT - head.len() - tail.len()) / 2;
    let mut body = String::with_capacity(BODY_LIMIT);
    body.push_str(head);
    body.push_str(&"[".repeat(depth));
    body.push_str(&"]".repeat(depth));
    pad(&mut body, tail.len());
    body.push_str(tail);
    Bytes::from(body)
}

fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

/// Serves each of `kinds` twice at once on `path` and returns the growth of peak RSS over
/// the RSS before, in bytes.
async fn peak_growth(shim: &Shim, path: &str, kinds: &[(Bytes, u16)]) -> u64 {
    for (body, _) in kinds {
        assert_eq!(body.len(), BODY_LIMIT);
    }
    let baseline = status_kb("VmRSS:");
    // Reset VmHWM to the current RSS (Linux >= 4.0), so it measures only what follows.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let url = shim.url(path);
    let tasks: Vec<_> = kinds
        .iter()
        .chain(kinds.iter())
        .map(|(body, want)| {
            let (body, want, url) = (body.clone(), *want, url.clone());
            tokio::spawn(async move {
                // The client shares one buffer per kind: `Bytes` clones copy nothing.
                // Debug builds parse 20 MiB slowly on a busy machine: a generous timeout.
                let resp = reqwest::Client::builder()
                    .timeout(WAIT * 3)
                    .build()
                    .expect("client")
                    .post(url)
                    .bearer_auth(TOKEN)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("answer");
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                assert_eq!(status, want, "{text}");
            })
        })
        .collect();
    for t in tasks {
        tokio::time::timeout(WAIT * 3, t)
            .await
            .expect("answered in time")
            .expect("request task");
    }
    let peak = status_kb("VmHWM:");
    let growth = peak.saturating_sub(baseline) * 1024;
    println!(
        "{path}: RSS before {baseline} kB, peak {peak} kB (VmHWM reset: {reset}), growth {} \
         MiB, bound {} MiB",
        growth >> 20,
        BOUND_BYTES >> 20
    );
    growth
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_worst_case_bodies_stay_under_the_bound() {
    let gw = mock(Protocol::V4).await;
    let shim = Shim::start_with(
        &gw.url(),
        |s| {
            s.max_concurrent_bodies = Some(SLOTS);
            // All from this test's one address.
            s.max_concurrent_bodies_per_client = Some(SLOTS);
        },
        true,
    )
    .await;
    let user = r#"{"role":"user","content":"hi"}"#;
    // (body, expected status): each kind twice.
    let chat = [
        // Content parts: 10 000 are read, the rest only counted -> 400.
        (
            filled(
                r#"{"messages":[{"role":"user","content":["#,
                "[],",
                "[]",
                "]}]}",
            ),
            400,
        ),
        // Messages: the first is not an object, the rest only counted -> 400.
        (filled(r#"{"messages":["#, "[],", "[]", "]}"), 400),
        // An ignored field: skipped without allocating; the request runs.
        (
            filled(
                &format!(r#"{{"messages":[{user}],"functions":["#),
                "[],",
                "[]",
                "]}",
            ),
            200,
        ),
        // Deep nesting in an ignored field: skipped iteratively; the request runs.
        (
            nested(&format!(r#"{{"messages":[{user}],"functions":"#), "}"),
            200,
        ),
    ];
    // `tools`, which clawshim reads for client tools: measured without copying, refused
    // over its cap (each kind four times).
    let chat_tools = [
        (
            filled(
                &format!(r#"{{"messages":[{user}],"tools":["#),
                "[],",
                "[]",
                "]}",
            ),
            400,
        ),
        (
            nested(&format!(r#"{{"messages":[{user}],"tools":"#), "}"),
            400,
        ),
    ];
    let chat_tools = [chat_tools.clone(), chat_tools].concat();
    // The same shapes for `/v1/responses`.
    let responses = [
        // Content parts of an item: the first is not an object, 10 000 are read -> 400.
        (
            filled(
                r#"{"input":[{"role":"user","content":["#,
                "[],",
                "[]",
                "]}]}",
            ),
            400,
        ),
        // Items: the first is not an object, the rest only counted -> 400.
        (filled(r#"{"input":["#, "[],", "[]", "]}"), 400),
        // An unknown field: skipped without allocating; the request runs.
        (
            filled(r#"{"input":"hi","x_custom":["#, "[],", "[]", "]}"),
            200,
        ),
        // Deep nesting in an ignored field: skipped iteratively; the request runs.
        (nested(r#"{"input":"hi","include":"#, "}"), 200),
    ];
    let responses_tools = [
        (filled(r#"{"input":"hi","tools":["#, "[],", "[]", "]}"), 400),
        (nested(r#"{"input":"hi","tools":"#, "}"), 400),
    ];
    let responses_tools = [responses_tools.clone(), responses_tools].concat();
    // One small request first, so lazily built state is not counted.
    assert_eq!(
        shim.chat(user_msg("openclaw/main", "warm up"))
            .await
            .status(),
        200
    );
    for (path, kinds) in [
        ("/v1/chat/completions", &chat[..]),
        ("/v1/chat/completions", &chat_tools[..]),
        ("/v1/responses", &responses[..]),
        ("/v1/responses", &responses_tools[..]),
    ] {
        let growth = peak_growth(&shim, path, kinds).await;
        assert!(
            growth < BOUND_BYTES,
            "{path}: peak RSS grew by {} MiB, over the bound of {} MiB",
            growth >> 20,
            BOUND_BYTES >> 20
        );
    }
}
