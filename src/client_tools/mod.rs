//! Client tools: functions the caller defines and runs itself (`tools` / `tool_choice` of a
//! chat or Responses request), and the tool calls that come back.
//!
//! Only openclaw's own HTTP endpoint can give client tools to an agent (the WebSocket `agent`
//! method has no parameter for them; `docs/client-tools.md` has the evidence), so a request
//! whose tools are honoured runs through `crate::http_source`. This module is the request
//! side, pure and shared by both wire formats:
//!
//! - [`list`]: which tools are kept (functions) and which are dropped (every other type:
//!   the gateway runs functions only), with size and count caps;
//! - [`names`]: the per-request rename of client tools whose names openclaw's own tools
//!   use (`ask_user`, `exec`, `read`, ...), and the way back for the calls;
//! - [`choice`]: `tool_choice` and the rule that a choice that cannot be honoured is a 400
//!   naming it, never a silent change of meaning.
//!
//! [`ClientTools::plan`] puts them together into what is sent to the gateway.

pub mod choice;
pub mod list;
pub mod names;
pub mod transcript;

pub use choice::ToolChoice;
pub use list::{ClientTool, ToolList};
pub use names::NameMap;

use serde_json::{json, Value};

use crate::error::RequestError;
use crate::gateway::ToolCall;

/// Most JSON values (objects, arrays, scalars) read from `tools` or `tool_choice`: a
/// `serde_json::Value` costs tens of bytes per value whatever the text, so the count bounds
/// what one request's tools cost in memory (real tool lists have a few thousand).
pub const MAX_JSON_VALUES: usize = 50_000;

/// Reads a field kept as JSON text (`tools`, `tool_choice`). Counted first, without building
/// anything: more than [`MAX_JSON_VALUES`] values, or nesting deeper than serde_json's
/// recursion limit (128), is a 400 naming `param`.
pub fn read_field(text: &str, param: &str) -> Result<Value, RequestError> {
    let refuse = |what: &str| {
        RequestError::new(
            format!("Invalid '{param}': {what}."),
            Some(param.to_owned()),
        )
    };
    let count = std::cell::Cell::new(0usize);
    let mut de = serde_json::Deserializer::from_str(text);
    serde::de::DeserializeSeed::deserialize(counting::Seed(&count), &mut de).map_err(|_| {
        if count.get() > MAX_JSON_VALUES {
            refuse(&format!("more than {MAX_JSON_VALUES} JSON values"))
        } else {
            refuse("nested too deeply to be read")
        }
    })?;
    serde_json::from_str(text).map_err(|_| refuse("not readable"))
}

/// Counts the values of a JSON text and stops past [`MAX_JSON_VALUES`].
mod counting {
    use std::cell::Cell;
    use std::fmt;

    use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

    pub(super) struct Seed<'a>(pub(super) &'a Cell<usize>);

    impl<'de> DeserializeSeed<'de> for Seed<'_> {
        type Value = ();
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(Count(self.0))
        }
    }

    struct Count<'a>(&'a Cell<usize>);

    impl Count<'_> {
        fn bump<E: de::Error>(&self) -> Result<(), E> {
            self.0.set(self.0.get() + 1);
            if self.0.get() > super::MAX_JSON_VALUES {
                return Err(E::custom("too many values"));
            }
            Ok(())
        }
    }

    impl<'de> Visitor<'de> for Count<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
            self.bump()
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
            self.bump()
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
            self.bump()
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
            self.bump()
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
            self.bump()
        }
        fn visit_unit<E: de::Error>(self) -> Result<(), E> {
            self.bump()
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            self.bump()?;
            while seq.next_element_seed(Seed(self.0))?.is_some() {}
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            self.bump()?;
            while map.next_key::<IgnoredAny>()?.is_some() {
                map.next_value_seed(Seed(self.0))?;
            }
            Ok(())
        }
    }
}

/// The tools of one request, ready for the gateway: kept functions under the names the
/// gateway gets, the choice in those names, and the map back.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientTools {
    /// The function tools, renamed where needed ([`NameMap`]).
    pub tools: Vec<ClientTool>,
    /// The tool choice, with a forced function's name renamed as its tool.
    pub choice: ToolChoice,
    /// Caller names <-> gateway names.
    pub names: NameMap,
    /// The `type`s of the tools that were dropped, for the log and the response header.
    pub dropped: Vec<String>,
}

impl ClientTools {
    /// Checks `choice` against `list`, renames the tools that clash with openclaw's own, and
    /// returns what the gateway gets. `Ok(None)` when nothing is left to offer and nothing
    /// forces a call (no function tools, or `tool_choice: "none"`): such a request is an
    /// ordinary run.
    pub fn plan(list: ToolList, choice: ToolChoice) -> Result<Option<ClientTools>, RequestError> {
        choice.check_against(&list)?;
        if list.tools.is_empty() || choice == ToolChoice::None {
            return Ok(None);
        }
        let names = NameMap::for_tools(list.tools.iter().map(|t| t.name.as_str()));
        let tools = list
            .tools
            .into_iter()
            .map(|mut t| {
                t.name = names.to_gateway(&t.name).to_owned();
                t
            })
            .collect();
        let choice = match choice {
            ToolChoice::Function(name) => ToolChoice::Function(names.to_gateway(&name).to_owned()),
            other => other,
        };
        Ok(Some(ClientTools {
            tools,
            choice,
            names,
            dropped: list.dropped,
        }))
    }

    /// The `tools` array in the chat-completions form the gateway's endpoint reads.
    pub fn tools_json(&self) -> Value {
        Value::Array(self.tools.iter().map(ClientTool::chat_json).collect())
    }

    /// The `tool_choice` in the chat-completions form; `None` for `auto` (the default).
    pub fn choice_json(&self) -> Option<Value> {
        match &self.choice {
            ToolChoice::Auto => None,
            ToolChoice::None => Some(json!("none")),
            ToolChoice::Required => Some(json!("required")),
            ToolChoice::Function(name) => {
                Some(json!({"type": "function", "function": {"name": name}}))
            }
        }
    }

    /// A call the gateway reported, with the caller's name for the tool.
    pub fn to_client(&self, call: ToolCall) -> ToolCall {
        ToolCall {
            name: self.names.to_client(&call.name).to_owned(),
            ..call
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat_tools(names: &[&str]) -> ToolList {
        let tools: Vec<Value> = names
            .iter()
            .map(|n| json!({"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}))
            .collect();
        ToolList::from_chat(&Value::Array(tools)).unwrap()
    }

    #[test]
    fn a_clashing_tool_and_a_forced_choice_of_it_are_renamed_together_and_mapped_back() {
        let list = chat_tools(&["get_weather", "ask_user"]);
        let plan = ClientTools::plan(list, ToolChoice::Function("ask_user".into()))
            .unwrap()
            .unwrap();
        let names: Vec<&str> = plan.tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["get_weather", "client_ask_user"]);
        assert_eq!(
            plan.choice_json(),
            Some(json!({"type": "function", "function": {"name": "client_ask_user"}}))
        );
        let call = ToolCall {
            id: "c1".into(),
            name: "client_ask_user".into(),
            arguments: "{}".into(),
        };
        assert_eq!(plan.to_client(call).name, "ask_user");
        assert_eq!(plan.tools_json()[1]["function"]["name"], "client_ask_user");
    }

    #[test]
    fn no_function_tools_or_choice_none_is_an_ordinary_run() {
        let only_search = ToolList::from_chat(&json!([{"type": "web_search"}])).unwrap();
        assert_eq!(
            ClientTools::plan(only_search, ToolChoice::Auto).unwrap(),
            None
        );
        assert_eq!(
            ClientTools::plan(chat_tools(&["f"]), ToolChoice::None).unwrap(),
            None
        );
    }

    #[test]
    fn auto_is_left_out_and_required_is_sent() {
        let auto = ClientTools::plan(chat_tools(&["f"]), ToolChoice::Auto)
            .unwrap()
            .unwrap();
        assert_eq!(auto.choice_json(), None);
        let required = ClientTools::plan(chat_tools(&["f"]), ToolChoice::Required)
            .unwrap()
            .unwrap();
        assert_eq!(required.choice_json(), Some(json!("required")));
    }

    #[test]
    fn fields_are_read_or_refused_by_name() {
        assert_eq!(read_field("[1]", "tools").unwrap(), json!([1]));
        let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        assert_eq!(
            read_field(&deep, "tools").unwrap_err().param.as_deref(),
            Some("tools")
        );
    }

    #[test]
    fn a_choice_the_list_cannot_satisfy_is_refused_before_planning() {
        let err =
            ClientTools::plan(chat_tools(&["f"]), ToolChoice::Function("g".into())).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("tool_choice"));
    }
}
