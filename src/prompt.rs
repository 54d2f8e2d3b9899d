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
//! Images and files ([`build_chat_input`], [`build_responses_input`]; see `media`): only the
//! current user turn's media reach the run, as in openclaw's built-in endpoints (earlier turns
//! were already seen by the session; a tool result after the last user turn means there is
//! no current user turn). Its images become `attachments`, its text files are rendered into
//! the extra system prompt after the system texts, and a turn with media but no text reads
//! [`IMAGE_ONLY_USER_MESSAGE`] (or [`FILE_ONLY_USER_MESSAGE`]) instead of being skipped.
//! Media parts of earlier turns are neither decoded nor checked.
//!
//! The Responses API input follows the same rules through [`build_responses_input`], with
//! the item rules of the built-in `/v1/responses` listed there.
//!
//! What is ignored, and why:
//!
//! - Content parts other than `text`, `input_text`, `image_url` and `file` (`input_audio`,
//!   `refusal`, unknown types): the run takes text and images. [`build`], the text-only
//!   form, also skips `image_url` and `file` parts: a message made only of such parts has no
//!   text and is skipped like an empty message, and if it was the only user turn the request
//!   fails with the missing-user-message error. An unknown part with a string `input_text`
//!   field still counts as text, as in the gateway's endpoint.
//! - `name` on system, developer, user and assistant messages: only tool results are labelled.
//! - Assistant `tool_calls` and `refusal`, tool `tool_call_id`: the agent runs its own tools;
//!   the client's tool transcript is only visible as the text of `tool` messages.
//! - Request fields other than `model`, `messages`, `stream`, `stream_options.include_usage`,
//!   `user` and `reasoning_effort` (`tools`, `tool_choice`, `temperature`, `max_tokens`,
//!   `response_format`, `n`, ...; see [`ChatCompletionRequest::ignored_fields`]): model, tools
//!   and sampling are the agent's configuration on the gateway, not the caller's.
//!
//! [`ChatCompletionRequest::ignored_fields`]: crate::openai::ChatCompletionRequest::ignored_fields

use crate::media::file::new_marker_id;
use crate::media::{file, image, Attachment, ImageRef, MediaError, RemoteImage};
use crate::openai::responses::{
    InputItem, ItemContent, ItemPart, ItemRole, ResponsesInput, ResponsesRequest,
};
use crate::openai::{ChatMessage, ContentPart, MessageContent};

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
    /// The Responses `input` had no user, assistant or tool text (the built-in's wording).
    #[error("Missing user message in `input`.")]
    NoUserInput,
}

impl PromptError {
    /// The request parameter at fault: `messages` or `input`.
    pub fn param(&self) -> &'static str {
        match self {
            PromptError::NoUserMessage => "messages",
            PromptError::NoUserInput => "input",
        }
    }
}

/// Text of the current user turn when it only carried images (`IMAGE_ONLY_USER_MESSAGE` in
/// openclaw's `agent-prompt.ts`: a run needs a non-empty message).
pub const IMAGE_ONLY_USER_MESSAGE: &str = "User sent image(s) with no text.";
/// The same for a turn that only carried files (`FILE_ONLY_USER_MESSAGE`).
pub const FILE_ONLY_USER_MESSAGE: &str = "User sent file(s) with no text.";

/// The whole input of one run: the prompt, plus the current turn's images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInput {
    /// Message and extra system prompt (which ends with the current turn's files).
    pub prompt: AgentPrompt,
    /// Inline images, for the run's `attachments`.
    pub attachments: Vec<Attachment>,
    /// `http(s)` images, for the caller to fetch (then [`RemoteImage::into_attachment`]) or
    /// refuse ([`RemoteImage::refused`]).
    pub remote_images: Vec<RemoteImage>,
}

/// Why a request's input cannot become a run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// No text to answer (400).
    #[error(transparent)]
    Prompt(#[from] PromptError),
    /// A bad or unsupported image or file (400), or one over a limit (413).
    #[error(transparent)]
    Media(#[from] MediaError),
}

impl InputError {
    /// The request parameter at fault, when there is one.
    pub fn param(&self) -> Option<&str> {
        match self {
            InputError::Prompt(e) => Some(e.param()),
            InputError::Media(e) => e.param(),
        }
    }
}

/// One conversation turn that has text.
struct Entry {
    /// True for user and tool turns: those can be the current message.
    answerable: bool,
    sender: String,
    body: String,
}

/// Builds the run input from `messages`, text only (see the module docs for the rules);
/// [`build_chat_input`] also takes the current turn's images and files.
pub fn build(messages: &[ChatMessage]) -> Result<AgentPrompt, PromptError> {
    build_chat_prompt(messages, None, "")
}

/// Builds the whole run input from `messages`: the prompt of [`build`], plus the images
/// and files of the current user turn (see the module docs).
pub fn build_chat_input(messages: &[ChatMessage]) -> Result<RunInput, InputError> {
    build_chat_input_with(messages, &mut new_marker_id)
}

fn build_chat_input_with(
    messages: &[ChatMessage],
    marker_id: &mut dyn FnMut() -> String,
) -> Result<RunInput, InputError> {
    let active = active_chat_turn(messages);
    let mut media = Media::default();
    if let Some(i) = active {
        if let MessageContent::Parts(parts) = messages[i].content() {
            for (j, part) in parts.iter().enumerate() {
                let base = format!("messages[{i}].content[{j}]");
                match part {
                    ContentPart::ImageUrl { image_url } => {
                        media.add_image(image::from_chat_part(image_url, &base)?)
                    }
                    ContentPart::File { file } => {
                        media.add_file(&file::from_chat_part(file, &base)?, marker_id)
                    }
                    _ => {}
                }
            }
        }
    }
    let placeholder = active.zip(media.placeholder());
    let mut prompt = build_chat_prompt(
        messages,
        placeholder.map(|(i, _)| i),
        placeholder.map_or("", |(_, p)| p),
    )?;
    prompt.extra_system_prompt =
        join_blocks([prompt.extra_system_prompt.take(), media.file_context()]);
    Ok(RunInput {
        prompt,
        attachments: media.attachments,
        remote_images: media.remote_images,
    })
}

/// The turn whose media the run gets: the last `user` message, unless a tool result comes
/// after it (a tool result starts its own turn and does not inherit the user's media:
/// `resolveActiveUserMessage` in openclaw's `openresponses-prompt.ts`).
fn active_chat_turn(messages: &[ChatMessage]) -> Option<usize> {
    for (i, msg) in messages.iter().enumerate().rev() {
        match msg {
            ChatMessage::User { .. } => return Some(i),
            ChatMessage::Tool { .. } | ChatMessage::Function { .. } => return None,
            _ => {}
        }
    }
    None
}

/// The chat prompt; the message at `placeholder_at`, when it has no text, reads
/// `placeholder` instead of being skipped.
fn build_chat_prompt(
    messages: &[ChatMessage],
    placeholder_at: Option<usize>,
    placeholder: &str,
) -> Result<AgentPrompt, PromptError> {
    let mut system_parts: Vec<String> = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    for (i, msg) in messages.iter().enumerate() {
        let mut body = text_of(msg.content());
        if body.is_empty() && placeholder_at == Some(i) {
            body = placeholder.to_owned();
        }
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
                (true, tool_sender(name.as_deref()))
            }
        };
        entries.push(Entry {
            answerable,
            sender,
            body,
        });
    }

    let message = assemble(entries).ok_or(PromptError::NoUserMessage)?;
    Ok(AgentPrompt {
        message,
        extra_system_prompt: (!system_parts.is_empty()).then(|| system_parts.join("\n\n")),
    })
}

/// `Tool:<name>`, or `Tool` without a name.
fn tool_sender(name: Option<&str>) -> String {
    match name.map(js_trim).filter(|n| !n.is_empty()) {
        Some(name) => format!("Tool:{name}"),
        None => "Tool".to_owned(),
    }
}

/// The message from the turns with text: the current turn is the last user or tool turn
/// (else the last turn), bare when it is the only one, else in the history envelope; `None`
/// without any turn.
fn assemble(mut entries: Vec<Entry>) -> Option<String> {
    let current = entries
        .iter()
        .rposition(|e| e.answerable)
        .or_else(|| entries.len().checked_sub(1))?;
    Some(if current == 0 {
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
    })
}

/// Joins the non-empty blocks by a blank line; `None` when there are none.
fn join_blocks<const N: usize>(blocks: [Option<String>; N]) -> Option<String> {
    let parts: Vec<String> = blocks
        .into_iter()
        .flatten()
        .filter(|b| !b.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

/// The media of the current turn, as it is collected.
#[derive(Default)]
struct Media {
    attachments: Vec<Attachment>,
    remote_images: Vec<RemoteImage>,
    file_blocks: Vec<String>,
}

impl Media {
    fn add_image(&mut self, image: ImageRef) {
        match image {
            ImageRef::Inline(a) => self.attachments.push(a),
            ImageRef::Remote(r) => self.remote_images.push(r),
        }
    }

    fn add_file(&mut self, file: &file::FileText, marker_id: &mut dyn FnMut() -> String) {
        self.file_blocks.push(file.render(&marker_id()));
    }

    /// The text standing in for a turn with media and no text.
    fn placeholder(&self) -> Option<&'static str> {
        if !self.attachments.is_empty() || !self.remote_images.is_empty() {
            Some(IMAGE_ONLY_USER_MESSAGE)
        } else if !self.file_blocks.is_empty() {
            Some(FILE_ONLY_USER_MESSAGE)
        } else {
            None
        }
    }

    /// The files' blocks, joined by a blank line (`fileContexts.join("\n\n")`).
    fn file_context(&self) -> Option<String> {
        (!self.file_blocks.is_empty()).then(|| self.file_blocks.join("\n\n"))
    }
}

/// Builds the run input of a Responses request with the rules of openclaw's built-in
/// `/v1/responses` (`openresponses-prompt.ts` `buildAgentPrompt`, which shares the history
/// envelope with chat):
///
/// - A string `input` is the message as is.
/// - Items: a message's text is its `input_text`/`output_text` parts joined by `"\n"`,
///   trimmed; `system`/`developer` texts go to the extra system prompt, `user` turns are
///   `User`, `assistant` turns `Assistant`; a `function_call` is an `Assistant` turn
///   `tool_call id=<call_id> name=<name> arguments=<arguments>`; a `function_call_output` is
///   a `Tool:<call_id>` turn; other item types are skipped. The current turn and the
///   envelope are chat's.
/// - The extra system prompt is `instructions`, the system texts and the current turn's
///   files, joined by a blank line; the current user turn's images are attachments, and a
///   turn with media and no text reads [`IMAGE_ONLY_USER_MESSAGE`] or
///   [`FILE_ONLY_USER_MESSAGE`].
pub fn build_responses_input(req: &ResponsesRequest) -> Result<RunInput, InputError> {
    build_responses_input_with(req, &mut new_marker_id)
}

fn build_responses_input_with(
    req: &ResponsesRequest,
    marker_id: &mut dyn FnMut() -> String,
) -> Result<RunInput, InputError> {
    let instructions = req.instructions.clone().filter(|i| !i.is_empty());
    let items = match &req.input {
        ResponsesInput::Text(text) => {
            if text.is_empty() {
                return Err(PromptError::NoUserInput.into());
            }
            return Ok(RunInput {
                prompt: AgentPrompt {
                    message: text.clone(),
                    extra_system_prompt: instructions,
                },
                attachments: Vec::new(),
                remote_images: Vec::new(),
            });
        }
        ResponsesInput::Items(items) => items,
    };
    let active = active_responses_turn(items);
    let mut media = Media::default();
    if let Some(i) = active {
        if let InputItem::Message {
            content: ItemContent::Parts(parts),
            ..
        } = &items[i]
        {
            for (j, part) in parts.iter().enumerate() {
                let base = format!("input[{i}].content[{j}]");
                match part {
                    ItemPart::Image(obj) => {
                        media.add_image(image::from_responses_part(obj, &base)?)
                    }
                    ItemPart::File(obj) => {
                        media.add_file(&file::from_responses_part(obj, &base)?, marker_id)
                    }
                    ItemPart::Text(_) | ItemPart::Other => {}
                }
            }
        }
    }
    let mut system_parts: Vec<String> = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let (answerable, sender, mut body) = match item {
            InputItem::Message { role, content } => {
                let body = item_text(content);
                match role {
                    ItemRole::System | ItemRole::Developer => {
                        if !body.is_empty() {
                            system_parts.push(body);
                        }
                        continue;
                    }
                    ItemRole::User => (true, "User".to_owned(), body),
                    ItemRole::Assistant => (false, "Assistant".to_owned(), body),
                }
            }
            InputItem::FunctionCall {
                call_id,
                name,
                arguments,
            } => (
                false,
                "Assistant".to_owned(),
                format!("tool_call id={call_id} name={name} arguments={arguments}"),
            ),
            InputItem::FunctionCallOutput { call_id, output } => {
                (true, tool_sender(Some(call_id)), js_trim(output).to_owned())
            }
            InputItem::Ignored { .. } => continue,
        };
        if body.is_empty() && active == Some(i) {
            body = media.placeholder().unwrap_or("").to_owned();
        }
        if body.is_empty() {
            continue;
        }
        entries.push(Entry {
            answerable,
            sender,
            body,
        });
    }
    let message = assemble(entries).ok_or(PromptError::NoUserInput)?;
    let system = (!system_parts.is_empty()).then(|| system_parts.join("\n\n"));
    Ok(RunInput {
        prompt: AgentPrompt {
            message,
            extra_system_prompt: join_blocks([instructions, system, media.file_context()]),
        },
        attachments: media.attachments,
        remote_images: media.remote_images,
    })
}

/// The Responses item whose media the run gets (see [`active_chat_turn`]).
fn active_responses_turn(items: &[InputItem]) -> Option<usize> {
    for (i, item) in items.iter().enumerate().rev() {
        match item {
            InputItem::Message {
                role: ItemRole::User,
                ..
            } => return Some(i),
            InputItem::FunctionCallOutput { .. } => return None,
            _ => {}
        }
    }
    None
}

/// A Responses message's text: the string, or its text parts joined by `"\n"`; trimmed.
pub(crate) fn item_text(content: &ItemContent) -> String {
    match content {
        ItemContent::Text(text) => js_trim(text).to_owned(),
        ItemContent::Parts(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter_map(|p| match p {
                    ItemPart::Text(t) if !t.is_empty() => Some(t.as_str()),
                    _ => None,
                })
                .collect();
            js_trim(&texts.join("\n")).to_owned()
        }
    }
}

fn push_entry(out: &mut String, entry: &Entry) {
    out.push_str(&entry.sender);
    out.push_str(": ");
    out.push_str(&entry.body);
}

/// A message's text: the string, or the non-empty part texts joined by `"\n"`; trimmed.
pub(crate) fn text_of(content: &MessageContent) -> String {
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
pub(crate) fn js_trim(s: &str) -> &str {
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

    // ---- images and files (build_chat_input) ----

    use crate::media::image::tests::{png_data_url, PNG_1X1};
    use crate::openai::responses;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    fn fixed_marker() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("m{n}")
        }
    }

    fn chat_input(v: Value) -> Result<RunInput, InputError> {
        build_chat_input_with(&msgs(v), &mut fixed_marker())
    }

    fn text_file(name: &str, text: &str) -> Value {
        json!({"type":"file","file":{"filename": name,
               "file_data": format!("data:text/plain;base64,{}", STANDARD.encode(text))}})
    }

    #[test]
    fn chat_image_of_the_current_turn_is_an_attachment() {
        let input = chat_input(json!([
            {"role":"user","content":[{"type":"image_url","image_url":{"url": png_data_url()}}]},
            {"role":"assistant","content":"a cat"},
            {"role":"user","content":[
                {"type":"text","text":"and this one?"},
                {"type":"image_url","image_url":{"url": png_data_url(), "detail":"high"}},
                {"type":"image_url","image_url":"https://example.com/dog.png"}
            ]}
        ]))
        .unwrap();
        // Only the current turn's images; the first turn's image is history.
        assert_eq!(input.attachments.len(), 1);
        assert_eq!(input.attachments[0].mime_type, "image/png");
        assert_eq!(
            input.attachments[0].content_base64,
            STANDARD.encode(PNG_1X1)
        );
        assert_eq!(
            input.attachments[0].param,
            "messages[2].content[1].image_url.url"
        );
        assert_eq!(input.remote_images.len(), 1);
        assert_eq!(
            input.remote_images[0].param,
            "messages[2].content[2].image_url"
        );
        assert!(
            input.prompt.message.ends_with("User: and this one?"),
            "{}",
            input.prompt.message
        );
    }

    #[test]
    fn chat_image_only_turn_reads_the_placeholder() {
        let input = chat_input(json!([
            {"role":"user","content":[{"type":"image_url","image_url":{"url": png_data_url()}}]}
        ]))
        .unwrap();
        assert_eq!(input.prompt.message, IMAGE_ONLY_USER_MESSAGE);
        assert_eq!(input.attachments.len(), 1);
        // The text-only builder still refuses it.
        assert_eq!(
            build(&msgs(
                json!([{"role":"user","content":[{"type":"image_url","image_url":{"url": png_data_url()}}]}])
            )),
            Err(PromptError::NoUserMessage)
        );
    }

    #[test]
    fn chat_files_join_the_extra_system_prompt() {
        let input = chat_input(json!([
            {"role":"system","content":"Be brief."},
            {"role":"user","content":[text_file("a.txt","alpha"), text_file("b.txt","beta")]}
        ]))
        .unwrap();
        assert_eq!(input.prompt.message, FILE_ONLY_USER_MESSAGE);
        assert_eq!(
            input.prompt.extra_system_prompt.as_deref(),
            Some(
                "Be brief.\n\n\
                 <file name=\"a.txt\">\n\n<<<EXTERNAL_UNTRUSTED_CONTENT id=\"m1\">>>\nSource: External\n---\nalpha\n<<<END_EXTERNAL_UNTRUSTED_CONTENT id=\"m1\">>>\n</file>\n\n\
                 <file name=\"b.txt\">\n\n<<<EXTERNAL_UNTRUSTED_CONTENT id=\"m2\">>>\nSource: External\n---\nbeta\n<<<END_EXTERNAL_UNTRUSTED_CONTENT id=\"m2\">>>\n</file>"
            )
        );
        assert!(input.attachments.is_empty());
    }

    #[test]
    fn chat_media_errors_name_the_part() {
        let err = chat_input(json!([
            {"role":"user","content":[{"type":"text","text":"hi"},
             {"type":"image_url","image_url":{"url":"data:image/png;base64,bm90IGFuIGltYWdl"}}]}
        ]))
        .unwrap_err();
        assert_eq!(err.param(), Some("messages[0].content[1].image_url.url"));
        let err = chat_input(json!([
            {"role":"user","content":[{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERg==","filename":"a.pdf"}}]}
        ]))
        .unwrap_err();
        assert_eq!(err.param(), Some("messages[0].content[0].file.file_data"));
        assert_eq!(PromptError::NoUserMessage.param(), "messages");
    }

    #[test]
    fn media_of_earlier_turns_and_before_tool_results_is_not_used() {
        // A broken image in history is not even decoded.
        let input = chat_input(json!([
            {"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,@@"}}]},
            {"role":"assistant","content":"?"},
            {"role":"user","content":"plain"}
        ]))
        .unwrap();
        assert!(input.attachments.is_empty());
        // A tool result after the user turn starts its own turn.
        let input = chat_input(json!([
            {"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url": png_data_url()}}]},
            {"role":"tool","content":"done","tool_call_id":"c"}
        ]))
        .unwrap();
        assert!(input.attachments.is_empty());
        assert!(input.prompt.message.ends_with("Tool: done"));
    }

    #[test]
    fn chat_input_without_media_equals_build() {
        let v = json!([
            {"role":"system","content":"sys"},
            {"role":"user","content":"q1"},
            {"role":"assistant","content":"a1"},
            {"role":"user","content":"q2"}
        ]);
        let input = chat_input(v.clone()).unwrap();
        assert_eq!(input.prompt, build_json(v).unwrap());
        assert!(input.attachments.is_empty() && input.remote_images.is_empty());
    }

    // ---- Responses input (build_responses_input) ----

    fn responses_input(v: Value) -> Result<RunInput, InputError> {
        let req = responses::parse(v.to_string().as_bytes()).unwrap();
        build_responses_input_with(&req, &mut fixed_marker())
    }

    #[test]
    fn responses_string_input_is_the_message_as_is() {
        let input = responses_input(json!({"input":"  hi  ","instructions":"Be brief."})).unwrap();
        assert_eq!(input.prompt.message, "  hi  ");
        assert_eq!(
            input.prompt.extra_system_prompt.as_deref(),
            Some("Be brief.")
        );
        let err = responses_input(json!({"input":""})).unwrap_err();
        assert_eq!(err, InputError::Prompt(PromptError::NoUserInput));
        assert_eq!(err.param(), Some("input"));
        assert_eq!(err.to_string(), "Missing user message in `input`.");
    }

    #[test]
    fn responses_items_use_the_chat_envelope_and_system_folding() {
        let input = responses_input(json!({
            "instructions": "You are Codex.",
            "input": [
                {"type":"message","role":"developer","content":[{"type":"input_text","text":" <permissions> "}]},
                {"role":"system","content":"Use French."},
                {"role":"user","content":[{"type":"input_text","text":"What is 2+2?"}]},
                {"type":"message","role":"assistant","content":[{"type":"output_text","text":"4"}]},
                {"type":"reasoning","summary":[]},
                {"role":"user","content":"And times 3?"}
            ]
        }))
        .unwrap();
        assert_eq!(
            input.prompt.message,
            "[Chat messages since your last reply - for context]\n\
             User: What is 2+2?\n\
             Assistant: 4\n\
             \n\
             [Current message - respond to this]\n\
             User: And times 3?"
        );
        assert_eq!(
            input.prompt.extra_system_prompt.as_deref(),
            Some("You are Codex.\n\n<permissions>\n\nUse French.")
        );
    }

    #[test]
    fn responses_tool_transcript_is_text() {
        let input = responses_input(json!({"input":[
            {"role":"user","content":"list files"},
            {"type":"function_call","call_id":"c1","name":"shell","arguments":"{\"cmd\":\"ls\"}"},
            {"type":"function_call_output","call_id":"c1","output":"a.txt"}
        ]}))
        .unwrap();
        assert_eq!(
            input.prompt.message,
            "[Chat messages since your last reply - for context]\n\
             User: list files\n\
             Assistant: tool_call id=c1 name=shell arguments={\"cmd\":\"ls\"}\n\
             \n\
             [Current message - respond to this]\n\
             Tool:c1: a.txt"
        );
    }

    #[test]
    fn responses_media_of_the_current_user_item() {
        let input = responses_input(json!({"instructions":"I","input":[
            {"role":"system","content":"S"},
            {"role":"user","content":[
                {"type":"input_image","image_url": png_data_url()},
                {"type":"input_file","filename":"n.md","file_data": format!("data:text/markdown;base64,{}", STANDARD.encode("# N"))}
            ]}
        ]}))
        .unwrap();
        assert_eq!(input.prompt.message, IMAGE_ONLY_USER_MESSAGE);
        assert_eq!(input.attachments.len(), 1);
        assert_eq!(input.attachments[0].param, "input[1].content[0].image_url");
        assert_eq!(
            input.prompt.extra_system_prompt.as_deref(),
            Some("I\n\nS\n\n<file name=\"n.md\">\n\n<<<EXTERNAL_UNTRUSTED_CONTENT id=\"m1\">>>\nSource: External\n---\n# N\n<<<END_EXTERNAL_UNTRUSTED_CONTENT id=\"m1\">>>\n</file>")
        );
        let err = responses_input(json!({"input":[{"role":"user","content":[
            {"type":"input_text","text":"see"},{"type":"input_file","file_id":"file-1"}]}]}))
        .unwrap_err();
        assert_eq!(err.param(), Some("input[0].content[1].file_id"));
    }

    #[test]
    fn responses_without_user_text_is_an_error() {
        for input in [
            json!([{"role":"developer","content":"only instructions"}]),
            json!([{"type":"reasoning"}]),
            json!([]),
        ] {
            assert_eq!(
                responses_input(json!({"input": input, "instructions":"x"})).unwrap_err(),
                InputError::Prompt(PromptError::NoUserInput),
                "{input}"
            );
        }
    }
}
