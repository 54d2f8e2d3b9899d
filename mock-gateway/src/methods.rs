//! Requests after the handshake: the few methods a shim uses (`agent`, `agents.list`,
//! `models.list`, `health`, `chat.abort`, `sessions.abort`), answered with recorded payloads,
//! and `unknown method` for the rest (traces: unknown_agent).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::conn::{has_scope, ConnCtx};
use super::frame::{res_err, res_ok};
use super::run::{self, AbortKind, AbortRequest, Fault, RunSpec};
use super::{lock, ActiveRun, Cached, Protocol, Shared};

/// `agent` params the 2026.1.24 runtime schema accepts (`additionalProperties: false`; gateway
/// lab README, "agent request").
const AGENT_PARAMS_V3: &[&str] = &[
    "message",
    "idempotencyKey",
    "agentId",
    "to",
    "replyTo",
    "sessionId",
    "sessionKey",
    "thinking",
    "deliver",
    "attachments",
    "channel",
    "replyChannel",
    "accountId",
    "replyAccountId",
    "threadId",
    "groupId",
    "groupChannel",
    "groupSpace",
    "timeout",
    "lane",
    "extraSystemPrompt",
    "label",
    "spawnedBy",
];

/// 2026.9.6 drops `spawnedBy` and adds these (openclaw lab README, "agent params").
const AGENT_PARAMS_V4_EXTRA: &[&str] = &[
    "provider",
    "model",
    "expectedExistingSessionId",
    "bestEffortDeliver",
    "cwd",
    "cleanupBundleMcpOnRunEnd",
    "modelRun",
    "promptMode",
    "bootstrapContextMode",
    "bootstrapContextRunKind",
    "acpTurnSource",
    "inputProvenance",
    "suppressPromptPersistence",
    "sessionEffects",
    "sourceReplyDeliveryMode",
    "disableMessageTool",
    "forceRestartSafeTools",
    "forceCodeModeTools",
    "voiceWakeTrigger",
];

fn agent_param_allowed(protocol: Protocol, name: &str) -> bool {
    match protocol {
        Protocol::V3 => AGENT_PARAMS_V3.contains(&name),
        Protocol::V4 => {
            (name != "spawnedBy" && AGENT_PARAMS_V3.contains(&name))
                || AGENT_PARAMS_V4_EXTRA.contains(&name)
                || name.starts_with("internal")
                || name.starts_with("swarm")
        }
    }
}

fn invalid(message: impl Into<String>) -> Value {
    json!({"code": "INVALID_REQUEST", "message": message.into()})
}

/// Handles one text frame from a handshaken socket.
pub(super) fn handle(shared: &Arc<Shared>, conn: &ConnCtx, text: &str) {
    // A frame that is not JSON is only logged by the gateway (2026.1.24 message-handler.js).
    let Ok(frame) = serde_json::from_str::<Value>(text) else {
        return;
    };
    if frame["type"] != "req"
        || !frame["id"].is_string()
        || frame["method"].as_str().is_none_or(str::is_empty)
    {
        let problem = if frame["type"] != "req" {
            "at /type: must be equal to constant"
        } else if !frame["id"].is_string() {
            "must have required property 'id'"
        } else {
            "must have required property 'method'"
        };
        let id = frame.get("id").cloned().unwrap_or(Value::from("invalid"));
        let error = invalid(format!("invalid request frame: {problem}"));
        shared.send_to(conn.id, res_err(&id, error));
        return;
    }
    lock(&shared.requests).push(frame.clone());
    let id = &frame["id"];
    let method = frame["method"].as_str().unwrap_or_default();
    let params = &frame["params"];
    let v4 = shared.v4();

    // Protocol 4 checks scopes before anything else (traces: token_only_test_client).
    let needed = match method {
        "agents.list"
        | "models.list"
        | "health"
        | "sessions.messages.subscribe"
        | "sessions.messages.unsubscribe" => Some(("operator.read", "missing_scope_read")),
        "agent" | "chat.abort" | "sessions.abort" => {
            Some(("operator.write", "missing_scope_write"))
        }
        _ => None,
    };
    if let Some((scope, fixture)) = needed {
        if v4 && !has_scope(&conn.scopes, scope) {
            shared.send_to(conn.id, res_err(id, shared.fx.error(fixture)));
            return;
        }
    }

    let reply = match method {
        "connect" => res_err(id, invalid("connect is only valid as the first request")),
        "health" => res_ok(id, shared.health_payload()),
        "agents.list" => res_ok(id, agents_list(shared)),
        "models.list" => res_ok(id, shared.fx.models_list["payload"].clone()),
        "agent" => match agent(shared, conn, id, params) {
            Some(reply) => reply,
            None => return,
        },
        "chat.abort" => match chat_abort(shared, conn, id, params) {
            Some(reply) => reply,
            None => return,
        },
        "sessions.abort" if v4 => match sessions_abort(shared, conn, id, params) {
            Some(reply) => reply,
            None => return,
        },
        // traces: broadcast_scoped (`{subscribed:true,key}`; unsubscribe answers `false`)
        "sessions.messages.subscribe" | "sessions.messages.unsubscribe" if v4 => {
            match params["key"]
                .as_str()
                .map(str::trim)
                .filter(|k| !k.is_empty())
            {
                Some(key) => {
                    let subscribe = method == "sessions.messages.subscribe";
                    shared.set_subscribed(conn.id, key, subscribe);
                    res_ok(id, json!({"subscribed": subscribe, "key": key}))
                }
                None => res_err(
                    id,
                    invalid(format!(
                        "invalid {method} params: must have required property 'key'"
                    )),
                ),
            }
        }
        // traces: unknown_agent (`no.such.method`)
        _ => {
            let mut error = shared.fx.error("unknown_method");
            error["message"] = Value::from(format!("unknown method: {method}"));
            res_err(id, error)
        }
    };
    shared.send_to(conn.id, reply);
}

/// `agents.list` with this mock's agents: recorded entries where the lab had the same agent,
/// the first recorded entry as a template otherwise (traces: lists).
fn agents_list(shared: &Shared) -> Value {
    let opts = &shared.opts;
    let mut payload = shared.fx.agents_list["payload"].clone();
    let recorded = payload["agents"].as_array().cloned().unwrap_or_default();
    let agents: Vec<Value> = opts
        .agents
        .iter()
        .map(|(id, name)| {
            let mut entry = recorded
                .iter()
                .find(|a| a["id"] == id.as_str())
                .or_else(|| recorded.first())
                .cloned()
                .unwrap_or_else(|| json!({}));
            if entry["id"] != id.as_str() {
                if let Some(ws) = entry["workspace"].as_str() {
                    entry["workspace"] = Value::from(format!("{ws}-{id}"));
                }
            }
            entry["id"] = Value::from(id.as_str());
            entry["name"] = Value::from(name.as_str());
            entry
        })
        .collect();
    payload["agents"] = Value::from(agents);
    payload["defaultId"] = Value::from(opts.default_agent.as_str());
    payload
}

/// The agent a session key belongs to: `agent:<id>:...`, the default agent otherwise.
fn session_agent(shared: &Shared, key: &str) -> String {
    let mut parts = key.split(':');
    match (parts.next(), parts.next()) {
        (Some("agent"), Some(id)) if !id.is_empty() => id.to_lowercase(),
        _ => shared.opts.default_agent.clone(),
    }
}

/// Validates an `agent` request like the gateway (order of `server-methods/agent.js`), answers
/// `accepted` and starts the run. Returns the single answer when there is no run to start.
fn agent(shared: &Arc<Shared>, conn: &ConnCtx, id: &Value, params: &Value) -> Option<Value> {
    let fx = shared.fx;
    let protocol = shared.opts.protocol;
    let with_prefix = |problem: String| {
        let mut error = fx.error("missing_idempotency_key");
        error["message"] = Value::from(format!("invalid agent params: {problem}"));
        Some(res_err(id, error))
    };
    let Some(obj) = params.as_object() else {
        return with_prefix("must be object".to_string());
    };
    for field in ["message", "idempotencyKey"] {
        if obj.get(field).is_none() {
            // traces: unknown_agent (missing idempotencyKey)
            return with_prefix(format!("must have required property '{field}'"));
        }
        if !obj[field].is_string() {
            return with_prefix(format!("at /{field}: must be string"));
        }
    }
    if let Some(extra) = obj.keys().find(|k| !agent_param_allowed(protocol, k)) {
        return with_prefix(format!("at root: unexpected property '{extra}'"));
    }
    // `timeout` is an integer number of seconds, minimum 0, on both generations.
    if obj.get("timeout").is_some_and(|t| !t.is_u64()) {
        return with_prefix("at /timeout: must be integer".to_string());
    }
    let key = obj["idempotencyKey"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    // A known key gets the cached answer, once, and no events (traces: idempotent_replay).
    if let Some(cached) = lock(&shared.runs).dedupe.get(&key).cloned() {
        let mut res = json!({"type": "res", "id": id, "ok": cached.ok, "payload": cached.payload});
        if let Some(error) = cached.error {
            res["error"] = error;
        }
        return Some(res);
    }

    let agent_raw = obj.get("agentId").and_then(Value::as_str).map(str::trim);
    let agent_id = agent_raw.filter(|a| !a.is_empty()).map(str::to_lowercase);
    if let Some(agent) = &agent_id {
        if !shared.known_agent(agent) {
            // traces: unknown_agent
            let mut error = fx.error("unknown_agent");
            error["message"] = Value::from(format!(
                "invalid agent params: unknown agent id \"{}\"",
                agent_raw.unwrap_or_default()
            ));
            return Some(res_err(id, error));
        }
    }
    let requested_key = obj
        .get("sessionKey")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|k| !k.is_empty());
    if let (Some(agent), Some(session_key)) = (&agent_id, requested_key) {
        let owner = session_agent(shared, session_key);
        if &owner != agent {
            // traces: unknown_agent (mismatch; the texts differ between generations)
            let mut error = fx.error("agent_session_mismatch");
            error["message"] = Value::from(match protocol {
                Protocol::V3 => format!(
                    "invalid agent params: agent \"{}\" does not match session key agent \"{owner}\"",
                    agent_raw.unwrap_or_default()
                ),
                Protocol::V4 => format!(
                    "Multiple agents are configured, but session agent resolution has no explicit owner. The agent-scoped session key belongs to \"{owner}\", not \"{agent}\"."
                ),
            });
            return Some(res_err(id, error));
        }
    }
    // `agentId` alone runs in the agent's main session (traces: beta_agent).
    let agent_id = agent_id.unwrap_or_else(|| match requested_key {
        Some(k) => session_agent(shared, k),
        None => shared.opts.default_agent.clone(),
    });
    if !shared.known_agent(&agent_id) {
        let mut error = fx.error("unknown_agent");
        error["message"] = Value::from(format!(
            "invalid agent params: unknown agent id \"{agent_id}\""
        ));
        return Some(res_err(id, error));
    }
    let session_key = requested_key
        .map(str::to_string)
        .unwrap_or_else(|| format!("agent:{agent_id}:main"));
    let message = obj["message"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_string();
    let timeout = obj
        .get("timeout")
        .and_then(Value::as_u64)
        .filter(|t| *t > 0)
        .map(std::time::Duration::from_secs);

    // The store-lock timeout comes after validation and the dedupe check, before `accepted`
    // and before the dedupe entry (2026.1.24 `agent.js`: `updateSessionStore` precedes both).
    if let (Protocol::V3, Some(max)) = (protocol, shared.opts.max_runs_in_flight) {
        if lock(&shared.runs).active.len() >= max {
            return Some(res_err(id, fx.error("session_store_lock_timeout")));
        }
    }
    let run_id = key.clone();
    let accepted = run::accepted_payload(shared, &run_id, &session_key, &agent_id);
    let (abort_tx, abort_rx) = mpsc::unbounded_channel();
    let (session_lock, fault) = {
        let mut runs = lock(&shared.runs);
        let fault = Fault::detect(&message, &agent_id, runs.fired.contains(&key));
        if matches!(fault, Fault::Drop | Fault::DropSocket | Fault::Shutdown) {
            runs.fired.insert(key.clone());
        }
        let cached = Cached {
            ok: true,
            payload: accepted.clone(),
            error: None,
        };
        runs.dedupe.insert(key.clone(), cached);
        let active = ActiveRun {
            session_key: session_key.clone(),
            abort: abort_tx,
        };
        runs.active.insert(run_id.clone(), active);
        let session_lock = runs
            .sessions
            .entry(session_key.clone())
            .or_default()
            .clone();
        (session_lock, fault)
    };
    // The accepted res is queued before the run task exists, so it precedes every event.
    if !run::last_line(&message).contains("MOCK_NO_ACCEPT") {
        shared.send_to(conn.id, res_ok(id, accepted));
    }
    let spec = RunSpec {
        run_id,
        session_key,
        agent_id,
        message,
        requester: Some(run::Requester {
            conn_id: conn.id,
            req_id: id.clone(),
            gone: conn.gone.clone(),
        }),
        timeout,
        fault,
    };
    shared.runs_started.fetch_add(1, Ordering::SeqCst);
    let task = tokio::spawn(run::run(shared.clone(), spec, abort_rx, session_lock));
    shared.track(task);
    None
}

/// `chat.abort {sessionKey, runId?}`.
///
/// Protocol 3: `chat.abort` only knows runs started with `chat.send`
/// (`chatAbortControllers` is filled by `chat.send` alone in 2026.1.24
/// `server-methods/chat.js`), so for an `agent` run it answers `{ok:true, aborted:false,
/// runIds:[]}` and the run goes on. Protocol 4 aborts the `agent` run (traces: abort_chat);
/// the run task sends this request's answer in its recorded place.
fn chat_abort(shared: &Shared, conn: &ConnCtx, id: &Value, params: &Value) -> Option<Value> {
    let Some(session_key) = params["sessionKey"].as_str().filter(|s| !s.is_empty()) else {
        return Some(res_err(
            id,
            invalid("invalid chat.abort params: must have required property 'sessionKey'"),
        ));
    };
    let nothing = || {
        Some(res_ok(
            id,
            json!({"ok": true, "aborted": false, "runIds": []}),
        ))
    };
    if !shared.v4() {
        return nothing();
    }
    let runs = lock(&shared.runs);
    let targets: Vec<String> = match params["runId"].as_str() {
        Some(run_id) => match runs.active.get(run_id) {
            None => return nothing(),
            Some(run) if run.session_key != session_key => {
                return Some(res_err(id, invalid("runId does not match sessionKey")));
            }
            Some(_) => vec![run_id.to_string()],
        },
        None => runs
            .active
            .iter()
            .filter(|(_, run)| run.session_key == session_key)
            .map(|(run_id, _)| run_id.clone())
            .collect(),
    };
    if targets.is_empty() {
        return nothing();
    }
    for (i, run_id) in targets.iter().enumerate() {
        let request = AbortRequest {
            kind: AbortKind::Chat,
            // Only the first aborted run answers the request, listing every run it stopped.
            reply_to: (i == 0).then(|| (conn.id, id.clone(), targets.clone())),
        };
        if let Some(run) = runs.active.get(run_id) {
            let _ = run.abort.send(request);
        }
    }
    None
}

/// `sessions.abort {key?, runId?}` (protocol 4 only; traces: abort_sessions). With nothing to
/// abort it answers `status: "no-active-run"` (2026.9.6 `sessions-abort` handler).
fn sessions_abort(shared: &Shared, conn: &ConnCtx, id: &Value, params: &Value) -> Option<Value> {
    let runs = lock(&shared.runs);
    let key = params["key"].as_str().filter(|s| !s.is_empty());
    let target = match params["runId"].as_str() {
        Some(run_id) => runs
            .active
            .get(run_id)
            .filter(|run| key.is_none_or(|k| k == run.session_key))
            .map(|_| run_id.to_string()),
        None => key.and_then(|k| {
            runs.active
                .iter()
                .find(|(_, run)| run.session_key == k)
                .map(|(run_id, _)| run_id.clone())
        }),
    };
    let Some(run_id) = target else {
        return Some(res_ok(
            id,
            json!({"ok": true, "abortedRunId": null, "status": "no-active-run"}),
        ));
    };
    let request = AbortRequest {
        kind: AbortKind::Sessions,
        reply_to: Some((conn.id, id.clone(), vec![run_id.clone()])),
    };
    if let Some(run) = runs.active.get(&run_id) {
        let _ = run.abort.send(request);
    }
    None
}
