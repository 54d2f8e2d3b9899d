//! Table tests of the frame router over frames recorded from the real gateways (clawdbot
//! 2026.1.24: gateway-lab traces `simple`, `idempotent_replay`, `unknown_agent`, `tick`,
//! `shutdown`; openclaw 2026.9.6: openclaw-lab trace `simple`). Final answers are cut to the
//! fields the router reads (the traces also carry `systemPromptReport` and friends); ids are
//! the traces' own.

use super::*;
use crate::gateway::events::{RunOutcome, Usage};
use crate::gateway::progress::Progress;

// clawdbot 2026.1.24, gateway-lab simple: one run, three deltas.
const V3_REQ: &str = "1db9f478-24f5-47ad-a003-23767c1680b9";
const V3_RUN: &str = "6bddc97c-8ddf-4b09-a16d-64e898a1ea2a";
const V3_ACCEPTED: &str = r#"{"type":"res","id":"1db9f478-24f5-47ad-a003-23767c1680b9","ok":true,"payload":{"runId":"6bddc97c-8ddf-4b09-a16d-64e898a1ea2a","status":"accepted","acceptedAt":1795566112231}}"#;
const V3_LIFECYCLE_START: &str = r#"{"type":"event","event":"agent","payload":{"runId":"6bddc97c-8ddf-4b09-a16d-64e898a1ea2a","stream":"lifecycle","data":{"phase":"start","startedAt":1795566112548},"sessionKey":"agent:main:openai:e538f12d-f73c-4973-b6ad-8f4548255d18","seq":1,"ts":1795566112548},"seq":51}"#;
const V3_DELTA_1: &str = r#"{"type":"event","event":"agent","payload":{"runId":"6bddc97c-8ddf-4b09-a16d-64e898a1ea2a","stream":"assistant","data":{"text":"echo: hello","delta":"echo: hello"},"sessionKey":"agent:main:openai:e538f12d-f73c-4973-b6ad-8f4548255d18","seq":2,"ts":1795566112616},"seq":52}"#;
const V3_CHAT_DELTA: &str = r#"{"type":"event","event":"chat","payload":{"runId":"6bddc97c-8ddf-4b09-a16d-64e898a1ea2a","sessionKey":"agent:main:openai:e538f12d-f73c-4973-b6ad-8f4548255d18","seq":2,"state":"delta","message":{"role":"assistant","content":[{"type":"text","text":"echo: hello"}],"timestamp":1795566112617}},"seq":53}"#;
const V3_DELTA_2: &str = r#"{"type":"event","event":"agent","payload":{"runId":"6bddc97c-8ddf-4b09-a16d-64e898a1ea2a","stream":"assistant","data":{"text":"echo: hello from the","delta":" from the"},"sessionKey":"agent:main:openai:e538f12d-f73c-4973-b6ad-8f4548255d18","seq":3,"ts":1795566112676},"seq":54}"#;
const V3_DELTA_3: &str = r#"{"type":"event","event":"agent","payload":{"runId":"6bddc97c-8ddf-4b09-a16d-64e898a1ea2a","stream":"assistant","data":{"text":"echo: hello from the ws harness","delta":" ws harness"},"sessionKey":"agent:main:openai:e538f12d-f73c-4973-b6ad-8f4548255d18","seq":4,"ts":1795566112737},"seq":55}"#;
const V3_FINAL: &str = r#"{"type":"res","id":"1db9f478-24f5-47ad-a003-23767c1680b9","ok":true,"payload":{"runId":"6bddc97c-8ddf-4b09-a16d-64e898a1ea2a","status":"ok","summary":"completed","result":{"payloads":[{"text":"echo: hello from the ws harness","mediaUrl":null}],"meta":{"durationMs":233,"agentMeta":{"sessionId":"b1c69575-8d0c-4fdd-9273-bdea10e8fe11","provider":"mock","model":"mock-echo","usage":{"input":2579,"output":7,"cacheRead":0,"cacheWrite":0,"total":2586}},"aborted":false}}}}"#;

// gateway-lab idempotent_replay: a second `agent` request with the finished run's key gets
// the cached final answer on its own id, with no `accepted` first.
const REPLAY_REQ: &str = "67592121-2eeb-4776-95b1-47c371ee2c61";
const REPLAY_RUN: &str = "914a0fb2-6ed9-4249-a6ea-ca7b0487d097";
const REPLAY_FINAL: &str = r#"{"type":"res","id":"67592121-2eeb-4776-95b1-47c371ee2c61","ok":true,"payload":{"runId":"914a0fb2-6ed9-4249-a6ea-ca7b0487d097","status":"ok","summary":"completed","result":{"payloads":[{"text":"echo: replay me","mediaUrl":null}],"meta":{"durationMs":240,"agentMeta":{"sessionId":"d9dce615-54be-4db6-bb56-bdb16b1fc1d4","provider":"mock","model":"mock-echo","usage":{"input":2558,"output":3,"cacheRead":0,"cacheWrite":0,"total":2561}},"aborted":false}}}}"#;

// gateway-lab unknown_agent: refused before anything ran.
const UNKNOWN_AGENT_REQ: &str = "cb72effd-228d-4950-83d5-920865e27bfa";
const UNKNOWN_AGENT: &str = r#"{"type":"res","id":"cb72effd-228d-4950-83d5-920865e27bfa","ok":false,"error":{"code":"INVALID_REQUEST","message":"invalid agent params: unknown agent id \"nope-does-not-exist\""}}"#;

// gateway-lab tick, shutdown.
const TICK: &str = r#"{"type":"event","event":"tick","payload":{"ts":1795566194748},"seq":184}"#;
const SHUTDOWN: &str = r#"{"type":"event","event":"shutdown","payload":{"reason":"gateway stopping","restartExpectedMs":null},"seq":187}"#;

// openclaw 2026.9.6, openclaw-lab simple: `accepted` names the session and agent, deltas
// carry an `itemId`, and a `usage` stream runs beside `assistant`.
const V4_REQ: &str = "7c398ebb-01ec-428f-b952-d48cb36c2bba";
const V4_RUN: &str = "1c795892-e9e2-4435-a181-1ec02752213f";
const V4_ACCEPTED: &str = r#"{"type":"res","id":"7c398ebb-01ec-428f-b952-d48cb36c2bba","ok":true,"payload":{"runId":"1c795892-e9e2-4435-a181-1ec02752213f","sessionKey":"agent:main:openai:626b30d8-d009-42d8-860e-f93048ed5ade","agentId":"main","status":"accepted","acceptedAt":1795689832814}}"#;
const V4_DELTA_1: &str = r#"{"type":"event","event":"agent","payload":{"runId":"1c795892-e9e2-4435-a181-1ec02752213f","stream":"assistant","data":{"text":"echo: hello","delta":"echo: hello","itemId":"2c9fe8c8-b7e0-4b36-b843-52e5b817044c:1"},"sessionKey":"agent:main:openai:626b30d8-d009-42d8-860e-f93048ed5ade","agentId":"main","seq":3,"ts":1795689833065},"seq":7}"#;
const V4_DELTA_2: &str = r#"{"type":"event","event":"agent","payload":{"runId":"1c795892-e9e2-4435-a181-1ec02752213f","stream":"assistant","data":{"text":"echo: hello from the","delta":" from the","itemId":"2c9fe8c8-b7e0-4b36-b843-52e5b817044c:1"},"sessionKey":"agent:main:openai:626b30d8-d009-42d8-860e-f93048ed5ade","agentId":"main","seq":4,"ts":1795689833125},"seq":9}"#;
const V4_DELTA_3: &str = r#"{"type":"event","event":"agent","payload":{"runId":"1c795892-e9e2-4435-a181-1ec02752213f","stream":"assistant","data":{"text":"echo: hello from the ws harness","delta":" ws harness","itemId":"2c9fe8c8-b7e0-4b36-b843-52e5b817044c:1"},"sessionKey":"agent:main:openai:626b30d8-d009-42d8-860e-f93048ed5ade","agentId":"main","seq":5,"ts":1795689833186},"seq":11}"#;
const V4_USAGE: &str = r#"{"type":"event","event":"agent","payload":{"runId":"1c795892-e9e2-4435-a181-1ec02752213f","sessionKey":"agent:main:openai:626b30d8-d009-42d8-860e-f93048ed5ade","stream":"usage","data":{"outputTokens":7},"agentId":"main","seq":6,"ts":1795689833188},"seq":12}"#;
const V4_FINAL: &str = r#"{"type":"res","id":"7c398ebb-01ec-428f-b952-d48cb36c2bba","ok":true,"payload":{"runId":"1c795892-e9e2-4435-a181-1ec02752213f","status":"ok","summary":"completed","result":{"payloads":[{"text":"echo: hello from the ws harness","mediaUrl":null}],"meta":{"durationMs":339,"aborted":false,"stopReason":"stop","agentMeta":{"sessionId":"becf84fe-34b7-45a1-969b-2a17afd566c0","provider":"mock","model":"mock-echo","usage":{"input":6720,"output":7,"cacheRead":0,"cacheWrite":0,"total":6727,"cost":{"total":0}}}}}}}"#;

/// What a v3 run's reader sees of the final answer.
const V3_END: [&str; 2] = [
    "finished echo: hello from the ws harness Completed 2586",
    "closed",
];

/// One thing that happens to the router, in order.
enum Step {
    /// Register an `agent` run (request id, run id, events buffered); aborted when dropped.
    Run(&'static str, &'static str, usize),
    /// The same, started with a client's idempotency key: kept for the client's retry.
    KeptRun(&'static str, &'static str, usize),
    /// Register a call (request id).
    Call(&'static str),
    /// A frame from the gateway that means nothing more to the socket.
    Frame(&'static str),
    /// A frame from the gateway, and what it means for the socket.
    Effect(&'static str, FrameEffect),
    /// The run's reader stopped (`Command::Forget`).
    Forget(&'static str),
}
use Step::*;

/// What a waiter for `accepted` (or a call) got, as text: `ok`, `err <code>`, `waiting`.
/// What a run's channel holds, as text: `delta <text>`, `finished <text> <stop> <total>`,
/// `failed <code>`, then `closed` once the router let go of the run.
#[derive(Default)]
struct Case {
    name: &'static str,
    steps: Vec<Step>,
    /// (request id, what its waiter got).
    answers: Vec<(&'static str, &'static str)>,
    /// (run id, its events in order).
    events: Vec<(&'static str, Vec<&'static str>)>,
    /// Entries left in the pending map and the run map.
    pending: usize,
    runs: usize,
    /// Clean-up frames queued (aborts of runs nobody reads), on protocol 4.
    cleanup: usize,
    /// Protocol violations the router noted.
    oddities: Vec<Oddity>,
}

fn cases() -> Vec<Case> {
    let v3_whole_run = vec![
        Run(V3_REQ, V3_RUN, 8),
        Frame(V3_ACCEPTED),
        Frame(V3_LIFECYCLE_START),
        Frame(V3_DELTA_1),
        Frame(V3_CHAT_DELTA),
        Frame(V3_DELTA_2),
        Frame(V3_DELTA_3),
        Frame(V3_FINAL),
    ];
    let v3_events = [
        &["delta echo: hello", "delta  from the", "delta  ws harness"][..],
        &V3_END,
    ]
    .concat();
    vec![
        Case {
            name: "two res on one id: accepted, then the final answer (v3)",
            steps: v3_whole_run,
            answers: vec![(V3_REQ, "ok")],
            events: vec![(V3_RUN, v3_events)],
            ..Case::default()
        },
        Case {
            name: "two res on one id, other event streams ignored (v4)",
            steps: vec![
                Run(V4_REQ, V4_RUN, 8),
                Frame(V4_ACCEPTED),
                Frame(V4_DELTA_1),
                Frame(V4_DELTA_2),
                Frame(V4_DELTA_3),
                Frame(V4_USAGE),
                Frame(V4_FINAL),
            ],
            answers: vec![(V4_REQ, "ok")],
            events: vec![(
                V4_RUN,
                vec![
                    "delta echo: hello",
                    "delta  from the",
                    "delta  ws harness",
                    "finished echo: hello from the ws harness Completed 6727",
                    "closed",
                ],
            )],
            ..Case::default()
        },
        Case {
            name: "a second accepted is noted and changes nothing",
            steps: vec![
                Run(V3_REQ, V3_RUN, 8),
                Frame(V3_ACCEPTED),
                Frame(V3_DELTA_1),
                Frame(V3_ACCEPTED),
                Frame(V3_DELTA_2),
            ],
            answers: vec![(V3_REQ, "ok")],
            events: vec![(V3_RUN, vec!["delta echo: hello", "delta  from the"])],
            pending: 1,
            runs: 1,
            oddities: vec![Oddity::DuplicateAccepted],
            ..Case::default()
        },
        Case {
            name: "events of unknown runs are dropped; ours still arrive",
            steps: vec![
                Run(V4_REQ, V4_RUN, 8),
                Frame(V4_ACCEPTED),
                Frame(V3_DELTA_1),
                Frame(V3_ACCEPTED),
                Frame(V4_DELTA_1),
            ],
            answers: vec![(V4_REQ, "ok")],
            events: vec![(V4_RUN, vec!["delta echo: hello"])],
            pending: 1,
            runs: 1,
            oddities: vec![Oddity::UnknownResponse],
            ..Case::default()
        },
        Case {
            name: "a full channel drops the run and queues its abort, never blocks",
            steps: vec![
                Run(V4_REQ, V4_RUN, 2),
                Frame(V4_ACCEPTED),
                Frame(V4_DELTA_1),
                Frame(V4_DELTA_2),
                Frame(V4_DELTA_3),
                // Its later frames find nobody.
                Frame(V4_USAGE),
                Frame(V4_FINAL),
            ],
            answers: vec![(V4_REQ, "ok")],
            // The reader sees its channel close without a final event: `Lagged`.
            events: vec![(
                V4_RUN,
                vec!["delta echo: hello", "delta  from the", "closed"],
            )],
            cleanup: 1,
            oddities: vec![Oddity::UnknownResponse],
            ..Case::default()
        },
        Case {
            name: "a full channel keeps a run kept for retry pending, without a reader",
            steps: vec![
                KeptRun(V4_REQ, V4_RUN, 1),
                Frame(V4_ACCEPTED),
                Frame(V4_DELTA_1),
                Frame(V4_DELTA_2),
            ],
            answers: vec![(V4_REQ, "ok")],
            events: vec![(V4_RUN, vec!["delta echo: hello", "closed"])],
            pending: 1,
            ..Case::default()
        },
        Case {
            name: "frames after a run ended (a delta, an accepted, a third res) find nobody",
            steps: vec![
                Run(V3_REQ, V3_RUN, 8),
                Frame(V3_ACCEPTED),
                Frame(V3_FINAL),
                Frame(V3_DELTA_3),
                Frame(V3_ACCEPTED),
                Frame(V3_FINAL),
            ],
            answers: vec![(V3_REQ, "ok")],
            events: vec![(V3_RUN, V3_END.to_vec())],
            oddities: vec![Oddity::UnknownResponse],
            ..Case::default()
        },
        Case {
            name: "a forgotten run leaves both maps and is aborted; its frames find nobody",
            steps: vec![
                Run(V4_REQ, V4_RUN, 8),
                Frame(V4_ACCEPTED),
                Forget(V4_RUN),
                Frame(V4_DELTA_1),
                Frame(V4_FINAL),
            ],
            answers: vec![(V4_REQ, "ok")],
            events: vec![(V4_RUN, vec!["closed"])],
            cleanup: 1,
            oddities: vec![Oddity::UnknownResponse],
            ..Case::default()
        },
        Case {
            name: "refused before it started: the waiter gets the gateway's error",
            steps: vec![
                Run(UNKNOWN_AGENT_REQ, "r-unknown-agent", 8),
                Frame(UNKNOWN_AGENT),
            ],
            answers: vec![(UNKNOWN_AGENT_REQ, "err INVALID_REQUEST")],
            events: vec![("r-unknown-agent", vec!["closed"])],
            ..Case::default()
        },
        Case {
            name: "an idempotent replay: the final answer alone starts and ends the run",
            steps: vec![KeptRun(REPLAY_REQ, REPLAY_RUN, 8), Frame(REPLAY_FINAL)],
            answers: vec![(REPLAY_REQ, "ok")],
            events: vec![(
                REPLAY_RUN,
                vec!["finished echo: replay me Completed 2561", "closed"],
            )],
            ..Case::default()
        },
        Case {
            name: "a call gets its payload or the gateway's refusal",
            steps: vec![
                Call(V4_REQ),
                Call(UNKNOWN_AGENT_REQ),
                Frame(V4_ACCEPTED),
                Frame(UNKNOWN_AGENT),
            ],
            answers: vec![(V4_REQ, "ok"), (UNKNOWN_AGENT_REQ, "err INVALID_REQUEST")],
            events: vec![],
            ..Case::default()
        },
        Case {
            name: "tick and shutdown are the socket's",
            steps: vec![
                Run(V3_REQ, V3_RUN, 8),
                Effect(TICK, FrameEffect::Tick),
                Effect(
                    SHUTDOWN,
                    FrameEffect::Lost("gateway shutting down: gateway stopping".into()),
                ),
            ],
            answers: vec![(V3_REQ, "waiting")],
            events: vec![(V3_RUN, vec![])],
            pending: 1,
            runs: 1,
            ..Case::default()
        },
        Case {
            name: "what is not a frame is noted and dropped",
            steps: vec![
                Run(V3_REQ, V3_RUN, 8),
                Frame("not json"),
                Frame(r#"{"type":"hello"}"#),
                Frame(r#"{"type":"event","event":"agent","payload":{"runId":7}}"#),
                Frame(V3_DELTA_1),
            ],
            answers: vec![(V3_REQ, "waiting")],
            events: vec![(V3_RUN, vec!["delta echo: hello"])],
            pending: 1,
            runs: 1,
            oddities: vec![
                Oddity::Unparsable,
                Oddity::UnknownType,
                Oddity::MalformedEvent,
            ],
            ..Case::default()
        },
    ]
}

/// Register an `agent` run `run` under request `req` with room for `buffer` events; returns
/// whether it was registered, its `accepted` waiter and its events.
fn register_run(
    router: &mut FrameRouter,
    req: &str,
    run: &str,
    buffer: usize,
    keep_for_retry: bool,
) -> (
    bool,
    oneshot::Receiver<Result<(), GatewayError>>,
    mpsc::Receiver<RunEvent>,
) {
    register_run_at(
        router,
        req,
        run,
        buffer,
        keep_for_retry,
        ProgressLevel::Steps,
    )
}

/// [`register_run`] with the run's progress level.
fn register_run_at(
    router: &mut FrameRouter,
    req: &str,
    run: &str,
    buffer: usize,
    keep_for_retry: bool,
    progress: ProgressLevel,
) -> (
    bool,
    oneshot::Receiver<Result<(), GatewayError>>,
    mpsc::Receiver<RunEvent>,
) {
    let (events, events_rx) = mpsc::channel(buffer);
    let (accepted, accepted_rx) = oneshot::channel();
    let kind = PendingKind::Run {
        run_id: RunId::from(run),
        events,
        progress,
        accepted,
        orphan: Orphan {
            run_id: RunId::from(run),
            session_key: "agent:main:openai:x".into(),
            agent_id: "main".into(),
            delete_session: false,
            keep_for_retry,
        },
    };
    let registered = router.register(RequestId::from(req), kind);
    (registered, accepted_rx, events_rx)
}

fn answer_text<T>(rx: &mut oneshot::Receiver<Result<T, GatewayError>>) -> String {
    match rx.try_recv() {
        Ok(Ok(_)) => "ok".into(),
        Ok(Err(GatewayError::Rejected { code, .. })) => format!("err {code}"),
        Ok(Err(e)) => format!("err {e:?}"),
        Err(oneshot::error::TryRecvError::Empty) => "waiting".into(),
        Err(oneshot::error::TryRecvError::Closed) => "dropped".into(),
    }
}

fn event_texts(rx: &mut mpsc::Receiver<RunEvent>) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(RunEvent::Delta(text)) => out.push(format!("delta {text}")),
            Ok(RunEvent::Finished(RunOutcome {
                text, usage, stop, ..
            })) => out.push(format!(
                "finished {text} {stop:?} {}",
                usage.map_or(0, |u: Usage| u.total)
            )),
            Ok(RunEvent::Failed(GatewayError::RunFailed { code, .. })) => {
                out.push(format!("failed {code}"))
            }
            Ok(RunEvent::Progress(Progress::Tool(step))) => out.push(format!(
                "step {:?} {} {:?}",
                step.phase,
                step.title.or(step.name).unwrap_or_default(),
                step.status
            )),
            Ok(RunEvent::Progress(Progress::Thinking(text))) => {
                out.push(format!("thinking {text}"))
            }
            Ok(other) => out.push(format!("{other:?}")),
            Err(mpsc::error::TryRecvError::Empty) => return out,
            Err(mpsc::error::TryRecvError::Disconnected) => {
                out.push("closed".into());
                return out;
            }
        }
    }
}

#[tokio::test]
async fn recorded_frames_reach_the_right_waiters() {
    for case in cases() {
        let name = case.name;
        let mut router = FrameRouter::default();
        let pool = PoolState::default();
        let mut answers: HashMap<&str, oneshot::Receiver<Result<(), GatewayError>>> =
            HashMap::new();
        let mut calls: HashMap<&str, oneshot::Receiver<Answer>> = HashMap::new();
        let mut events: HashMap<&str, mpsc::Receiver<RunEvent>> = HashMap::new();
        for step in case.steps {
            match step {
                Run(req, run, buffer) | KeptRun(req, run, buffer) => {
                    let keep = matches!(step, KeptRun(..));
                    let (registered, accepted, run_events) =
                        register_run(&mut router, req, run, buffer, keep);
                    assert!(registered, "{name}");
                    answers.insert(req, accepted);
                    events.insert(run, run_events);
                }
                Call(req) => {
                    let (reply, rx) = oneshot::channel();
                    router.register(RequestId::from(req), PendingKind::Call(reply));
                    calls.insert(req, rx);
                }
                Frame(text) => {
                    let effect = router.route(text, &pool);
                    assert_eq!(effect, FrameEffect::Nothing, "{name}: {text}");
                }
                Effect(text, effect) => {
                    assert_eq!(router.route(text, &pool), effect, "{name}: {text}");
                }
                Forget(run) => router.abandon_run(run),
            }
        }
        for (req, expected) in case.answers {
            let got = match (answers.get_mut(req), calls.get_mut(req)) {
                (Some(rx), _) => answer_text(rx),
                (None, Some(rx)) => answer_text(rx),
                (None, None) => panic!("{name}: no waiter {req}"),
            };
            assert_eq!(got, expected, "{name}: answer to {req}");
        }
        for (run, expected) in case.events {
            let got = event_texts(events.get_mut(run).expect("a registered run"));
            assert_eq!(got, expected, "{name}: events of {run}");
        }
        assert_eq!(router.pending.len(), case.pending, "{name}: pending");
        assert_eq!(router.runs.len(), case.runs, "{name}: runs");
        assert_eq!(
            router.take_cleanup(4).len(),
            case.cleanup,
            "{name}: clean-up"
        );
        for kind in [
            Oddity::Unparsable,
            Oddity::UnknownType,
            Oddity::UnknownResponse,
            Oddity::DuplicateAccepted,
            Oddity::MalformedEvent,
        ] {
            assert_eq!(
                router.oddities.saw(kind),
                case.oddities.contains(&kind),
                "{name}: {kind:?}"
            );
        }
    }
}

#[test]
fn registering_a_run_id_twice_is_an_error() {
    let mut router = FrameRouter::default();
    let (registered, mut first, _) = register_run(&mut router, "q1", "r1", 1, false);
    assert!(registered);
    let (registered, mut second, _) = register_run(&mut router, "q2", "r1", 1, false);
    assert!(!registered);
    assert_eq!(
        second.try_recv(),
        Ok(Err(GatewayError::DuplicateRun(RunId::from("r1"))))
    );
    // The first run keeps its registration and still waits for `accepted`.
    assert!(first.try_recv().is_err());
    assert_eq!(router.runs.len(), 1);
    assert_eq!(router.pending.len(), 1);
}

#[test]
fn a_retry_joins_a_run_kept_for_it_and_both_see_its_end() {
    // The first reader leaves a run kept for retry; the retry registers the same run id on
    // a new request, which the gateway answers with its cached `accepted` (gateway-lab
    // idempotent_replay); the first request's final answer ends both.
    let mut router = FrameRouter::default();
    let pool = PoolState::default();
    let (_, mut first, mut first_events) = register_run(&mut router, V3_REQ, V3_RUN, 8, true);
    router.route(V3_ACCEPTED, &pool);
    assert_eq!(answer_text(&mut first), "ok");
    router.abandon_run(V3_RUN);
    assert_eq!(event_texts(&mut first_events), vec!["closed"]);
    let (registered, mut retry, mut retry_events) =
        register_run(&mut router, "retry-req", V3_RUN, 8, true);
    assert!(registered);
    router.route(V3_DELTA_3, &pool);
    router.route(V3_FINAL, &pool);
    assert_eq!(answer_text(&mut retry), "ok");
    assert_eq!(
        event_texts(&mut retry_events),
        vec![
            "delta  ws harness",
            "finished echo: hello from the ws harness Completed 2586",
            "closed"
        ]
    );
    assert!(router.pending.is_empty() && router.runs.is_empty());
    assert!(
        router.take_cleanup(4).is_empty(),
        "a kept run is not aborted"
    );
}

#[test]
fn a_lost_connection_fails_everything_in_flight_and_returns_the_runs() {
    let mut router = FrameRouter::default();
    let pool = PoolState::default();
    let (_, mut accepted, mut run_events) = register_run(&mut router, V4_REQ, V4_RUN, 8, false);
    let (reply, mut call) = oneshot::channel();
    router.register(RequestId::from("call-1"), PendingKind::Call(reply));
    router.route(V4_DELTA_1, &pool);
    let lost = GatewayError::Disconnected {
        reason: "closed".into(),
    };
    let orphans = router.fail_all(lost.clone());
    assert_eq!(orphans.len(), 1);
    assert_eq!(orphans[0].run_id.as_str(), V4_RUN);
    assert_eq!(accepted.try_recv(), Ok(Err(lost.clone())));
    assert!(matches!(call.try_recv(), Ok(Err(e)) if e == lost));
    assert_eq!(
        run_events.try_recv(),
        Ok(RunEvent::Delta("echo: hello".into()))
    );
    assert_eq!(run_events.try_recv(), Ok(RunEvent::Failed(lost)));
    assert!(router.pending.is_empty() && router.runs.is_empty());
}

// gateway-lab tool_call (clawdbot 2026.1.24, session verbose on): a tool step between the
// lifecycle start and the answer.
const V3_TOOL_RUN: &str = "f4dc718e-3d8c-4806-b5b8-7192f9e84607";
const V3_TOOL_START: &str = r#"{"type":"event","event":"agent","payload":{"runId":"f4dc718e-3d8c-4806-b5b8-7192f9e84607","stream":"tool","data":{"phase":"start","name":"agents_list","toolCallId":"call_mock_d3f624e3","args":{}},"sessionKey":"agent:main:openai:91dac49c-3510-4562-9265-2ebc59965169","seq":2,"ts":1795566120404},"seq":115}"#;
const V3_TOOL_RESULT: &str = r#"{"type":"event","event":"agent","payload":{"runId":"f4dc718e-3d8c-4806-b5b8-7192f9e84607","stream":"tool","data":{"phase":"result","name":"agents_list","toolCallId":"call_mock_d3f624e3","isError":false,"result":{"content":[{"type":"text","text":"{}"}]}},"sessionKey":"agent:main:openai:91dac49c-3510-4562-9265-2ebc59965169","seq":3,"ts":1795566120404},"seq":116}"#;
const V3_TOOL_DELTA: &str = r#"{"type":"event","event":"agent","payload":{"runId":"f4dc718e-3d8c-4806-b5b8-7192f9e84607","stream":"assistant","data":{"text":"echo: tool","delta":"echo: tool"},"sessionKey":"agent:main:openai:91dac49c-3510-4562-9265-2ebc59965169","seq":4,"ts":1795566120473},"seq":117}"#;
// openclaw-lab tool_call (openclaw 2026.9.6): `item` events, no verbose needed.
const V4_TOOL_RUN: &str = "d03b7c21-138a-436c-91c6-3e0299bcb87d";
const V4_ITEM_START: &str = r#"{"type":"event","event":"agent","payload":{"runId":"d03b7c21-138a-436c-91c6-3e0299bcb87d","stream":"item","data":{"itemId":"tool:call_mock_164c858e","toolCallId":"call_mock_164c858e","name":"agents_list","kind":"tool","phase":"start","title":"Agents","status":"running","commandBearing":false,"startedAt":1795689841412},"sessionKey":"agent:main:openai:cd8166d3-bf2b-4761-b5b1-5b1a3715625d","agentId":"main","seq":4,"ts":1795689841413},"seq":138}"#;
const V4_ITEM_END: &str = r#"{"type":"event","event":"agent","payload":{"runId":"d03b7c21-138a-436c-91c6-3e0299bcb87d","stream":"item","data":{"itemId":"tool:call_mock_164c858e","toolCallId":"call_mock_164c858e","name":"agents_list","kind":"tool","phase":"end","title":"Agents","status":"blocked","commandBearing":false,"startedAt":1795689841412,"endedAt":1795689841418,"error":"Tool agents_list not found"},"sessionKey":"agent:main:openai:cd8166d3-bf2b-4761-b5b1-5b1a3715625d","agentId":"main","seq":7,"ts":1795689841418},"seq":139}"#;

#[test]
fn tool_steps_reach_their_run_in_order_on_both_protocols() {
    let mut router = FrameRouter::default();
    let pool = PoolState::default();
    let (_, _, mut v3) = register_run(&mut router, "q3", V3_TOOL_RUN, 8, false);
    let (_, _, mut v4) = register_run(&mut router, "q4", V4_TOOL_RUN, 8, false);
    for frame in [
        V3_TOOL_START,
        V4_ITEM_START,
        V3_TOOL_RESULT,
        V4_ITEM_END,
        V3_TOOL_DELTA,
    ] {
        assert_eq!(router.route(frame, &pool), FrameEffect::Nothing);
    }
    assert_eq!(
        event_texts(&mut v3),
        [
            "step Started agents_list Running",
            "step Ended agents_list Completed",
            "delta echo: tool"
        ]
    );
    assert_eq!(
        event_texts(&mut v4),
        ["step Started Agents Running", "step Ended Agents Blocked"]
    );
}

#[test]
fn progress_of_other_runs_and_of_runs_that_asked_for_none_goes_nowhere() {
    let mut router = FrameRouter::default();
    let pool = PoolState::default();
    // Another client's run on the same socket, and a run with progress off.
    let (_, _, mut other) = register_run(&mut router, "q1", "someone-else", 8, false);
    let (_, _, mut quiet) =
        register_run_at(&mut router, "q2", V4_TOOL_RUN, 8, false, ProgressLevel::Off);
    router.route(V4_ITEM_START, &pool);
    router.route(V3_TOOL_START, &pool); // a run nobody here started
    assert!(event_texts(&mut other).is_empty());
    assert!(event_texts(&mut quiet).is_empty());
    assert_eq!(router.runs.len(), 2);
}

#[test]
fn a_full_channel_drops_progress_but_keeps_the_run() {
    let mut router = FrameRouter::default();
    let pool = PoolState::default();
    let (_, _, mut events) = register_run(&mut router, "q", V4_TOOL_RUN, 1, false);
    let thinking = |n: usize| {
        format!(
            r#"{{"type":"event","event":"agent","payload":{{"runId":"{V4_TOOL_RUN}","stream":"thinking","data":{{"text":"","delta":"t{n}"}},"seq":{n},"ts":1}}}}"#
        )
    };
    for n in 0..100_000 {
        router.route(&thinking(n), &pool);
    }
    assert_eq!(router.runs.len(), 1, "progress never drops the run");
    assert!(router.take_cleanup(4).is_empty());
    assert_eq!(event_texts(&mut events), ["thinking t0"]);
    router.route(&thinking(7), &pool);
    assert_eq!(event_texts(&mut events), ["thinking t7"]);
}
