//! Entry points for the coverage-guided fuzz targets in `fuzz/`, one per parser that reads
//! untrusted input: client request bodies, gateway frames, `data:` URLs and response ids.
//!
//! Each function takes raw bytes, runs them through the parser the way the proxy does, and
//! checks the invariants that must hold for any input; a violated invariant panics, which is
//! what a fuzzer reports. The same functions replay the kept corpus (`fuzz/corpus/<target>/`)
//! in plain `cargo test`, so every input a fuzzer ever kept stays a regression test on stable.
//! Hidden from the docs: this is not API, it exists so `fuzz/` reaches crate-private parsers
//! (the gateway frames), as `rustls::internal::fuzzing` and `quinn-proto`'s `fuzzing` do.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use regex::Regex;
use serde_json::{Map, Value};
use std::sync::LazyLock;

use crate::gateway::frame::{AgentEvent, AssistantData, Challenge, InFrame, Shutdown};
use crate::gateway::methods::AgentResPayload;
use crate::media::data_url::{decode_base64, DataUrl};
use crate::media::{file, image};
use crate::openai::responses::{self, InputItem, ItemRole};
use crate::openai::{request, ApiError, ChatMessage};
use crate::prompt::{self, AgentPrompt, PromptError};
use crate::response_id::{ResponseIdCodec, ResponseIdError, MAX_SESSION_KEY_LEN};
use crate::routing;

#[cfg(test)]
mod corpus;
#[cfg(test)]
mod proptests;

/// A fuzz entry point: any bytes in, a panic only for a broken invariant.
pub type Target = fn(&[u8]);

/// The fuzz targets, by corpus directory name, with their entry points.
pub const TARGETS: [(&str, Target); 7] = [
    ("chat_request", chat_request),
    ("responses_request", responses_request),
    ("prompt", prompt),
    ("frame", frame),
    ("data_url", data_url),
    ("response_id", response_id),
    ("routing", routing),
];

/// A chat-completions body: [`request::parse`], then the run input built from it.
pub fn chat_request(data: &[u8]) {
    match request::parse(data) {
        Ok(req) => {
            assert!(!req.messages.is_empty(), "parse accepted empty messages");
            let _ = req.ignored_fields();
            let _ = (req.is_stream(), req.include_usage());
            check_chat_prompt(&req.messages);
            let _ = prompt::build_chat_input(&req.messages);
        }
        Err(err) => check_error(err.into()),
    }
}

/// A Responses body: [`responses::parse`], then the run input built from it.
pub fn responses_request(data: &[u8]) {
    match responses::parse(data) {
        Ok(req) => {
            let _ = req.ignored_fields();
            match prompt::build_responses_input(&req) {
                Ok(input) => check_responses_prompt(&req, &input.prompt),
                Err(err) => {
                    let _ = (err.to_string(), err.param());
                }
            }
        }
        Err(err) => check_error(err.into()),
    }
}

/// A `messages` array, typed without the request checks, then [`prompt::build`] and
/// [`prompt::build_chat_input`]: prompt building must hold its rules for any typed input.
pub fn prompt(data: &[u8]) {
    if let Ok(messages) = serde_json::from_slice::<Vec<ChatMessage>>(data) {
        check_chat_prompt(&messages);
        let _ = prompt::build_chat_input(&messages);
    }
}

/// One gateway text frame, read as the connection task reads it: the envelope, then the
/// typed views of the payloads it acts on.
pub fn frame(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match InFrame::parse(text) {
        Ok(InFrame::Res(res)) => {
            let payload = AgentResPayload::parse(res.payload.as_deref());
            if !payload.is_accepted() {
                let _ = payload.into_outcome();
            }
            if let Some(error) = res.error {
                let _ = error.details.and_then(|d| d.code);
            }
        }
        Ok(InFrame::Event(ev)) => {
            let _ = ev.payload_as::<Challenge>();
            let _ = ev.payload_as::<Shutdown>();
            if let Some(payload) = ev.payload.as_deref() {
                if let Ok(agent) = serde_json::from_str::<AgentEvent>(payload.get()) {
                    let _ = agent
                        .data
                        .and_then(|d| serde_json::from_str::<AssistantData>(d.get()).ok());
                    if let Some(data) = agent.data {
                        check_progress(&agent.stream, data);
                    }
                }
            }
        }
        Ok(InFrame::Unknown) | Err(_) => {}
    }
}

/// The progress readers on one event's `data`, at every level: nothing at `off`, no tool
/// arguments or results at `steps`, every text within its bound, and a rendered line no
/// longer than its parts allow.
fn check_progress(stream: &str, data: &serde_json::value::RawValue) {
    use crate::gateway::progress::{self, Progress, ProgressLevel, THINKING_DELTA_MAX_BYTES};
    let bounded = |text: &Option<String>, max: usize| {
        text.as_ref().is_none_or(|t| t.chars().count() <= max + 1)
    };
    for level in [
        ProgressLevel::Off,
        ProgressLevel::Steps,
        ProgressLevel::Detailed,
    ] {
        let parsed = progress::parse(stream, data, Some(0), level);
        match &parsed {
            None => {}
            Some(_) if level == ProgressLevel::Off => panic!("progress at off: {parsed:?}"),
            Some(Progress::Tool(step)) => {
                if level == ProgressLevel::Steps {
                    assert!(step.args.is_none() && step.result.is_none(), "{step:?}");
                }
                for text in [&step.name, &step.title, &step.error, &step.call_id] {
                    assert!(bounded(text, progress::TEXT_MAX_CHARS), "{step:?}");
                }
                for text in [&step.args, &step.result] {
                    assert!(bounded(text, progress::EXCERPT_MAX_CHARS), "{step:?}");
                }
            }
            Some(Progress::Thinking(text)) => {
                assert!(text.len() <= THINKING_DELTA_MAX_BYTES)
            }
            Some(Progress::Approval(wait)) => {
                for text in [&wait.status, &wait.command, &wait.host] {
                    assert!(bounded(text, progress::TEXT_MAX_CHARS), "{wait:?}");
                }
            }
            Some(Progress::Output(output)) => {
                assert_eq!(level, ProgressLevel::Detailed, "{output:?}");
                assert!(output.excerpt.chars().count() <= progress::EXCERPT_MAX_CHARS + 1);
                assert!(
                    bounded(&output.title, progress::TEXT_MAX_CHARS),
                    "{output:?}"
                );
            }
        }
        if let Some(p) = parsed {
            let mut text = crate::progress_text::ProgressText::default();
            let line = text.render(&p).unwrap_or_default();
            assert!(line.len() <= 16 * 1024, "a line of {} bytes", line.len());
        }
    }
}

/// A `data:` URL (or any image URL), then the image and file readers on it. Decoded base64
/// must re-encode to the canonical text that is forwarded.
pub fn data_url(data: &[u8]) {
    let Ok(url) = std::str::from_utf8(data) else {
        let _ = image::sniff(data);
        return;
    };
    if let Ok(Some(parsed)) = DataUrl::parse(url, "p") {
        if let Ok(decoded) = decode_base64(parsed.data, "p") {
            assert_eq!(decoded.canonical, STANDARD.encode(&decoded.bytes));
            let _ = image::sniff(&decoded.bytes);
        }
    }
    if let Ok(image::ImageRef::Inline(att)) = image::from_url(url, "p") {
        assert_eq!(
            STANDARD.decode(&att.content_base64).ok().map(|b| b.len()),
            Some(att.decoded_len)
        );
    }
    let part = Value::Object(Map::from_iter([
        ("file_data".to_owned(), Value::String(url.to_owned())),
        ("filename".to_owned(), Value::String(url.to_owned())),
    ]));
    if let Ok(text) = file::from_chat_part(&part, "messages[0].content[0]") {
        check_file_block(&text.render("0123456789abcdef"));
    }
}

/// A response id and a credential (split at the first `\n`): verifying never panics, and
/// an id issued for a session key verifies to it, for its credential only.
pub fn response_id(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (credential, id) = text.split_once('\n').unwrap_or(("alice", &text));
    let codec = ResponseIdCodec::new(b"fuzz");
    if let Err(err) = codec.verify(id, credential) {
        let _ = err.to_string();
    }
    // The id text doubles as a session key.
    let issued = codec.issue(id, credential);
    let verified = codec.verify(&issued, credential);
    if !id.is_empty() && id.len() <= MAX_SESSION_KEY_LEN {
        assert_eq!(verified.as_deref(), Ok(id), "issued id does not verify");
        let other = format!("{credential}x");
        assert!(matches!(
            codec.verify(&issued, &other),
            Err(ResponseIdError::NotYours(_))
        ));
    } else {
        assert!(matches!(verified, Err(ResponseIdError::Malformed(_))));
    }
}

/// A model id and an agent header value (split at the first `\n`): the agent picked is one
/// the gateway would pick, and normalizing it again changes nothing.
pub fn routing(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (header, model) = text.split_once('\n').unwrap_or(("", &text));
    check_normalized(&routing::normalize_agent_id(header));
    check_normalized(&routing::normalize_agent_id(model));
    if let Some(id) = routing::agent_id_from_model(model) {
        assert!(is_strict_agent_id(&id), "model gave agent id {id:?}");
        assert!(id.bytes().all(|b| !b.is_ascii_uppercase()));
    }
    let by_header = routing::select_agent(
        |name| (name == routing::AGENT_HEADERS[0]).then(|| header.to_owned()),
        Some(model),
    );
    if let routing::AgentSelector::Explicit(id) = by_header {
        check_normalized(&id);
    }
}

/// The shape of the gateway's `normalizeAgentId` output (`routing/session-key.js`): 1 to 64
/// characters of `[a-z0-9_-]`, not starting with `-`, and a fixed point.
pub fn check_normalized(id: &str) {
    assert!(!id.is_empty() && id.len() <= 64, "bad length: {id:?}");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'),
        "bad character: {id:?}"
    );
    assert!(!id.starts_with('-'), "leading dash: {id:?}");
    assert_eq!(routing::normalize_agent_id(id), id, "not idempotent");
}

/// `^[a-z0-9][a-z0-9_-]{0,63}$`, case-insensitive: the gateway's valid agent id.
pub fn is_strict_agent_id(id: &str) -> bool {
    let mut bytes = id.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id.len() <= 64
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A request error renders as a complete OpenAI error.
fn check_error(api: ApiError) {
    assert!(!api.message.is_empty());
    assert_eq!(api.r#type, "invalid_request_error");
}

/// The prompt rules over typed chat messages:
/// - a prompt exists exactly when a non-system message has text;
/// - the message ends with the current turn's text (the last user or tool turn with text,
///   else the last turn with text), and is bare when that is the only turn;
/// - system and developer texts make the extra system prompt and nothing else: removing
///   them leaves the message unchanged.
pub fn check_chat_prompt(messages: &[ChatMessage]) {
    let result = prompt::build(messages);
    let texts: Vec<(bool, bool, String)> = messages
        .iter()
        .map(|m| {
            let system = matches!(
                m,
                ChatMessage::System { .. } | ChatMessage::Developer { .. }
            );
            let answerable = matches!(
                m,
                ChatMessage::User { .. } | ChatMessage::Tool { .. } | ChatMessage::Function { .. }
            );
            (system, answerable, prompt::text_of(m.content()))
        })
        .collect();
    let turns: Vec<&(bool, bool, String)> = texts
        .iter()
        .filter(|(s, _, t)| !s && !t.is_empty())
        .collect();
    let system: Vec<&str> = texts
        .iter()
        .filter(|(s, _, t)| *s && !t.is_empty())
        .map(|(_, _, t)| t.as_str())
        .collect();
    let AgentPrompt {
        message,
        extra_system_prompt,
    } = match result {
        Ok(p) => p,
        Err(err) => {
            assert_eq!(err, PromptError::NoUserMessage);
            assert!(turns.is_empty(), "turns with text but no prompt");
            return;
        }
    };
    let current = turns
        .iter()
        .rposition(|(_, answerable, _)| *answerable)
        .unwrap_or(turns.len() - 1);
    let current_text = &turns[current].2;
    assert!(
        message.ends_with(current_text.as_str()),
        "message does not end with the current turn"
    );
    if current == 0 {
        assert_eq!(&message, current_text);
    } else {
        assert!(message.starts_with(prompt::HISTORY_CONTEXT_MARKER));
        assert!(message.contains(prompt::CURRENT_MESSAGE_MARKER));
    }
    let expected_system = (!system.is_empty()).then(|| system.join("\n\n"));
    assert_eq!(extra_system_prompt, expected_system);
    let without_system: Vec<ChatMessage> = messages
        .iter()
        .filter(|m| {
            !matches!(
                m,
                ChatMessage::System { .. } | ChatMessage::Developer { .. }
            )
        })
        .cloned()
        .collect();
    let bare = prompt::build(&without_system).expect("the same turns are left");
    assert_eq!(bare.message, message, "system text changed the message");
    assert_eq!(bare.extra_system_prompt, None);
}

/// The Responses prompt rules: instructions and system texts go to the extra system
/// prompt only; a string input is the message as sent.
fn check_responses_prompt(req: &responses::ResponsesRequest, prompt: &AgentPrompt) {
    let instructions = req.instructions.as_deref().filter(|i| !i.is_empty());
    let items = match &req.input {
        responses::ResponsesInput::Text(text) => {
            assert_eq!(&prompt.message, text);
            assert_eq!(prompt.extra_system_prompt.as_deref(), instructions);
            return;
        }
        responses::ResponsesInput::Items(items) => items,
    };
    if let Some(instructions) = instructions {
        let extra = prompt.extra_system_prompt.as_deref().unwrap_or("");
        assert!(extra.starts_with(instructions), "instructions not first");
    }
    let system_texts = items.iter().filter_map(|item| match item {
        InputItem::Message {
            role: ItemRole::System | ItemRole::Developer,
            content,
        } => Some(prompt::item_text(content)),
        _ => None,
    });
    for text in system_texts.filter(|t| !t.is_empty()) {
        let extra = prompt.extra_system_prompt.as_deref().unwrap_or("");
        assert!(
            extra.contains(&text),
            "system text missing from the extra prompt"
        );
    }
}

/// A rendered file block opens and closes exactly once: nothing in a file's name or text
/// can end the block early or open another one.
fn check_file_block(block: &str) {
    // The tags as `escapeFileBlockContent` recognises them.
    static OPEN: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)<\s*file\b").expect("static regex"));
    static CLOSE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)<\s*/\s*file\s*>").expect("static regex"));
    assert!(block.starts_with("<file name=\""), "{block:?}");
    assert!(block.ends_with("</file>"), "{block:?}");
    assert_eq!(OPEN.find_iter(block).count(), 1, "{block:?}");
    assert_eq!(CLOSE.find_iter(block).count(), 1, "{block:?}");
}
