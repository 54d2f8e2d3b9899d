//! Tool calls in OpenAI's chat-completions shapes: whole in a `chat.completion` message, and
//! in pieces in stream chunks (the id, type and name first, then the arguments), as OpenAI
//! and openclaw's endpoint send them (`mock-gateway/fixtures/v4/http/chat_tool_stream.raw.txt`).

use serde::{Deserialize, Serialize};

use crate::gateway::ToolCall;

/// `{"id","type":"function","function":{"name","arguments"}}` in a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageToolCall {
    /// The call id.
    pub id: String,
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Name and arguments.
    pub function: FunctionCall,
}

/// A call's function and its arguments (a JSON text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// The tool's name.
    pub name: String,
    /// The arguments, a JSON text.
    pub arguments: String,
}

impl From<&ToolCall> for MessageToolCall {
    fn from(call: &ToolCall) -> Self {
        MessageToolCall {
            id: call.id.clone(),
            kind: "function".into(),
            function: FunctionCall {
                name: call.name.clone(),
                arguments: call.arguments.clone(),
            },
        }
    }
}

/// One piece of a call in a stream chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkToolCall {
    /// The call's position among the message's calls.
    pub index: u32,
    /// The call id (first piece only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `function` (first piece only).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The name (first piece only) and a piece of the arguments.
    pub function: ChunkFunction,
}

/// The function part of a [`ChunkToolCall`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkFunction {
    /// The tool's name (first piece only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A piece of the arguments (empty in the first piece).
    pub arguments: String,
}

impl ChunkToolCall {
    /// The two pieces openclaw's endpoint sends for one call: id, type and name with empty
    /// arguments, then the arguments.
    pub fn pieces(index: u32, call: &ToolCall) -> [ChunkToolCall; 2] {
        [
            ChunkToolCall {
                index,
                id: Some(call.id.clone()),
                kind: Some("function".into()),
                function: ChunkFunction {
                    name: Some(call.name.clone()),
                    arguments: String::new(),
                },
            },
            ChunkToolCall {
                index,
                id: None,
                kind: None,
                function: ChunkFunction {
                    name: None,
                    arguments: call.arguments.clone(),
                },
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_shapes_of_the_recorded_stream_and_message() {
        let call = ToolCall {
            id: "af96568ce".into(),
            name: "get_weather".into(),
            arguments: "{\"city\":\"Paris\"}".into(),
        };
        let [first, second] = ChunkToolCall::pieces(0, &call);
        assert_eq!(
            serde_json::to_value(first).unwrap(),
            json!({"index": 0, "id": "af96568ce", "type": "function", "function": {"name": "get_weather", "arguments": ""}})
        );
        assert_eq!(
            serde_json::to_value(second).unwrap(),
            json!({"index": 0, "function": {"arguments": "{\"city\":\"Paris\"}"}})
        );
        assert_eq!(
            serde_json::to_value(MessageToolCall::from(&call)).unwrap(),
            json!({"id": "af96568ce", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}})
        );
    }
}
