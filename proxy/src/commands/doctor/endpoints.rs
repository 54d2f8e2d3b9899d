//! The gateway's own OpenAI endpoints (`gateway.http.endpoints.chatCompletions.enabled`,
//! `gateway.http.endpoints.responses.enabled` in its config schema, `config/zod-schema.js` of
//! clawdbot 2026.1.24 and openclaw 2026.9.6): when they are on, the gateway serves a second
//! OpenAI door beside clawshim, guarded only by the gateway's own token, with none of
//! clawshim's per-client keys, limits, logs or metrics. Read from the gateway's config when it
//! is on this host and describes the gateway clawshim uses. With `client_tools = "auto"`
//! the chat endpoint is how requests' own tools run (`client_tools`), so only `responses`
//! counts as a second door then.

use super::check::Check;
use crate::config::discover::{self, Environment};
use crate::config::Config;
use crate::run::client_tools::mode::ClientToolsMode;

/// `built-in endpoints`.
pub fn check(config: &Config, env: &dyn Environment) -> Check {
    let local = match discover::discover(env) {
        Ok(Some(local)) if discover::same_gateway(&config.gateway.url, &local) => local,
        Ok(_) => {
            return Check::skip(
                "built-in endpoints",
                "the gateway's config is not on this host: check gateway.http.endpoints there",
            )
        }
        Err(e) => return Check::skip("built-in endpoints", format!("not read: {e}")),
    };
    let path = local.path.display();
    let open: Vec<&str> = [
        (
            local.chat_completions_endpoint,
            "chatCompletions (/v1/chat/completions)",
        ),
        (local.responses_endpoint, "responses (/v1/responses)"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    // With client tools on, the chat endpoint is how they run (`client tools` checks it);
    // it stays open to the gateway token's holders, which the pass line says.
    let for_tools = config.client_tools == ClientToolsMode::Auto;
    let open: Vec<&str> = open
        .into_iter()
        .filter(|n| !(for_tools && n.starts_with("chatCompletions")))
        .collect();
    if open.is_empty() {
        let detail = if for_tools && local.chat_completions_endpoint {
            format!(
                "only chatCompletions is on, which client tools use ({path}); it serves \
                 /v1/chat/completions, /v1/models and /v1/embeddings on the gateway's port to \
                 anyone with the gateway token: keep the token clawshim's alone"
            )
        } else {
            format!("the gateway's own OpenAI endpoints are off ({path})")
        };
        return Check::pass("built-in endpoints", detail);
    }
    let keys: Vec<String> = open
        .iter()
        .map(|n| {
            let key = n.split(' ').next().unwrap_or_default();
            format!("gateway.http.endpoints.{key}.enabled")
        })
        .collect();
    Check::fail(
        "built-in endpoints",
        format!(
            "the gateway also serves {} itself ({path}): a second, weaker door, open to anyone \
             with the gateway token and without clawshim's keys, limits and logs",
            open.join(" and ")
        ),
        format!(
            "set {} to false in {path} and restart the gateway; clients use clawshim instead \
             (its /v1/embeddings then answers 404: openclaw serves embeddings only while one \
             of these is on)",
            keys.join(" and ")
        ),
    )
}
