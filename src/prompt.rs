//! Turns an OpenAI `messages` array into the input of one gateway `agent` run.
//!
//! The gateway keeps the conversation itself, per session; an `agent` run takes one user
//! turn (`message`) and optional extra instructions (`extraSystemPrompt`). This module folds
//! a stateless OpenAI conversation into that shape with exactly the rules of the gateway's
//! own endpoint (`buildAgentPrompt` in clawdbot 2026.1.24 `gateway/openai-http.js`, with
//! `buildHistoryContextFromEntries` from `auto-reply/reply/history.js`), so a client gets the
//! same agent behaviour through clawshim as through the built-in endpoint:
//!
//! - A message's text is its string content, or the text of its parts joined by `"\n"`, then
//!   trimmed; messages with no text are skipped.
//! - `system` and `developer` texts become the extra system prompt, joined by a blank line.
//! - `function` is treated as `tool`. The other turns are labelled `User`, `Assistant`,
//!   `Tool:<name>` or `Tool`.
//! - The current turn is the last `user` or `tool` turn (else the last turn). With no earlier
//!   turns the message is its bare text; otherwise it is the history envelope
//!   `[Chat messages since your last reply - for context]` + `Sender: text` lines + a blank
//!   line + `[Current message - respond to this]` + `Sender: text`. Turns after the current
//!   one (e.g. a trailing assistant prefill) are dropped.
//! - No user, assistant or tool text at all is an error ("Missing user message in `messages`.").
//!
//! What is ignored, and why:
//!
//! - Content parts other than `text` and `input_text` (`image_url`, `input_audio`, `file`,
//!   `refusal`, unknown types): the run input is text only. A message made only of such parts
//!   has no text and is skipped like an empty message; if it was the only user turn, the
//!   request fails with the missing-user-message error. An unknown part with a string
//!   `input_text` field still counts as text, as in the gateway's endpoint.
//! - `name` on system, developer, user and assistant messages: only tool results are labelled.
//! - Assistant `tool_calls` and `refusal`, tool `tool_call_id`: the agent runs its own tools;
//!   the client's tool transcript is only visible as the text of `tool` messages.
//! - Request fields other than `model`, `messages`, `stream`, `stream_options.include_usage`
//!   and `user` (`tools`, `tool_choice`, `temperature`, `max_tokens`, `response_format`, `n`,
//!   ...; see [`ChatCompletionRequest::ignored_fields`]): model, tools and sampling are the
//!   agent's configuration on the gateway, not the caller's.
//!
//! [`ChatCompletionRequest::ignored_fields`]: crate::openai::ChatCompletionRequest::ignored_fields

use crate::openai::{ChatMessage, MessageContent};

/// Marker opening the history block (`HISTORY_CONTEXT_MARKER` in history.js).
pub const HISTORY_CONTEXT_MARKER: &str = "[Chat messages since your last reply - for context]";
/// Marker before the turn to answer (`CURRENT_MESSAGE_MARKER` in mentions.js).
pub const CURRENT_MESSAGE_MARKER: &str = "[Current message - respond to this]";

/// The input of one agent run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentPrompt {
    /// The user turn, with the history envelope when earlier turns were sent.
    pub message: String,
    /// System and developer texts, joined by a blank line; `None` when there were none.
    pub extra_system_prompt: Option<String>,
}

/// Why no run input could be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    /// No user, assistant or tool message had any text (same wording as the gateway).
    #[error("Missing user message in `messages`.")]
    NoUserMessage,
}

/// One conversation turn that has text.
struct Entry {
    /// True for user and tool turns: those can be the current message.
    answerable: bool,
    sender: String,
    body: String,
}

/// Builds the run input from `messages` (see the module docs for the rules).
pub fn build(messages: &[ChatMessage]) -> Result<AgentPrompt, PromptError> {
    let mut system_parts: Vec<String> = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    for msg in messages {
        let body = text_of(msg.content());
        if body.is_empty() {
            continue;
        }
        let (answerable, sender) = match msg {
            ChatMessage::System { .. } | ChatMessage::Developer { .. } => {
                system_parts.push(body);
                continue;
            }
            ChatMessage::User { .. } => (true, "User".to_owned()),
            ChatMessage::Assistant { .. } => (false, "Assistant".to_owned()),
            ChatMessage::Tool { name, .. } | ChatMessage::Function { name, .. } => {
                match name.as_deref().map(js_trim).filter(|n| !n.is_empty()) {
                    Some(name) => (true, format!("Tool:{name}")),
                    None => (true, "Tool".to_owned()),
                }
            }
        };
        entries.push(Entry {
            answerable,
            sender,
            body,
        });
    }

    let current = entries
        .iter()
        .rposition(|e| e.answerable)
        .or_else(|| entries.len().checked_sub(1))
        .ok_or(PromptError::NoUserMessage)?;
    let message = if current == 0 {
        entries.swap_remove(0).body
    } else {
        let mut out = String::new();
        out.push_str(HISTORY_CONTEXT_MARKER);
        for entry in &entries[..current] {
            out.push('\n');
            push_entry(&mut out, entry);
        }
        out.push_str("\n\n");
        out.push_str(CURRENT_MESSAGE_MARKER);
        out.push('\n');
        push_entry(&mut out, &entries[current]);
        out
    };
    Ok(AgentPrompt {
        message,
        extra_system_prompt: (!system_parts.is_empty()).then(|| system_parts.join("\n\n")),
    })
}

fn push_entry(out: &mut String, entry: &Entry) {
    out.push_str(&entry.sender);
    out.push_str(": ");
    out.push_str(&entry.body);
}

/// A message's text: the string, or the non-empty part texts joined by `"\n"`; trimmed.
fn text_of(content: &MessageContent) -> String {
    match content {
        MessageContent::Text(text) => js_trim(text).to_owned(),
        MessageContent::Parts(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter_map(|p| p.text())
                .filter(|t| !t.is_empty())
                .collect();
            js_trim(&texts.join("\n")).to_owned()
        }
        MessageContent::Empty => String::new(),
    }
}

/// JavaScript's `String.prototype.trim`: Unicode white space plus the BOM, but not U+0085,
/// which Rust's `trim` removes and JavaScript keeps.
fn js_trim(s: &str) -> &str {
    s.trim_matches(|c: char| (c.is_whitespace() && c != '\u{85}') || c == '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn msgs(v: Value) -> Vec<ChatMessage> {
        serde_json::from_value(v).unwrap()
    }

    fn build_json(v: Value) -> Result<AgentPrompt, PromptError> {
        build(&msgs(v))
    }

    fn message(v: Value) -> String {
        build_json(v).unwrap().message
    }

    #[test]
    fn single_user_message_is_sent_bare() {
        let p = build_json(json!([{"role":"user","content":"  hello  "}])).unwrap();
        assert_eq!(
            p,
            AgentPrompt {
                message: "hello".into(),
                extra_system_prompt: None
            }
        );
    }

    #[test]
    fn system_and_developer_become_extra_system_prompt() {
        let p = build_json(json!([
            {"role":"system","content":" Be brief. "},
            {"role":"developer","content":[{"type":"text","text":"Use French."}]},
            {"role":"system","content":""},
            {"role":"user","content":"hi"}
        ]))
        .unwrap();
        assert_eq!(p.message, "hi");
        assert_eq!(
            p.extra_system_prompt.as_deref(),
            Some("Be brief.\n\nUse French.")
        );
    }

    #[test]
    fn history_uses_the_gateway_envelope() {
        let m = message(json!([
            {"role":"system","content":"sys"},
            {"role":"user","content":"What is 2+2?"},
            {"role":"assistant","content":"4"},
            {"role":"user","content":"And times 3?"}
        ]));
        assert_eq!(
            m,
            "[Chat messages since your last reply - for context]\n\
             User: What is 2+2?\n\
             Assistant: 4\n\
             \n\
             [Current message - respond to this]\n\
             User: And times 3?"
        );
    }

    #[test]
    fn parts_are_joined_by_newline_and_trimmed() {
        let m = message(json!([{"role":"user","content":[
            {"type":"text","text":"  first"},
            {"type":"image_url","image_url":{"url":"http://x/y.png"}},
            {"type":"text","text":""},
            {"type":"input_text","text":"second  "}
        ]}]));
        assert_eq!(m, "first\nsecond");
    }

    #[test]
    fn unknown_part_with_input_text_counts() {
        let m = message(json!([{"role":"user","content":[
            {"type":"custom","input_text":"from input_text"}
        ]}]));
        assert_eq!(m, "from input_text");
    }

    #[test]
    fn empty_and_non_text_messages_are_skipped() {
        let m = message(json!([
            {"role":"user","content":"question"},
            {"role":"assistant","content":null,"tool_calls":[{"id":"1"}]},
            {"role":"assistant","content":"   "},
            {"role":"user","content":[{"type":"image_url","image_url":{"url":"u"}}]}
        ]));
        // The image-only turn has no text, so the current turn is the first question.
        assert_eq!(m, "question");
    }

    #[test]
    fn image_only_request_has_no_user_message() {
        let err = build_json(json!([
            {"role":"user","content":[{"type":"image_url","image_url":{"url":"u"}}]}
        ]))
        .unwrap_err();
        assert_eq!(err, PromptError::NoUserMessage);
        assert_eq!(err.to_string(), "Missing user message in `messages`.");
    }

    #[test]
    fn only_system_messages_is_an_error() {
        assert_eq!(
            build_json(json!([{"role":"system","content":"sys"}])),
            Err(PromptError::NoUserMessage)
        );
        assert_eq!(build(&[]), Err(PromptError::NoUserMessage));
    }

    #[test]
    fn tool_and_function_senders() {
        let m = message(json!([
            {"role":"user","content":"weather?"},
            {"role":"assistant","content":"checking"},
            {"role":"function","name":" get_weather ","content":"sunny"},
            {"role":"tool","content":"22C","tool_call_id":"c1"}
        ]));
        assert_eq!(
            m,
            "[Chat messages since your last reply - for context]\n\
             User: weather?\n\
             Assistant: checking\n\
             Tool:get_weather: sunny\n\
             \n\
             [Current message - respond to this]\n\
             Tool: 22C"
        );
    }

    #[test]
    fn tool_result_alone_is_sent_bare() {
        assert_eq!(
            message(json!([{"role":"tool","name":"t","content":"out"}])),
            "out"
        );
    }

    #[test]
    fn entries_after_the_current_turn_are_dropped() {
        let m = message(json!([
            {"role":"user","content":"first"},
            {"role":"assistant","content":"reply"},
            {"role":"user","content":"second"},
            {"role":"assistant","content":"prefill"}
        ]));
        assert_eq!(
            m,
            "[Chat messages since your last reply - for context]\n\
             User: first\n\
             Assistant: reply\n\
             \n\
             [Current message - respond to this]\n\
             User: second"
        );
    }

    #[test]
    fn only_assistant_turns_answer_the_last_one() {
        let m = message(json!([
            {"role":"assistant","content":"a1"},
            {"role":"assistant","content":"a2"}
        ]));
        assert_eq!(
            m,
            "[Chat messages since your last reply - for context]\n\
             Assistant: a1\n\
             \n\
             [Current message - respond to this]\n\
             Assistant: a2"
        );
        assert_eq!(
            message(json!([{"role":"assistant","content":"solo"}])),
            "solo"
        );
    }

    #[test]
    fn names_label_only_tools() {
        let m = message(json!([
            {"role":"user","name":"alice","content":"hi"},
            {"role":"assistant","name":"bot","content":"yo"},
            {"role":"user","name":"alice","content":"again"}
        ]));
        assert!(m.contains("User: hi\nAssistant: yo\n"), "{m}");
        assert!(m.ends_with("User: again"), "{m}");
    }

    #[test]
    fn trimming_follows_javascript() {
        assert_eq!(js_trim("\u{feff} a \u{a0}\u{2028}"), "a");
        assert_eq!(js_trim("\u{85}a"), "\u{85}a");
    }

    #[test]
    fn multiline_bodies_are_kept() {
        let m = message(json!([
            {"role":"user","content":"line1\nline2"},
            {"role":"user","content":"now"}
        ]));
        assert!(m.contains("User: line1\nline2\n\n[Current"), "{m}");
    }
}
