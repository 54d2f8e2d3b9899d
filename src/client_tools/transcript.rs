//! The caller's transcript of earlier tool calls, as openclaw's own chat endpoint renders it.
//!
//! When a request's tools are run, the conversation it repeats holds the assistant's
//! `tool_calls` and the `tool` results that answer them; the model must see which result
//! answers which call. `crate::prompt` follows clawdbot 2026.1.24's rules, which drop
//! `tool_calls` and label a result `Tool:<name>`; openclaw 2026.9.6's endpoint
//! (`buildAgentPrompt` in `dist/openai-http-*.mjs`, `buildAgentMessageFromConversationEntries`)
//! keeps them:
//!
//! - an assistant turn's calls are lines `tool_call id=<id> name=<name> arguments=<arguments>`
//!   after its text (calls without an id or a name are left out; arguments that are not a
//!   string are written as JSON);
//! - a tool result is labelled `Tool:<tool_call_id>` (else `Tool:<name>`, else `Tool`);
//! - a tool result that is the current turn with no turn before it still carries its label
//!   (`Tool:<id>: <output>`), where a lone user turn is its bare text.
//!
//! [`for_gateway`] rewrites the messages so that `crate::prompt` produces exactly that, with
//! tool names in the gateway's spelling ([`NameMap`]): the calls the caller reports are the
//! ones the model made under those names.

use serde_json::Value;

use super::names::NameMap;
use crate::openai::responses::{InputItem, ItemRole, ResponsesInput, ResponsesRequest};
use crate::openai::{ChatMessage, MessageContent};
use crate::prompt::{item_text, js_trim, text_of};

/// `messages` with their tool transcript written the way openclaw's endpoint writes it
/// (see the module doc), ready for `crate::prompt::build_chat_input`.
pub fn for_gateway(messages: &[ChatMessage], names: &NameMap) -> Vec<ChatMessage> {
    let mut out: Vec<ChatMessage> = messages
        .iter()
        .map(|msg| match msg {
            ChatMessage::Assistant {
                content,
                name,
                tool_calls: Some(calls),
                refusal,
            } => {
                let lines: Vec<String> = call_lines(calls, names);
                if lines.is_empty() {
                    return msg.clone();
                }
                let text = text_of(content);
                let body = std::iter::once(text)
                    .chain(lines)
                    .filter(|p| !p.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n");
                ChatMessage::Assistant {
                    content: MessageContent::Text(body),
                    name: name.clone(),
                    tool_calls: None,
                    refusal: refusal.clone(),
                }
            }
            ChatMessage::Tool {
                content,
                name,
                tool_call_id,
            } => {
                let id = tool_call_id
                    .as_deref()
                    .map(js_trim)
                    .filter(|id| !id.is_empty());
                ChatMessage::Tool {
                    content: content.clone(),
                    // The builder labels a result by its `name`: the call id wins, as there.
                    name: id.map(str::to_owned).or_else(|| name.clone()),
                    tool_call_id: tool_call_id.clone(),
                }
            }
            other => other.clone(),
        })
        .collect();
    label_a_lone_tool_turn(&mut out);
    out
}

/// A Responses request whose transcript is written the way openclaw's `/v1/responses`
/// writes it: `crate::prompt` already renders `function_call` items as `tool_call` lines
/// and outputs as `Tool:<call_id>` turns; here the calls take the gateway's names, and a
/// lone output (no turn with text before it: a continuation with `previous_response_id`)
/// keeps its label.
pub fn responses_for_gateway(req: &ResponsesRequest, names: &NameMap) -> ResponsesRequest {
    let ResponsesInput::Items(items) = &req.input else {
        return req.clone();
    };
    let mut items: Vec<InputItem> = items
        .iter()
        .map(|item| match item {
            InputItem::FunctionCall {
                call_id,
                name,
                arguments,
            } => InputItem::FunctionCall {
                call_id: call_id.clone(),
                name: names.to_gateway(name).to_owned(),
                arguments: arguments.clone(),
            },
            other => other.clone(),
        })
        .collect();
    let has_text = |item: &InputItem| match item {
        InputItem::Message { role, content } => {
            !matches!(role, ItemRole::System | ItemRole::Developer)
                && !item_text(content).is_empty()
        }
        InputItem::FunctionCall { .. } => true,
        InputItem::FunctionCallOutput { output, .. } => !js_trim(output).is_empty(),
        InputItem::Ignored { .. } => false,
    };
    let current = items.iter().rposition(|item| {
        has_text(item)
            && matches!(
                item,
                InputItem::Message {
                    role: ItemRole::User,
                    ..
                } | InputItem::FunctionCallOutput { .. }
            )
    });
    if let Some(i) = current {
        if !items[..i].iter().any(has_text) {
            if let InputItem::FunctionCallOutput { call_id, output } = &mut items[i] {
                let label = if call_id.is_empty() {
                    "Tool".to_owned()
                } else {
                    format!("Tool:{call_id}")
                };
                *output = format!("{label}: {}", js_trim(output));
            }
        }
    }
    ResponsesRequest {
        input: ResponsesInput::Items(items),
        ..req.clone()
    }
}

/// The `tool_call` lines of an assistant's `tool_calls` (openclaw's `extractAssistantToolCalls`
/// and `renderConversationToolCall`).
fn call_lines(calls: &Value, names: &NameMap) -> Vec<String> {
    let Some(calls) = calls.as_array() else {
        return Vec::new();
    };
    calls
        .iter()
        .filter_map(|call| {
            let id = call
                .get("id")?
                .as_str()
                .map(js_trim)
                .filter(|s| !s.is_empty())?;
            let function = call.get("function").filter(|f| f.is_object())?;
            let name = function
                .get("name")?
                .as_str()
                .map(js_trim)
                .filter(|s| !s.is_empty())?;
            let arguments = match function.get("arguments") {
                Some(Value::String(s)) => s.clone(),
                None | Some(Value::Null) => String::new(),
                Some(other) => other.to_string(),
            };
            Some(format!(
                "tool_call id={id} name={} arguments={arguments}",
                names.to_gateway(name)
            ))
        })
        .collect()
}

/// When the current turn is a tool result and no turn with text comes before it, writes its
/// label into its text: the prompt builder gives a lone turn bare, openclaw labels a lone
/// tool result.
fn label_a_lone_tool_turn(messages: &mut [ChatMessage]) {
    let has_text = |m: &ChatMessage| {
        !matches!(
            m,
            ChatMessage::System { .. } | ChatMessage::Developer { .. }
        ) && !text_of(m.content()).is_empty()
    };
    let Some(current) = messages.iter().rposition(|m| {
        matches!(
            m,
            ChatMessage::User { .. } | ChatMessage::Tool { .. } | ChatMessage::Function { .. }
        ) && has_text(m)
    }) else {
        return;
    };
    if messages[..current].iter().any(has_text) {
        return;
    }
    if let ChatMessage::Tool { content, name, .. } | ChatMessage::Function { content, name } =
        &mut messages[current]
    {
        let label = match name.as_deref().map(js_trim).filter(|n| !n.is_empty()) {
            Some(n) => format!("Tool:{n}"),
            None => "Tool".to_owned(),
        };
        *content = MessageContent::Text(format!("{label}: {}", text_of(content)));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::openai::request::parse;
    use crate::prompt::build;

    fn messages(value: Value) -> Vec<ChatMessage> {
        let body = json!({"messages": value}).to_string();
        parse(body.as_bytes()).unwrap().messages
    }

    #[test]
    fn a_round_trip_reads_as_openclaws_endpoint_wrote_it_in_the_lab() {
        // docs/client-tools.md, lab `chat_tool_result_nonstream`: the LLM got this message.
        let msgs = messages(json!([
            {"role": "user", "content": "MOCK_TOOL:get_weather {\"city\":\"Paris\"}"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "af96568ce", "type": "function",
              "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "af96568ce", "content": "sunny, 21C"}
        ]));
        let prompt = build(&for_gateway(&msgs, &NameMap::default())).unwrap();
        assert_eq!(
            prompt.message,
            "[Chat messages since your last reply - for context]\n\
             User: MOCK_TOOL:get_weather {\"city\":\"Paris\"}\n\
             Assistant: tool_call id=af96568ce name=get_weather arguments={\"city\":\"Paris\"}\n\n\
             [Current message - respond to this]\n\
             Tool:af96568ce: sunny, 21C"
        );
    }

    #[test]
    fn renamed_tools_keep_the_gateways_name_in_the_transcript() {
        let names = NameMap::for_tools(["ask_user"]);
        let msgs = messages(json!([
            {"role": "user", "content": "ask me"},
            {"role": "assistant", "content": "Let me ask.", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "ask_user", "arguments": {"q": "why"}}},
                {"id": "", "type": "function", "function": {"name": "skipped"}},
                {"id": "c2", "type": "function", "function": {"name": "other", "arguments": null}}
            ]},
            {"role": "tool", "tool_call_id": "c1", "content": "because"}
        ]));
        let prompt = build(&for_gateway(&msgs, &names)).unwrap();
        assert!(
            prompt.message.contains(
                "Assistant: Let me ask.\ntool_call id=c1 name=client_ask_user arguments={\"q\":\"why\"}\ntool_call id=c2 name=other arguments=\n"
            ),
            "{}",
            prompt.message
        );
        assert!(prompt.message.ends_with("Tool:c1: because"));
    }

    #[test]
    fn a_lone_tool_result_keeps_its_label_and_a_lone_user_turn_stays_bare() {
        let lone = messages(json!([
            {"role": "system", "content": "be brief"},
            {"role": "tool", "tool_call_id": "c9", "content": "42"}
        ]));
        let prompt = build(&for_gateway(&lone, &NameMap::default())).unwrap();
        assert_eq!(prompt.message, "Tool:c9: 42");
        assert_eq!(prompt.extra_system_prompt.as_deref(), Some("be brief"));
        let user = messages(json!([{"role": "user", "content": "hi"}]));
        assert_eq!(
            build(&for_gateway(&user, &NameMap::default()))
                .unwrap()
                .message,
            "hi"
        );
    }

    #[test]
    fn a_tool_result_without_id_is_labelled_by_name_or_not_at_all() {
        let msgs = messages(json!([
            {"role": "user", "content": "go"},
            {"role": "tool", "name": "lookup", "content": "a"},
            {"role": "tool", "content": "b"}
        ]));
        let prompt = build(&for_gateway(&msgs, &NameMap::default())).unwrap();
        assert!(
            prompt.message.contains("Tool:lookup: a\n"),
            "{}",
            prompt.message
        );
        assert!(prompt.message.ends_with("Tool: b"), "{}", prompt.message);
    }

    fn responses(input: Value) -> ResponsesRequest {
        let body = json!({"model": "openclaw/main", "input": input}).to_string();
        crate::openai::responses::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn a_responses_transcript_uses_the_gateways_names_and_a_lone_output_keeps_its_label() {
        let names = NameMap::for_tools(["ask_user"]);
        let req = responses(json!([
            {"type": "message", "role": "user", "content": "ask"},
            {"type": "function_call", "call_id": "c1", "name": "ask_user", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "yes"}
        ]));
        let input =
            crate::prompt::build_responses_input(&responses_for_gateway(&req, &names)).unwrap();
        assert!(input
            .prompt
            .message
            .contains("Assistant: tool_call id=c1 name=client_ask_user arguments={}"));
        assert!(input.prompt.message.ends_with("Tool:c1: yes"));

        // lab `responses_tool_output_previous_id`: the model got `Tool:9f4856c0b: sunny, 21C`
        let lone = responses(
            json!([{"type": "function_call_output", "call_id": "9f4856c0b", "output": "sunny, 21C"}]),
        );
        let input =
            crate::prompt::build_responses_input(&responses_for_gateway(&lone, &names)).unwrap();
        assert_eq!(input.prompt.message, "Tool:9f4856c0b: sunny, 21C");
        let text = responses(json!("hello"));
        assert_eq!(responses_for_gateway(&text, &names), text);
    }

    #[test]
    fn messages_without_tools_are_unchanged() {
        let msgs = messages(json!([
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"}
        ]));
        assert_eq!(for_gateway(&msgs, &NameMap::default()), msgs);
    }
}
