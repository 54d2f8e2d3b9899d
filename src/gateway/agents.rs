//! The gateway's agents: `agents.list` parsed once into an [`AgentDirectory`] (ids
//! normalized like the gateway's `normalizeAgentId`, so every comparison agrees), and the one
//! rule that picks the agent a request runs on ([`AgentDirectory::resolve`]).

use serde_json::value::RawValue;

use super::error::GatewayError;
use super::methods::AgentsList;
use crate::routing::{normalize_agent_id, AgentSelector, DEFAULT_AGENT_ID};

/// One configured agent, from `agents.list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentInfo {
    /// The agent id, normalized.
    pub id: String,
    /// Its display name, when configured.
    pub name: Option<String>,
}

/// The gateway's agents, from `agents.list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentDirectory {
    /// The agent used when a request names none.
    pub default_id: String,
    /// Every configured agent.
    pub agents: Vec<AgentInfo>,
}

/// No agent the caller may use matches what it asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no such agent: {id}")]
pub struct AgentNotFound {
    /// The agent asked for (the default agent's id when none was named).
    pub id: String,
}

/// What [`AgentDirectory::resolve`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The agent to run on.
    Agent(String),
    /// An allowed agent the directory does not list: it may be new on the gateway, so
    /// re-read the list once before giving up.
    Unlisted(String),
    /// Nothing the caller may use.
    NotFound(AgentNotFound),
}

impl AgentDirectory {
    /// Parse an `agents.list` payload.
    pub fn parse(payload: Option<&RawValue>) -> Result<AgentDirectory, GatewayError> {
        let payload =
            payload.ok_or_else(|| GatewayError::Protocol("agents.list without payload".into()))?;
        let list: AgentsList = serde_json::from_str(payload.get())
            .map_err(|e| GatewayError::Protocol(format!("agents.list: {e}")))?;
        Ok(AgentDirectory::from(list))
    }

    /// Whether `id` (in any case or spelling the gateway normalizes) is a configured agent.
    pub fn contains(&self, id: &str) -> bool {
        let id = normalize_agent_id(id);
        self.agents.iter().any(|a| a.id == id)
    }

    /// The display name of agent `id`, when the gateway's config gives it one.
    pub fn name_of(&self, id: &str) -> Option<&str> {
        let id = normalize_agent_id(id);
        self.agents
            .iter()
            .find(|a| a.id == id)
            .and_then(|a| a.name.as_deref())
    }

    /// The agent a request runs on. An explicit agent must be `allowed` and listed; without
    /// one: the gateway's default, or the first allowed agent when the default is not
    /// allowed.
    pub fn resolve(&self, selector: &AgentSelector, allowed: impl Fn(&str) -> bool) -> Resolution {
        match selector {
            AgentSelector::Default if allowed(&self.default_id) => {
                Resolution::Agent(self.default_id.clone())
            }
            AgentSelector::Default => self
                .agents
                .iter()
                .map(|a| a.id.clone())
                .find(|id| allowed(id))
                .map_or_else(
                    || {
                        Resolution::NotFound(AgentNotFound {
                            id: self.default_id.clone(),
                        })
                    },
                    Resolution::Agent,
                ),
            AgentSelector::Explicit(id) if !allowed(id) => {
                Resolution::NotFound(AgentNotFound { id: id.clone() })
            }
            AgentSelector::Explicit(id) if self.contains(id) => Resolution::Agent(id.clone()),
            AgentSelector::Explicit(id) => Resolution::Unlisted(id.clone()),
        }
    }
}

impl From<AgentsList> for AgentDirectory {
    fn from(list: AgentsList) -> Self {
        let agents: Vec<AgentInfo> = list
            .agents
            .into_iter()
            .map(|e| AgentInfo {
                id: normalize_agent_id(&e.id),
                name: e.name,
            })
            .collect();
        let default_id = list
            .default_id
            .map(|id| normalize_agent_id(&id))
            .or_else(|| agents.first().map(|a| a.id.clone()))
            .unwrap_or_else(|| DEFAULT_AGENT_ID.to_string());
        AgentDirectory { default_id, agents }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(default: &str, ids: &[&str]) -> AgentDirectory {
        let payload = serde_json::json!({
            "defaultId": default,
            "agents": ids.iter().map(|id| serde_json::json!({"id": id})).collect::<Vec<_>>(),
        });
        let raw = RawValue::from_string(payload.to_string()).unwrap();
        AgentDirectory::parse(Some(&raw)).unwrap()
    }

    #[test]
    fn ids_are_normalized_once_so_lookups_agree() {
        let d = dir("Main", &["Main", "Ops Team"]);
        assert_eq!(d.default_id, "main");
        assert!(d.contains("MAIN") && d.contains("ops-team") && d.contains("Ops Team"));
        assert!(!d.contains("beta"));
    }

    #[test]
    fn display_names_are_found_by_any_spelling_of_the_id() {
        let d = AgentDirectory {
            default_id: "main".into(),
            agents: vec![
                AgentInfo {
                    id: "main".into(),
                    name: Some("Main".into()),
                },
                AgentInfo {
                    id: "ops-team".into(),
                    name: None,
                },
            ],
        };
        assert_eq!(d.name_of("MAIN"), Some("Main"));
        assert_eq!(d.name_of("ops-team"), None);
        assert_eq!(d.name_of("beta"), None);
    }

    #[test]
    fn resolve_follows_the_allowlist() {
        let d = dir("main", &["main", "beta"]);
        let all = |_: &str| true;
        let beta_only = |id: &str| id == "beta";
        let none = |_: &str| false;
        assert_eq!(
            d.resolve(&AgentSelector::Default, all),
            Resolution::Agent("main".into())
        );
        assert_eq!(
            d.resolve(&AgentSelector::Default, beta_only),
            Resolution::Agent("beta".into())
        );
        assert_eq!(
            d.resolve(&AgentSelector::Default, none),
            Resolution::NotFound(AgentNotFound { id: "main".into() })
        );
        let explicit = |id: &str| AgentSelector::Explicit(id.into());
        assert_eq!(
            d.resolve(&explicit("beta"), all),
            Resolution::Agent("beta".into())
        );
        assert_eq!(
            d.resolve(&explicit("main"), beta_only),
            Resolution::NotFound(AgentNotFound { id: "main".into() })
        );
        assert_eq!(
            d.resolve(&explicit("gamma"), all),
            Resolution::Unlisted("gamma".into())
        );
    }

    #[test]
    fn a_list_without_default_uses_its_first_agent() {
        let raw = RawValue::from_string(r#"{"agents":[{"id":"ops"}]}"#.into()).unwrap();
        assert_eq!(AgentDirectory::parse(Some(&raw)).unwrap().default_id, "ops");
        assert!(matches!(
            AgentDirectory::parse(None),
            Err(GatewayError::Protocol(_))
        ));
    }
}
