//! `POST /v1/chat/completions`: read the body, resolve agent + session, start a run on the
//! gateway, answer as one JSON object or as SSE chunks.
//!
//! The run itself is started and served by [`super::agent_run`] with chat's translator
//! (`clawshim_core::translate`); this module adds what is specific to chat completions: the
//! request, and how a stream item is written.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clawshim_core::client_tools::transcript;
use clawshim_core::openai;
use clawshim_core::prompt;
use clawshim_core::translate::{ChatTranslator, CompletionMeta, StreamItem};
use pingora::proxy::Session;

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

/// Serve one chat completion. Errors before any response byte are returned for the caller to
/// write; errors after the SSE headers are written into the stream here.
pub async fn serve(
    session: &mut Session,
    ctx: &mut RequestCtx,
    app: &ProxyState,
    principal: &Principal,
) -> Result<(), HttpError> {
    let reader = Reader::new(principal, ctx.client_ip.map(|c| c.limiter_ip()));
    let body = body::read(session, &app.bodies, &reader, &app.config.body).await?;
    let req = openai::request::parse(&body.bytes)?;
    drop(body);
    run_setup::log_ignored(ctx, &req.ignored_fields());
    let tools = decide_tools(
        ctx,
        app,
        principal,
        Format::Chat,
        req.tools.as_deref(),
        req.tool_choice.as_deref(),
    )?;
    // With its tools run, the caller's transcript of earlier calls is written the way
    // openclaw's endpoint writes it (`client_tools::transcript`).
    let input = match &tools.plan {
        Some(plan) => {
            prompt::build_chat_input(&transcript::for_gateway(&req.messages, &plan.names))?
        }
        None => prompt::build_chat_input(&req.messages)?,
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
            continue_session: None,
            may_delete_session: true,
        },
    )
    .await?;
    let meta = CompletionMeta {
        id: format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
        model: req.model.clone().unwrap_or_else(|| "openclaw".to_string()),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let (stream, include_usage) = (req.is_stream(), req.include_usage());
    let socket_prompt = move || prompt::build_chat_input(&req.messages).map(|i| i.prompt);
    let plan = RunPlan {
        tools: tools.plan.as_ref(),
        socket_prompt,
        format: ChatTranslator::new(meta, include_usage),
        stream,
    };
    start_and_serve(session, ctx, app, prepared, plan).await
}

/// Chat's stream items as server-sent events: `data: <chunk>`, an error as `data:` with the
/// OpenAI error object, and `data: [DONE]` last.
impl SseItem for StreamItem {
    fn sse(self) -> Bytes {
        match self {
            StreamItem::Chunk(chunk) => openai::sse::data(&chunk),
            StreamItem::Error(err) => {
                openai::sse::data(&HttpError::Gateway(err).api_error().into_body())
            }
            StreamItem::Done => openai::sse::DONE,
        }
    }
}
