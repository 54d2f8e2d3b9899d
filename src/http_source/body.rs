//! The request clawshim sends to the gateway's `/v1/chat/completions` for one run.
//!
//! The run's input is built by clawshim exactly as for the WebSocket `agent` method
//! (`crate::prompt`: the history envelope, system texts, files, current-turn images), and
//! sent as one system message and one user message. openclaw's endpoint passes a lone user
//! message through unchanged as the run's message and joins system messages into its extra
//! system prompt (`buildAgentPrompt` in `dist/openai-http-*.mjs`), so both sources give the
//! agent the same input; only the client tools are new. The current turn's images become
//! `image_url` parts with `data:` URLs (the endpoint decodes base64 data URLs; it refuses
//! remote ones by default, and clawshim fetched or refused those already).
//!
//! Always streamed with usage, whatever the client asked: the outputs need the text as it
//! comes and the token counts at the end, as from the WebSocket.
//!
//! Headers: the gateway credential as `Authorization: Bearer`, the agent as
//! `x-openclaw-agent-id` (and `model: openclaw/<agent>`), the session (already inside the
//! caller's namespace) as `x-openclaw-session-key`, a model override as `x-openclaw-model`.
//! Nothing of the client's request goes along but what is listed here: no client headers,
//! no `user` (the session key already carries it), no forwarding headers (openclaw answers
//! those 403 unless clawshim is one of its `gateway.trustedProxies`).

use serde_json::{json, Map, Value};

use crate::client_tools::ClientTools;
use crate::gateway::RunRequest;

/// Header naming the agent.
pub const AGENT_HEADER: &str = "x-openclaw-agent-id";
/// Header naming the session.
pub const SESSION_HEADER: &str = "x-openclaw-session-key";
/// Header overriding the agent's model.
pub const MODEL_HEADER: &str = "x-openclaw-model";

/// The JSON body for `req` with `tools`.
pub fn chat_body(req: &RunRequest, tools: &ClientTools) -> Value {
    let mut messages = Vec::with_capacity(2);
    if let Some(system) = req.extra_system_prompt.as_deref().filter(|s| !s.is_empty()) {
        messages.push(json!({"role": "system", "content": system}));
    }
    let content = if req.attachments.is_empty() {
        json!(req.message)
    } else {
        let mut parts = Vec::with_capacity(1 + req.attachments.len());
        if !req.message.is_empty() {
            parts.push(json!({"type": "text", "text": req.message}));
        }
        for a in &req.attachments {
            let url = format!("data:{};base64,{}", a.mime_type, a.content_base64);
            parts.push(json!({"type": "image_url", "image_url": {"url": url}}));
        }
        Value::Array(parts)
    };
    messages.push(json!({"role": "user", "content": content}));
    let mut body = Map::new();
    body.insert("model".into(), json!(format!("openclaw/{}", req.agent_id)));
    body.insert("stream".into(), json!(true));
    body.insert("stream_options".into(), json!({"include_usage": true}));
    body.insert("messages".into(), Value::Array(messages));
    body.insert("tools".into(), tools.tools_json());
    if let Some(choice) = tools.choice_json() {
        body.insert("tool_choice".into(), choice);
    }
    Value::Object(body)
}

/// The routing headers for `req` (the credential is added by the sender).
pub fn routing_headers(req: &RunRequest) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        (AGENT_HEADER, req.agent_id.clone()),
        (SESSION_HEADER, req.session_key.as_str().to_owned()),
    ];
    if let Some(m) = &req.model {
        let value = match &m.provider {
            Some(p) => format!("{p}/{}", m.model),
            None => m.model.clone(),
        };
        headers.push((MODEL_HEADER, value));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client_tools::{ToolChoice, ToolList};
    use crate::media::{Attachment, AttachmentKind};
    use crate::model_override::ModelOverride;
    use crate::routing::SessionKey;

    fn request() -> RunRequest {
        RunRequest {
            extra_system_prompt: Some("be brief".into()),
            ..RunRequest::new(
                "main",
                SessionKey::named("agent:main:team:s1"),
                "[Chat messages since your last reply - for context]\nUser: hi\n\n[Current message - respond to this]\nTool:c1: 21C",
            )
        }
    }

    fn tools(choice: ToolChoice) -> ClientTools {
        let list = ToolList::from_chat(&json!([
            {"type": "function", "function": {"name": "ask_user", "parameters": {"type": "object"}}}
        ]))
        .unwrap();
        ClientTools::plan(list, choice).unwrap().unwrap()
    }

    #[test]
    fn the_run_input_goes_as_one_system_and_one_user_message_with_the_renamed_tools() {
        let body = chat_body(&request(), &tools(ToolChoice::Required));
        assert_eq!(
            body,
            json!({
                "model": "openclaw/main",
                "stream": true,
                "stream_options": {"include_usage": true},
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": request().message}
                ],
                "tools": [{"type": "function", "function": {"name": "client_ask_user", "parameters": {"type": "object"}}}],
                "tool_choice": "required"
            })
        );
        let auto = chat_body(&request(), &tools(ToolChoice::Auto));
        assert!(auto.get("tool_choice").is_none());
    }

    #[test]
    fn images_become_data_url_parts_after_the_text() {
        let mut req = request();
        req.extra_system_prompt = None;
        req.attachments = vec![Attachment {
            kind: AttachmentKind::Image,
            mime_type: "image/png".into(),
            file_name: None,
            content_base64: "iVBORw0KGgo=".into(),
            decoded_len: 8,
            param: "messages[0].content[1]".into(),
        }];
        let body = chat_body(&req, &tools(ToolChoice::Auto));
        assert_eq!(
            body["messages"],
            json!([{"role": "user", "content": [
                {"type": "text", "text": req.message},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
            ]}])
        );
    }

    #[test]
    fn headers_carry_agent_session_and_model_override_only() {
        let mut req = request();
        assert_eq!(
            routing_headers(&req),
            [
                (AGENT_HEADER, "main".to_owned()),
                (SESSION_HEADER, "agent:main:team:s1".to_owned())
            ]
        );
        req.model = Some(ModelOverride {
            provider: Some("mock".into()),
            model: "mock-echo".into(),
        });
        assert_eq!(
            routing_headers(&req)[2],
            (MODEL_HEADER, "mock/mock-echo".into())
        );
    }
}
