//! Client tools whose names openclaw's own tools use, renamed for one request.
//!
//! openclaw refuses a whole request when a client tool's name, lower-cased and with its
//! aliases applied, equals one of the run's own tools or another client tool's
//! (`findClientToolNameConflicts`: 400 "invalid tool configuration", or that error inside
//! a 200 stream). Open WebUI sends `ask_user` with every chat, Codex CLI `apply_patch`, and
//! many agents `read`, `write` or `exec`: OpenAI serves these lists, so clawshim must too.
//!
//! Such a tool goes to the gateway as `client_<name>` (or `client_<name>_2`, ... when that
//! is taken too), the way MCP gateways prefix tool names with their server's; calls come
//! back under the caller's name ([`NameMap::to_client`]), and the caller's transcript of
//! earlier calls goes in under the gateway's ([`NameMap::to_gateway`]). The map lives for
//! one request and is computed again, identically, for the next one from the same list.
//!
//! Which names clash: [`OPENCLAW_TOOL_NAMES`], every tool openclaw 2026.9.6 can give a run
//! (its core tool catalogue `CORE_TOOL_DEFINITIONS`, the tools a default agent got in the
//! lab, `AGENT_RESERVED_TOOL_NAMES`, the tool-search and code-mode controls), compared like
//! openclaw's `normalizeToolPolicyName`. Renaming a name the agent happens not to have is
//! harmless; a tool a newer openclaw adds is not in the list, and a client tool with its
//! name gets the gateway's own 400.

use std::collections::{HashMap, HashSet};

/// Every tool name openclaw 2026.9.6 can give a run, lower-case.
pub const OPENCLAW_TOOL_NAMES: &[&str] = &[
    // `AGENT_RESERVED_TOOL_NAMES` (dist/builtin-openclaw-*.mjs)
    "bash",
    "edit",
    "find",
    "grep",
    "ls",
    "read",
    "write",
    // `CORE_TOOL_DEFINITIONS` (dist/tool-catalog-*.mjs)
    "apply_patch",
    "exec",
    "process",
    "code_execution",
    "secrets",
    "web_search",
    "web_fetch",
    "x_search",
    "memory_search",
    "memory_get",
    "sessions",
    "sessions_list",
    "sessions_history",
    "sessions_search",
    "conversations_list",
    "conversations_send",
    "conversations_turn",
    "sessions_send",
    "sessions_spawn",
    "github_identity_status",
    "github_publish",
    "agents_wait",
    "sessions_yield",
    "subagents",
    "session_status",
    "suggest_task",
    "dismiss_task",
    "browser",
    "screen",
    "theme",
    "dashboard",
    "terminal",
    "portal",
    "canvas",
    "show_widget",
    "message",
    "heartbeat_respond",
    "gateway",
    "plugins",
    "openclaw",
    "nodes",
    "computer",
    "mobile_ui",
    "agents_list",
    "get_goal",
    "create_goal",
    "update_goal",
    "progress_card",
    "ask_user",
    "skill_workshop",
    "view_image",
    "image_generate",
    "music_generate",
    "video_generate",
    "tts",
    "pdf",
    // given to the lab's default agent beside the catalogue
    "automations",
    // tool search and code mode controls
    "tool_search",
    "tool_describe",
    "tool_call",
    "tool_search_code",
    "wait",
];

/// Prefix of a renamed tool.
const PREFIX: &str = "client_";

/// openclaw's comparison key for a tool name: lower-case, then its aliases
/// (`TOOL_NAME_ALIASES`: `bash` → `exec`, `apply-patch` → `apply_patch`, `cron` →
/// `automations`).
fn policy_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "bash" => "exec".to_owned(),
        "apply-patch" => "apply_patch".to_owned(),
        "cron" => "automations".to_owned(),
        _ => lower,
    }
}

/// The caller's tool names and the gateway's, for one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NameMap {
    /// caller name → gateway name, for renamed tools only.
    to_gateway: HashMap<String, String>,
    /// gateway name → caller name, for renamed tools only.
    to_client: HashMap<String, String>,
}

impl NameMap {
    /// The renames for a tool list, in request order: a name that clashes with openclaw's
    /// tools or with an earlier tool of the list (under openclaw's comparison) is renamed to
    /// the first free `client_<name>[_<n>]`.
    pub fn for_tools<'a>(names: impl IntoIterator<Item = &'a str>) -> NameMap {
        let mut taken: HashSet<String> =
            OPENCLAW_TOOL_NAMES.iter().map(|n| policy_name(n)).collect();
        let names: Vec<&str> = names.into_iter().collect();
        // Names kept as they are go first, so a renamed tool never takes a later one's name.
        let mut clashing = Vec::new();
        for name in &names {
            if !taken.insert(policy_name(name)) {
                clashing.push(*name);
            }
        }
        let mut map = NameMap::default();
        for name in clashing {
            let renamed = (1..)
                .map(|n| candidate(name, n))
                .find(|c| !taken.contains(&policy_name(c)))
                .unwrap_or_else(|| unreachable!("the candidates never end"));
            taken.insert(policy_name(&renamed));
            // A duplicate of an already renamed name keeps its first mapping back.
            map.to_client
                .entry(renamed.clone())
                .or_insert_with(|| name.to_owned());
            map.to_gateway.entry(name.to_owned()).or_insert(renamed);
        }
        map
    }

    /// The name the gateway knows a caller's tool by.
    pub fn to_gateway<'a>(&'a self, name: &'a str) -> &'a str {
        self.to_gateway.get(name).map_or(name, String::as_str)
    }

    /// The caller's name for a tool the gateway reported.
    pub fn to_client<'a>(&'a self, name: &'a str) -> &'a str {
        self.to_client.get(name).map_or(name, String::as_str)
    }

    /// Whether any tool was renamed.
    pub fn is_empty(&self) -> bool {
        self.to_gateway.is_empty()
    }
}

/// `client_<name>` for the first try, `client_<name>_<n>` after; the name is cut so the
/// result stays within OpenAI's 64 characters (names are ASCII: `list` checked them).
fn candidate(name: &str, n: usize) -> String {
    let suffix = if n == 1 {
        String::new()
    } else {
        format!("_{n}")
    };
    let room = super::list::MAX_NAME_LEN - PREFIX.len() - suffix.len();
    let cut = &name[..name.len().min(room)];
    format!("{PREFIX}{cut}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clashing_names_are_renamed() {
        let map = NameMap::for_tools(["get_weather", "ask_user", "shell", "Read", "bash"]);
        assert_eq!(map.to_gateway("get_weather"), "get_weather");
        assert_eq!(map.to_gateway("shell"), "shell");
        assert_eq!(map.to_gateway("ask_user"), "client_ask_user");
        assert_eq!(map.to_gateway("Read"), "client_Read");
        assert_eq!(map.to_gateway("bash"), "client_bash");
        assert_eq!(map.to_client("client_ask_user"), "ask_user");
        assert_eq!(map.to_client("get_weather"), "get_weather");
        assert_eq!(map.to_client("unknown"), "unknown");
    }

    #[test]
    fn the_lab_refusals_are_all_renamed() {
        // Each of these was refused by openclaw 2026.9.6 as a client tool (docs/client-tools.md).
        for name in [
            "ask_user",
            "exec",
            "bash",
            "apply_patch",
            "read",
            "Read",
            "grep",
            "find",
            "web_search",
            "apply-patch",
            "cron",
        ] {
            let map = NameMap::for_tools([name]);
            assert_ne!(map.to_gateway(name), name, "{name}");
        }
        assert!(NameMap::for_tools(["shell", "get_weather"]).is_empty());
    }

    #[test]
    fn a_renamed_tool_never_takes_a_name_the_list_uses() {
        let map = NameMap::for_tools(["ask_user", "client_ask_user"]);
        assert_eq!(map.to_gateway("client_ask_user"), "client_ask_user");
        assert_eq!(map.to_gateway("ask_user"), "client_ask_user_2");
        assert_eq!(map.to_client("client_ask_user_2"), "ask_user");
    }

    #[test]
    fn a_duplicate_in_the_list_is_renamed_too() {
        // openclaw refuses duplicate client names; the second one gets its own name and
        // calls of it come back under the caller's (shared) name.
        let map = NameMap::for_tools(["lookup", "LOOKUP"]);
        assert_eq!(map.to_gateway("lookup"), "lookup");
        assert_eq!(map.to_gateway("LOOKUP"), "client_LOOKUP");
        assert_eq!(map.to_client("client_LOOKUP"), "LOOKUP");
    }

    #[test]
    fn renamed_names_stay_within_64_characters() {
        let long = format!("read{}", "x".repeat(60));
        let taken = format!("client_{}", &long[..57]);
        let map = NameMap::for_tools([long.as_str(), taken.as_str(), "read"]);
        for name in [long.as_str(), "read"] {
            let g = map.to_gateway(name);
            assert!(g.len() <= 64, "{g}");
            assert_eq!(map.to_client(g), name);
        }
        assert_eq!(map.to_gateway(&long), long, "not a clash: kept");
        assert_eq!(candidate(&long, 1).len(), 64);
        assert_eq!(candidate(&long, 12).len(), 64);
        assert!(candidate(&long, 12).ends_with("_12"));
    }
}
