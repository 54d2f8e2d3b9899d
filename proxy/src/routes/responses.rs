//! `POST /v1/responses`: the Responses API on the same run loop as chat completions.
//!
//! The request is read by `openai::responses` and `prompt::build_responses_input`, prepared
//! by [`crate::run::run_setup`] like a chat run, and started and served by
//! [`super::agent_run`] through chat's two outputs with the Responses translator
//! (`clawshim_core::responses_translate`): one `response` object, or `event:` + `data:` lines
//! as OpenAI sends them, ending with the terminal event and no `[DONE]`. Auth, keys, limits,
//! metrics, abort-on-disconnect and keep-alives are the chat route's.
//!
//! `previous_response_id`: the response id carries the gateway session under a signature
//! bound to the caller (`response_id`), so a continuation needs no store, works on any
//! clawshim in front of the same gateway, and only for the key that made the response.
//! Sessions a response may be continued from are never deleted after the run.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clawshim_core::client_tools::transcript;
use clawshim_core::gateway::ProgressLevel;
use clawshim_core::openai::responses::{self as wire, ResponseStreamEvent, ResponsesRequest};
use clawshim_core::prompt;
use clawshim_core::responses_translate::{ResponseMeta, ResponsesTranslator};
use clawshim_core::routing::SessionKey;
use pingora::proxy::Session;
use tracing::debug;

use crate::front_door::keys::Principal;
use crate::request::body;
use crate::request::body_slots::Reader;
use crate::request::ctx::RequestCtx;
use crate::request::errors::HttpError;
use crate::routes::agent_run::{decide_tools, start_and_serve, RunPlan};
use crate::run::client_tools::Format;
use crate::run::run_output::SseItem;
use crate::run::run_setup::{self, RunAsk};
use crate::state::ProxyState;

/// Serve one Responses request. Errors before any response byte are returned for the caller
/// to write; errors after the SSE header become the stream's `response.failed`.
pub async fn serve(
    session: &mut Session,
    ctx: &mut RequestCtx,
    app: &ProxyState,
    principal: &Principal,
) -> Result<(), HttpError> {
    let reader = Reader::new(principal, ctx.client_ip.map(|c| c.limiter_ip()));
    let body = body::read(session, &app.bodies, &reader, &app.config.body).await?;
    let req = wire::parse(&body.bytes)?;
    drop(body);
    run_setup::log_ignored(ctx, &req.ignored_fields());
    let caller = caller_name(principal);
    let continue_session = match &req.previous_response_id {
        None => None,
        Some(id) => {
            let key = app.response_ids.verify(id, &caller).map_err(|e| {
                debug!(request_id = %ctx.request_id, error = %e, "previous_response_id refused");
                HttpError::PreviousResponseNotFound { id: id.clone() }
            })?;
            Some(SessionKey::named(key))
        }
    };
    let tools = decide_tools(
        ctx,
        app,
        principal,
        Format::Responses,
        req.tools.as_deref(),
        req.tool_choice.as_deref(),
    )?;
    // With its tools run, calls in the transcript take the gateway's names
    // (`client_tools::transcript`).
    let input = match &tools.plan {
        Some(plan) => {
            prompt::build_responses_input(&transcript::responses_for_gateway(&req, &plan.names))?
        }
        None => prompt::build_responses_input(&req)?,
    };
    let prepared = run_setup::prepare(
        session,
        ctx,
        app,
        principal,
        RunAsk {
            model: req.model.as_deref(),
            user: req.user.as_deref(),
            input,
            thinking: req.reasoning_effort,
            continue_session,
            may_delete_session: false,
        },
    )
    .await?;
    let meta = response_meta(
        &req,
        app.response_ids
            .issue(prepared.pending.request.session_key.as_str(), &caller),
    );
    let mut format = ResponsesTranslator::new(meta);
    if prepared.progress != ProgressLevel::Off {
        format = format.showing_progress();
    }
    let stream = req.stream;
    let socket_prompt = move || prompt::build_responses_input(&req).map(|i| i.prompt);
    let plan = RunPlan {
        tools: tools.plan.as_ref(),
        socket_prompt,
        format,
        stream,
    };
    start_and_serve(session, ctx, app, prepared, plan).await
}

/// The name a response id is bound to: the API key's, or one name for every shared token
/// (they are equivalent credentials). Key names cannot contain `:`, so the two never meet.
fn caller_name(principal: &Principal) -> String {
    match principal.name() {
        Some(key) => format!("key:{key}"),
        None => "shared".to_owned(),
    }
}

fn response_meta(req: &ResponsesRequest, id: String) -> ResponseMeta {
    ResponseMeta {
        id,
        item_id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
        model: req.model.clone().unwrap_or_else(|| "openclaw".to_owned()),
        created_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        instructions: req.instructions.clone(),
        previous_response_id: req.previous_response_id.clone(),
        metadata: req.metadata.clone(),
        user: req.user.clone(),
        reasoning_effort: req.reasoning_effort,
        store: req.store.unwrap_or(true),
    }
}

/// The Responses stream events as OpenAI sends them: `event: <type>` and `data: <json>`.
impl SseItem for ResponseStreamEvent {
    fn sse(self) -> Bytes {
        self.to_sse()
    }
}
