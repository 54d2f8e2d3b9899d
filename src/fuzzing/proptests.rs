//! Property tests of every parser that reads untrusted input, bounded (a fixed number of
//! cases each) so they run in seconds in CI; the fuzz targets in `fuzz/` explore the same
//! entry points for hours.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use proptest::prelude::*;
use regex::Regex;
use serde_json::{json, Map, Value};

use crate::media::data_url::{decode_base64, DataUrl};
use crate::openai::responses::{self, InputItem, ItemContent, ItemRole, ResponsesInput};
use crate::openai::{request, ChatMessage, MessageContent};
use crate::prompt;
use crate::response_id::{ResponseIdCodec, ResponseIdError};
use crate::routing;

/// Cases per property: enough to reach every branch of these small parsers, few enough
/// that the whole file runs in a few seconds in a debug build.
const CASES: u32 = 512;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        // No persistence files in the source tree; a failure prints its minimal input.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Words that steer random JSON into the parsers' interesting branches.
const WORDS: [&str; 40] = [
    "model",
    "messages",
    "role",
    "content",
    "type",
    "text",
    "input_text",
    "output_text",
    "user",
    "system",
    "developer",
    "assistant",
    "tool",
    "function",
    "name",
    "stream",
    "stream_options",
    "include_usage",
    "reasoning_effort",
    "reasoning",
    "effort",
    "input",
    "instructions",
    "message",
    "function_call",
    "function_call_output",
    "call_id",
    "output",
    "image_url",
    "url",
    "file",
    "file_data",
    "input_image",
    "input_file",
    "metadata",
    "openclaw:beta",
    "data:image/png;base64,iVBORw0KGgo=",
    "res",
    "event",
    "payload",
];

/// Short strings: the steering words, white space and arbitrary text.
/// A `user` value: [`text`] without control characters (those are a 400, tested in
/// `openai::limits`).
fn user_text() -> impl Strategy<Value = String> {
    text().prop_map(|t| t.chars().filter(|c| !c.is_control()).collect())
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(&WORDS[..]).prop_map(str::to_owned),
        1 => Just(String::new()),
        1 => Just(" \t\n\u{feff}\u{85}".to_owned()),
        3 => ".{0,12}",
    ]
}

/// Arbitrary JSON, nested a few levels, with object keys drawn mostly from [`WORDS`].
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A JSON object with the given keys more or less present, each value arbitrary.
fn object_with(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop::collection::vec((proptest::sample::select(keys), json_value()), 0..8).prop_map(|pairs| {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    })
}

/// A message-like object: a role (often valid) and content of any shape.
fn message_value() -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(
            &[
                "user",
                "system",
                "developer",
                "assistant",
                "tool",
                "function",
                " user ",
                "robot",
            ][..],
        ),
        json_value(),
        proptest::option::of(text()),
    )
        .prop_map(|(role, content, name)| {
            let mut m = json!({"role": role, "content": content});
            if let Some(name) = name {
                m["name"] = Value::String(name);
            }
            m
        })
}

/// The chat roles, as `ChatMessage` values.
fn chat_message() -> impl Strategy<Value = ChatMessage> {
    let content = prop_oneof![
        text().prop_map(MessageContent::Text),
        Just(MessageContent::Empty),
        prop::collection::vec(json_value(), 0..4).prop_map(|parts| {
            // Parts are read the way a request reads them (an array is always parts).
            let body = json!({"messages": [{"role": "user", "content": parts}]});
            let req = crate::openai::request::parse(body.to_string().as_bytes())
                .expect("any array reads as parts");
            req.messages[0].content().clone()
        }),
    ];
    (0..6u8, content, proptest::option::of(text())).prop_map(|(role, content, name)| match role {
        0 => ChatMessage::System { content, name },
        1 => ChatMessage::Developer { content, name },
        2 => ChatMessage::User { content, name },
        3 => ChatMessage::Assistant {
            content,
            name,
            tool_calls: None,
            refusal: None,
        },
        4 => ChatMessage::Tool {
            content,
            name,
            tool_call_id: None,
        },
        _ => ChatMessage::Function { content, name },
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn chat_request_never_panics_on_bytes(data in prop::collection::vec(any::<u8>(), 0..256)) {
        super::chat_request(&data);
    }

    #[test]
    fn chat_request_never_panics_on_json(
        body in object_with(&["model", "messages", "stream", "stream_options", "user", "reasoning_effort", "tools"]),
        messages in prop::collection::vec(message_value(), 0..5),
        with_messages in any::<bool>(),
    ) {
        let mut body = body;
        if with_messages {
            body["messages"] = Value::Array(messages);
        }
        super::chat_request(body.to_string().as_bytes());
    }

    /// A valid request reads back exactly the fields it was built from.
    #[test]
    fn valid_chat_request_round_trips(
        model in proptest::option::of(text()),
        stream in proptest::option::of(any::<bool>()),
        include_usage in proptest::option::of(any::<bool>()),
        user in proptest::option::of(user_text()),
        turns in prop::collection::vec((0..6usize, text()), 1..6),
        extra in proptest::option::of(json_value()),
    ) {
        const ROLES: [&str; 6] = ["system", "developer", "user", "assistant", "tool", "function"];
        let messages: Vec<Value> = turns
            .iter()
            .map(|(role, content)| json!({"role": ROLES[*role], "content": content}))
            .collect();
        let mut body = json!({"messages": messages});
        if let Some(model) = &model { body["model"] = json!(model); }
        if let Some(stream) = stream { body["stream"] = json!(stream); }
        if let Some(include) = include_usage { body["stream_options"] = json!({"include_usage": include}); }
        if let Some(user) = &user { body["user"] = json!(user); }
        if let Some(extra) = &extra { body["x_vendor_field"] = extra.clone(); }
        let req = request::parse(body.to_string().as_bytes()).expect("valid request");
        prop_assert_eq!(req.include_usage(), include_usage == Some(true));
        prop_assert_eq!(&req.model, &model);
        prop_assert_eq!(req.stream, stream);
        prop_assert_eq!(&req.user, &user);
        prop_assert_eq!(req.messages.len(), turns.len());
        for (msg, (role, content)) in req.messages.iter().zip(&turns) {
            prop_assert_eq!(msg.role(), ROLES[*role]);
            prop_assert_eq!(msg.content(), &MessageContent::Text(content.clone()));
        }
        prop_assert_eq!(req.unknown_fields.iter().any(|f| f == "x_vendor_field"), extra.is_some());
    }

    #[test]
    fn responses_request_never_panics_on_bytes(data in prop::collection::vec(any::<u8>(), 0..256)) {
        super::responses_request(&data);
    }

    #[test]
    fn responses_request_never_panics_on_json(
        body in object_with(&["model", "input", "instructions", "previous_response_id", "stream", "user", "metadata", "reasoning", "store", "tools"]),
        items in prop::collection::vec(
            object_with(&["type", "role", "content", "call_id", "id", "name", "arguments", "output"]),
            0..5,
        ),
        with_items in any::<bool>(),
    ) {
        let mut body = body;
        if with_items {
            body["input"] = Value::Array(items);
        }
        super::responses_request(body.to_string().as_bytes());
    }

    /// Valid Responses input items read back as sent.
    #[test]
    fn valid_responses_request_round_trips(
        instructions in proptest::option::of(text()),
        stream in any::<bool>(),
        turns in prop::collection::vec((0..4usize, text(), any::<bool>()), 1..6),
    ) {
        const ROLES: [(&str, ItemRole); 4] = [
            ("user", ItemRole::User),
            ("assistant", ItemRole::Assistant),
            ("system", ItemRole::System),
            ("developer", ItemRole::Developer),
        ];
        let items: Vec<Value> = turns
            .iter()
            .map(|(role, text, typed)| {
                let mut item = json!({"role": ROLES[*role].0, "content": [{"type": "input_text", "text": text}]});
                if *typed { item["type"] = json!("message"); }
                item
            })
            .collect();
        let mut body = json!({"input": items, "stream": stream});
        if let Some(i) = &instructions { body["instructions"] = json!(i); }
        let req = responses::parse(body.to_string().as_bytes()).expect("valid request");
        prop_assert_eq!(&req.instructions, &instructions);
        prop_assert_eq!(req.stream, stream);
        let ResponsesInput::Items(read) = &req.input else {
            return Err(TestCaseError::fail("items read as text"));
        };
        prop_assert_eq!(read.len(), turns.len());
        for (item, (role, text, _)) in read.iter().zip(&turns) {
            let InputItem::Message { role: read_role, content: ItemContent::Parts(parts) } = item else {
                return Err(TestCaseError::fail(format!("{item:?}")));
            };
            prop_assert_eq!(*read_role, ROLES[*role].1);
            prop_assert_eq!(parts, &vec![responses::ItemPart::Text(text.clone())]);
        }
    }

    /// Prompt rules over any typed conversation (see `check_chat_prompt`).
    #[test]
    fn prompt_rules_hold(messages in prop::collection::vec(chat_message(), 0..8)) {
        super::check_chat_prompt(&messages);
        let _ = prompt::build_chat_input(&messages);
    }

    /// The user turn reaches the message; system text never does.
    #[test]
    fn system_text_stays_out_of_the_message(
        turns in prop::collection::vec((any::<bool>(), "[a-z ]{1,12}"), 0..6),
        last_user in "[a-z]{1,12}",
    ) {
        let mut messages: Vec<ChatMessage> = turns
            .iter()
            .map(|(system, text)| if *system {
                ChatMessage::System { content: MessageContent::Text(format!("SYSTEM {text}")), name: None }
            } else {
                ChatMessage::Assistant { content: MessageContent::Text(text.clone()), name: None, tool_calls: None, refusal: None }
            })
            .collect();
        messages.push(ChatMessage::User { content: MessageContent::Text(last_user.clone()), name: None });
        let p = prompt::build(&messages).expect("a user turn");
        prop_assert!(p.message.ends_with(&last_user));
        prop_assert!(!p.message.contains("SYSTEM"), "{}", p.message);
        let systems = turns.iter().filter(|(s, _)| *s).count();
        prop_assert_eq!(
            p.extra_system_prompt.map_or(0, |e| e.matches("SYSTEM").count()),
            systems
        );
    }

    #[test]
    fn prompt_target_never_panics(messages in prop::collection::vec(message_value(), 0..6)) {
        super::prompt(Value::Array(messages).to_string().as_bytes());
    }

    #[test]
    fn routing_output_is_a_normalized_agent_id(header in any::<String>(), model in any::<String>()) {
        super::routing(format!("{header}\n{model}").as_bytes());
    }

    #[test]
    fn routing_on_prefixed_models(prefix in proptest::sample::select(&["openclaw:", "OpenClaw/", "clawdbot:", "moltbot/", "agent:", "agent"][..]), id in "[ -~]{0,70}") {
        let model = format!("{prefix}{id}");
        super::routing(format!("\n{model}").as_bytes());
        super::routing(format!("{id}\n{model}").as_bytes());
    }

    /// `normalize_agent_id` is the id the gateway ends up with: its `normalizeAgentId`,
    /// written here with its own regular expressions (clawdbot 2026.1.24
    /// `routing/session-key.js`), applied to the raw id and again to the id it receives.
    #[test]
    fn normalize_agent_id_matches_the_gateway(raw in "[ -~\u{a0}\u{feff}\u{85}\u{130}\u{212a}é_-]{0,80}") {
        let gateway = gateway_normalize_agent_id(&gateway_normalize_agent_id(&raw));
        prop_assert_eq!(routing::normalize_agent_id(&raw), gateway);
    }

    #[test]
    fn data_url_never_panics(url in prop_oneof![any::<String>(), "[dDaAtT:;,= a-z/A-Z0-9+]{0,40}"]) {
        super::data_url(url.as_bytes());
        super::data_url(format!("data:{url}").as_bytes());
    }

    /// Any bytes, base64-encoded with or without padding and with line breaks, decode back,
    /// and the forwarded text is the canonical padded form.
    #[test]
    fn base64_round_trips(bytes in prop::collection::vec(any::<u8>(), 1..200), strip_padding in any::<bool>(), wrap in 1..80usize) {
        let canonical = STANDARD.encode(&bytes);
        let mut sent = if strip_padding { canonical.trim_end_matches('=').to_owned() } else { canonical.clone() };
        sent = sent.as_bytes().chunks(wrap).map(|c| std::str::from_utf8(c).expect("ascii")).collect::<Vec<_>>().join("\r\n");
        let url = format!("data:image/png;base64,{sent}");
        let parsed = DataUrl::parse(&url, "p").expect("valid").expect("a data URL");
        prop_assert_eq!(parsed.mime_type.as_deref(), Some("image/png"));
        let decoded = decode_base64(parsed.data, "p").expect("valid base64");
        prop_assert_eq!(decoded.bytes, bytes);
        prop_assert_eq!(decoded.canonical, canonical);
    }

    #[test]
    fn response_id_verify_never_panics(id in any::<String>(), credential in any::<String>()) {
        let codec = ResponseIdCodec::new(b"secret");
        let _ = codec.verify(&id, &credential);
        let _ = codec.verify(&format!("resp_{id}"), &credential);
    }

    #[test]
    fn response_id_round_trips(session in ".{1,120}", credential in any::<String>()) {
        let codec = ResponseIdCodec::new(b"secret");
        let id = codec.issue(&session, &credential);
        prop_assert!(id.starts_with("resp_"));
        prop_assert_eq!(codec.verify(&id, &credential), Ok(session));
        let other = format!("{credential}!");
        prop_assert!(matches!(codec.verify(&id, &other), Err(ResponseIdError::NotYours(_))));
        prop_assert!(ResponseIdCodec::new(b"other").verify(&id, &credential).is_err());
        super::response_id(format!("{credential}\n{id}").as_bytes());
    }

    #[test]
    fn frame_never_panics_on_bytes(data in prop::collection::vec(any::<u8>(), 0..256)) {
        super::frame(&data);
    }

    #[test]
    fn frame_never_panics_on_json(
        frame in object_with(&["type", "id", "ok", "payload", "error", "event", "seq"]),
        payload in object_with(&["runId", "stream", "data", "delta", "text", "status", "result", "payloads", "meta", "nonce", "reason", "code", "message", "details"]),
        kind in proptest::sample::select(&["res", "event", "req", "hello"][..]),
        event in proptest::sample::select(&["agent", "chat", "tick", "shutdown", "connect.challenge", "health"][..]),
    ) {
        let mut frame = frame;
        frame["type"] = json!(kind);
        frame["event"] = json!(event);
        frame["payload"] = payload;
        super::frame(frame.to_string().as_bytes());
    }

    #[test]
    fn progress_events_never_panic_and_stay_bounded(
        data in object_with(&["phase", "kind", "name", "toolCallId", "title", "status", "error", "isError", "startedAt", "endedAt", "args", "result", "delta", "text", "command", "host", "output"]),
        stream in proptest::sample::select(&["tool", "item", "thinking", "approval", "command_output", "assistant"][..]),
        phase in proptest::sample::select(&["start", "end", "result", "update", "requested", "resolved"][..]),
    ) {
        let mut data = data;
        if data.get("phase").is_some_and(|p| !p.is_string()) || data.get("phase").is_none() {
            data["phase"] = json!(phase);
        }
        if stream == "item" {
            data["kind"] = json!("tool");
        }
        let frame = json!({"type": "event", "event": "agent",
            "payload": {"runId": "r", "stream": stream, "data": data, "ts": 1}});
        super::frame(frame.to_string().as_bytes());
    }
}

/// The gateway's `normalizeAgentId`, transcribed regex for regex.
fn gateway_normalize_agent_id(value: &str) -> String {
    // JavaScript's `trim`: white space and line terminators plus the BOM, not U+0085.
    let trimmed = crate::prompt::js_trim(value);
    if trimmed.is_empty() {
        return "main".to_owned();
    }
    let valid = Regex::new(r"(?i)^[a-z0-9][a-z0-9_-]{0,63}$").expect("regex");
    if valid.is_match(trimmed) && trimmed.is_ascii() {
        return trimmed.to_lowercase();
    }
    let lowered = trimmed.to_lowercase();
    let collapsed = Regex::new(r"[^a-z0-9_-]+")
        .expect("regex")
        .replace_all(&lowered, "-");
    let out = collapsed.trim_start_matches('-').trim_end_matches('-');
    let out: String = out.chars().take(64).collect();
    if out.is_empty() {
        "main".to_owned()
    } else {
        out
    }
}
