//! `GET /v1/models`: one OpenAI model object per way of addressing an agent.
//!
//! The ids and the object shape are those of openclaw's built-in endpoint
//! (traces: openclaw-lab http_models_list, http_models_get_main): `openclaw`,
//! `openclaw/default`, then `openclaw/<agent id>` for each configured agent, each
//! `{"id","object":"model","created":0,"owned_by":"openclaw","permission":[]}`.
//! Looking a model up also accepts the older spellings that `routing` understands.

use serde::{Deserialize, Serialize};

use super::tags::Object;
use crate::gateway::AgentInfo;
use crate::routing::{self, AgentSelector};

/// The id that routes to the gateway's default agent.
pub const DEFAULT_MODEL_ID: &str = "openclaw";
/// The explicit alias of [`DEFAULT_MODEL_ID`].
pub const DEFAULT_MODEL_ALIAS: &str = "openclaw/default";

/// One OpenAI model object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Model {
    /// The model id a client sends as `model`.
    pub id: String,
    /// Always [`Object::Model`].
    pub object: Object,
    /// Always 0: agents have no creation date.
    pub created: u64,
    /// Always `openclaw`.
    pub owned_by: String,
    /// Always empty; kept because the gateway's endpoint sends it and old clients read it.
    pub permission: Vec<serde_json::Value>,
}

impl Model {
    /// The model object for `id`.
    pub fn new(id: impl Into<String>) -> Self {
        Model {
            id: id.into(),
            object: Object::Model,
            created: 0,
            owned_by: "openclaw".to_owned(),
            permission: Vec::new(),
        }
    }
}

/// The `GET /v1/models` envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelList {
    /// Always [`Object::List`].
    pub object: Object,
    /// The models.
    pub data: Vec<Model>,
}

/// The model list for the configured agents: `openclaw`, `openclaw/default`, then
/// `openclaw/<id>` per agent (duplicates dropped, first occurrence kept).
pub fn list(agents: &[AgentInfo]) -> ModelList {
    let mut ids: Vec<String> = vec![DEFAULT_MODEL_ID.to_owned(), DEFAULT_MODEL_ALIAS.to_owned()];
    for agent in agents {
        let id = format!("openclaw/{}", routing::normalize_agent_id(&agent.id));
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ModelList {
        object: Object::List,
        data: ids.into_iter().map(Model::new).collect(),
    }
}

/// Which agent a model id of this list addresses: [`AgentSelector::Default`] for
/// [`DEFAULT_MODEL_ID`] and [`DEFAULT_MODEL_ALIAS`] (any case), the agent for every spelling
/// `routing` accepts (`openclaw/<id>`, `openclaw:<id>`, `clawdbot:<id>`, `clawdbot/<id>`,
/// `moltbot:<id>`, `moltbot/<id>`, `agent:<id>`), `None` for anything else (unlike a chat
/// request's `model`, which falls back to the default agent).
pub fn requested_agent(id: &str) -> Option<AgentSelector> {
    let lowered = id.trim().to_ascii_lowercase();
    if lowered == DEFAULT_MODEL_ID || lowered == DEFAULT_MODEL_ALIAS {
        return Some(AgentSelector::Default);
    }
    routing::agent_id_from_model(id).map(AgentSelector::Explicit)
}

/// The model object for `id` when it names the default agent or one of `agents`
/// ([`requested_agent`]). The object carries the id as asked, like the gateway's endpoint.
pub fn find(id: &str, agents: &[AgentInfo]) -> Option<Model> {
    match requested_agent(id)? {
        AgentSelector::Default => Some(Model::new(id)),
        AgentSelector::Explicit(agent_id) => agents
            .iter()
            .any(|a| routing::normalize_agent_id(&a.id) == agent_id)
            .then(|| Model::new(id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn agents(ids: &[&str]) -> Vec<AgentInfo> {
        ids.iter()
            .map(|id| AgentInfo {
                id: (*id).to_owned(),
                name: None,
            })
            .collect()
    }

    #[test]
    fn list_matches_the_gateway_endpoint() {
        // traces: openclaw-lab http_models_list
        let list = list(&agents(&["main", "beta", "broken"]));
        assert_eq!(
            serde_json::to_string(&list).unwrap(),
            r#"{"object":"list","data":[{"id":"openclaw","object":"model","created":0,"owned_by":"openclaw","permission":[]},{"id":"openclaw/default","object":"model","created":0,"owned_by":"openclaw","permission":[]},{"id":"openclaw/main","object":"model","created":0,"owned_by":"openclaw","permission":[]},{"id":"openclaw/beta","object":"model","created":0,"owned_by":"openclaw","permission":[]},{"id":"openclaw/broken","object":"model","created":0,"owned_by":"openclaw","permission":[]}]}"#
        );
    }

    #[test]
    fn list_without_agents_still_has_the_defaults() {
        let ids: Vec<_> = list(&[]).data.into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["openclaw", "openclaw/default"]);
    }

    #[test]
    fn list_drops_duplicate_agents() {
        let ids: Vec<_> = list(&agents(&["main", "Main"]))
            .data
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(ids, ["openclaw", "openclaw/default", "openclaw/main"]);
    }

    #[test]
    fn find_accepts_every_spelling_and_echoes_it() {
        let a = agents(&["main", "beta"]);
        for id in [
            "openclaw",
            "openclaw/default",
            "OpenClaw",
            "openclaw/main",
            "openclaw:beta",
            "clawdbot:beta",
            "clawdbot/beta",
            "moltbot:main",
            "moltbot/main",
            "agent:main",
            "openclaw/BETA",
        ] {
            let m = find(id, &a).unwrap_or_else(|| panic!("{id} not found"));
            assert_eq!(m.id, id);
        }
        assert_eq!(
            serde_json::to_value(find("openclaw/main", &a).unwrap()).unwrap(),
            json!({"id":"openclaw/main","object":"model","created":0,"owned_by":"openclaw","permission":[]})
        );
    }

    #[test]
    fn find_rejects_unknown_agents_and_foreign_models() {
        let a = agents(&["main"]);
        for id in [
            "openclaw/nope",
            "gpt-4o",
            "agent:",
            "clawdbot",
            "openclaw/a b",
            "",
        ] {
            assert_eq!(find(id, &a), None, "{id}");
        }
    }
}
