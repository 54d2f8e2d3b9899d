//! `GET /v1/models` and `GET /v1/models/{id}`: the gateway's agents as OpenAI model objects,
//! with the ids openclaw's built-in endpoint uses (`openclaw`, `openclaw/default`,
//! `openclaw/<agent>`), so clients that pick a model from the list route to that agent.

use clawshim_core::gateway::AgentInfo;
use clawshim_core::openai::models;
use clawshim_core::routing::AgentSelector;
use pingora::proxy::Session;

use crate::front_door::keys::Principal;
use crate::request::ctx::RequestCtx;
use crate::request::errors::HttpError;
use crate::request::respond;
use crate::state::ProxyState;

/// `GET /v1/models`.
pub async fn list(
    session: &mut Session,
    ctx: &mut RequestCtx,
    app: &ProxyState,
    principal: &Principal,
) -> Result<(), HttpError> {
    let dir = app.gateway.agents().await?;
    let agents = visible(principal, dir.agents);
    respond::json(session, ctx, 200, &models::list(&agents)).await
}

/// The agents the caller may use.
fn visible(principal: &Principal, agents: Vec<AgentInfo>) -> Vec<AgentInfo> {
    agents
        .into_iter()
        .filter(|a| principal.allows(&a.id))
        .collect()
}

/// `GET /v1/models/{id}`: the default ids always; an agent's id when the caller may use it
/// and the gateway has it (the one resolution rule chat requests use too).
pub async fn retrieve(
    session: &mut Session,
    ctx: &mut RequestCtx,
    app: &ProxyState,
    principal: &Principal,
    id: &str,
) -> Result<(), HttpError> {
    let not_found = || HttpError::ModelNotFound {
        model: id.to_string(),
    };
    let found = match models::requested_agent(id).ok_or_else(not_found)? {
        AgentSelector::Default => true,
        agent => app
            .gateway
            .resolve_agent(&agent, |a| principal.allows(a))
            .await?
            .is_ok(),
    };
    if !found {
        return Err(not_found());
    }
    respond::json(session, ctx, 200, &models::Model::new(id)).await
}
