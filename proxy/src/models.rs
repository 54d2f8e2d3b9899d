//! `GET /v1/models` and `GET /v1/models/{id}`: the gateway's agents as OpenAI model objects,
//! with the ids openclaw's built-in endpoint uses (`openclaw`, `openclaw/default`,
//! `openclaw/<agent>`), so clients that pick a model from the list route to that agent.

use clawshim_core::gateway::AgentInfo;
use clawshim_core::openai::models;
use pingora::proxy::Session;

use crate::ctx::RequestCtx;
use crate::errors::HttpError;
use crate::respond;
use crate::service::App;

/// `GET /v1/models`.
pub async fn list(session: &mut Session, ctx: &mut RequestCtx, app: &App) -> Result<(), HttpError> {
    let dir = app.gateway.agents().await?;
    let agents = visible(ctx, dir.agents);
    respond::json(session, ctx, 200, &models::list(&agents)).await
}

/// The agents the caller's key may use.
fn visible(ctx: &RequestCtx, agents: Vec<AgentInfo>) -> Vec<AgentInfo> {
    match &ctx.principal {
        Some(p) => agents.into_iter().filter(|a| p.allows(&a.id)).collect(),
        None => agents,
    }
}

/// `GET /v1/models/{id}`.
pub async fn retrieve(
    session: &mut Session,
    ctx: &mut RequestCtx,
    app: &App,
    id: &str,
) -> Result<(), HttpError> {
    let dir = app.gateway.agents().await?;
    let found = match models::find(id, &visible(ctx, dir.agents)) {
        Some(m) => Some(m),
        None => models::find(
            id,
            &visible(ctx, app.gateway.refresh_agents().await?.agents),
        ),
    };
    match found {
        Some(model) => respond::json(session, ctx, 200, &model).await,
        None => Err(HttpError::ModelNotFound {
            model: id.to_string(),
        }),
    }
}
