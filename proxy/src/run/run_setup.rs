//! What every route that starts a run does before starting it, in one place: the backend
//! model override (refused on gateways without one), the agent and its session, remote images
//! (fetched or refused), the size check against the gateway's limits, and the run slots.
//! With shared state, the key's run slots are leases held fleet-wide and an
//! `Idempotency-Key` run has one reader fleet-wide ([`crate::shared_state`]); both are held
//! by the [`PreparedRun`], so they end with the request however it ends.
//!
//! Chat completions and the Responses API differ only in how they read their body into a
//! [`RunInput`]; from there [`prepare`] makes the [`RunRequest`].
//!
//! Memory: a run's request (message, extra system prompt, attachments) is held only until the
//! gateway accepted it ([`PendingRun`], consumed by `run_loop::start_run`); a retry before
//! `accepted` needs it, nothing after. Until then its bytes count against
//! `limits.max_run_bytes_in_flight`, shared by all runs: a run that does not fit gets 503
//! `server_busy` (413 if it could never fit), so runs waiting for the gateway cannot take the
//! process's memory.

use clawshim_core::gateway::{GatewayError, ProgressLevel, RunRequest};
use clawshim_core::media;
use clawshim_core::model_override::select_model_override;
use clawshim_core::prompt::RunInput;
use clawshim_core::routing::{self, SessionKey};
use clawshim_core::thinking::ThinkingLevel;
use pingora::proxy::Session;
use tokio::sync::OwnedSemaphorePermit;

use crate::front_door::keys::Principal;
use crate::request::ctx::{header_str, RequestCtx};
use crate::request::errors::{HttpError, Limit};
use crate::shared_state::{Full, Kind, Lease};
use crate::state::ProxyState;

/// What a request asks of its run, besides its prompt.
#[derive(Debug)]
pub struct RunAsk<'a> {
    /// The request's `model` (selects the agent).
    pub model: Option<&'a str>,
    /// The request's `user` (a stable session per user).
    pub user: Option<&'a str>,
    /// Prompt, images and files.
    pub input: RunInput,
    /// From `reasoning_effort` / `reasoning.effort`.
    pub thinking: Option<ThinkingLevel>,
    /// A session to continue (`previous_response_id`) instead of the one the headers,
    /// `user` or a fresh key give.
    pub continue_session: Option<SessionKey>,
    /// Delete a per-request session after the run when configured; off for runs whose
    /// session a later request may continue.
    pub may_delete_session: bool,
}

/// A run ready to start: its request until the gateway accepts it, and the slots it holds
/// until it ends.
#[derive(Debug)]
pub struct PreparedRun {
    /// The `agent` request and its share of `limits.max_run_bytes_in_flight`.
    pub pending: PendingRun,
    /// How long clawshim waits for the run once the gateway has it: the run's timeout plus
    /// `run_grace`, counted from the start, not from the request (time queued for a slot is
    /// bounded by `limits.queue_wait_secs` on its own, the wait for `accepted` by the
    /// gateway's request timeout).
    pub run_time: std::time::Duration,
    /// The run slots; keep until the run is over.
    pub slots: RunSlots,
    /// How much of the agent's work the response shows.
    pub progress: ProgressLevel,
}

/// A run's request with the bytes it holds; dropped once the gateway accepted the run.
#[derive(Debug)]
pub struct PendingRun {
    /// The `agent` request.
    pub request: RunRequest,
    _bytes: OwnedSemaphorePermit,
}

/// The global and the key's run slot of one run.
#[derive(Debug)]
pub struct RunSlots {
    _run: OwnedSemaphorePermit,
    _key: Option<OwnedSemaphorePermit>,
    /// Fleet-wide: the key's run slot and the `Idempotency-Key` reader.
    _leases: Vec<Lease>,
}

/// Log, once per request, the body fields the gateway cannot honour (accepted, not used).
pub fn log_ignored(ctx: &RequestCtx, ignored: &[&str]) {
    if !ignored.is_empty() {
        tracing::debug!(request_id = %ctx.request_id, ?ignored, "ignoring fields the gateway cannot honour");
    }
}

/// Turns what a request asks into a run request (see the module docs). Errors are the 400s,
/// 403s, 404s, 413s and 429s a client gets before any run starts.
pub async fn prepare(
    session: &Session,
    ctx: &mut RequestCtx,
    app: &ProxyState,
    principal: &Principal,
    ask: RunAsk<'_>,
) -> Result<PreparedRun, HttpError> {
    let header = |name: &str| header_str(session, name);
    clawshim_core::openai::limits::check_headers(header)?;
    let model = select_model_override(header)?;
    if let Some(requested) = &model {
        if !app.gateway.supports_model_override() {
            return Err(HttpError::BadRequest {
                message: format!(
                    "The backend model header (`x-openclaw-model`: '{}') is not supported by \
                     this gateway version: clawdbot 2026.1.24 cannot choose a run's model. \
                     Leave the header out to use the agent's own model.",
                    requested
                        .provider
                        .as_ref()
                        .map_or(requested.model.clone(), |p| format!(
                            "{p}/{}",
                            requested.model
                        ))
                ),
                param: Some("x-openclaw-model".into()),
            });
        }
    }
    let selector = routing::select_agent(header, ask.model);
    let agent_id = app
        .gateway
        .resolve_agent(&selector, |id| principal.allows(id))
        .await?
        .map_err(|e| HttpError::ModelNotFound {
            model: ask.model.map(str::to_owned).unwrap_or(e.id),
        })?;
    let session_key = match ask.continue_session {
        Some(key) => key,
        None => {
            let namespace = match principal {
                Principal::Key(key) => Some(key.session_namespace.as_str()),
                Principal::Shared => None,
            };
            routing::session_key(header, &agent_id, ask.user, namespace).map_err(|e| {
                HttpError::Forbidden {
                    message: format!(
                        "This API key may only use sessions under `{}` (x-openclaw-session-key).",
                        e.prefix
                    ),
                }
            })?
        }
    };
    ctx.agent_id = Some(agent_id.clone());
    // A key over its token budget gets no run (429 `insufficient_quota`).
    app.usage.check_budget(principal).await?;
    let idempotent_id = crate::run::idempotency::run_id(
        header_str(session, crate::run::idempotency::HEADER).as_deref(),
        principal,
    )?;
    let mut leases = Vec::new();
    if let Some(id) = &idempotent_id {
        // Another instance's client is reading this run: the 409 it would get here.
        match app
            .shared
            .acquire(Kind::IdempotentReader, id.as_str().as_bytes(), 1)
            .await
        {
            Some(Ok(lease)) => leases.push(lease),
            Some(Err(Full)) => return Err(GatewayError::DuplicateRun(id.clone()).into()),
            None => {}
        }
    }

    let progress = crate::run::progress::level(
        principal.progress_ceiling(app.config.progress),
        header_str(session, crate::run::progress::HEADER).as_deref(),
    )?;

    let RunInput {
        prompt,
        mut attachments,
        remote_images,
    } = ask.input;
    for image in remote_images {
        attachments.push(app.images.fetch(image).await.map_err(HttpError::from)?);
    }
    let text_bytes =
        prompt.message.len() + prompt.extra_system_prompt.as_ref().map_or(0, String::len);
    media::check_sizes(&attachments, text_bytes, &app.gateway.attachment_limits())
        .map_err(HttpError::from)?;
    let bytes = app.run_bytes.hold(media::limits::estimated_frame_bytes(
        &attachments,
        text_bytes,
    ))?;

    let run_slot =
        app.runs
            .clone()
            .try_acquire_owned()
            .map_err(|_| HttpError::TooManyRequests {
                limit: Limit::Runs,
                retry_after_secs: 1,
            })?;
    let all_taken = || HttpError::TooManyRequests {
        limit: Limit::KeyRuns,
        retry_after_secs: 1,
    };
    let key_slot = match principal {
        Principal::Key(key) => {
            let local = key.acquire_run().map_err(|_| all_taken())?;
            if let Some(max) = key.max_concurrent_runs() {
                match app
                    .shared
                    .acquire(Kind::Runs, key.name.as_bytes(), max)
                    .await
                {
                    Some(Ok(lease)) => leases.push(lease),
                    Some(Err(Full)) => return Err(all_taken()),
                    None => {}
                }
            }
            local
        }
        Principal::Shared => None,
    };
    Ok(PreparedRun {
        pending: PendingRun {
            request: RunRequest {
                agent_id,
                session_key,
                message: prompt.message,
                extra_system_prompt: prompt.extra_system_prompt,
                timeout: Some(app.config.run_timeout),
                delete_ephemeral_session: ask.may_delete_session
                    && app.config.delete_ephemeral_sessions.enabled(),
                attachments,
                thinking: ask.thinking,
                model,
                idempotent_id,
                progress,
            },
            _bytes: bytes,
        },
        run_time: app.config.run_timeout + app.config.run_grace,
        slots: RunSlots {
            _run: run_slot,
            _key: key_slot,
            _leases: leases,
        },
        progress,
    })
}
