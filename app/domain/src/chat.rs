use serde::{Deserialize, Serialize};

use super::{ChatAction, ChatKey, ChatSettings, GenerationParams};

/// Who wrote a message, with the role names chat templates expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    /// A tool's result, answering an assistant's call (API only).
    Tool,
}

impl Role {
    /// The name chat templates use for this role.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// One message of a conversation, as chat templates read it (Hugging
/// Face's message dicts): the tool fields appear only where set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    /// The calls an assistant message made (the API's `tool_calls`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Which call a tool message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
}

/// A function call in an assistant message, shaped as templates expect:
/// `{"id", "type": "function", "function": {"name", "arguments"}}` with
/// the arguments as a JSON object (what `| tojson` in a template prints).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub function: FunctionCall,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    pub arguments: serde_json::Value,
}

/// What the Notebook tab asks for: the model continues raw text (no chat
/// template), as `/v1/completions` does. Nothing is saved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompletionRequest {
    /// Chosen by the browser so that Stop can name the generation it ends.
    pub request_id: String,
    pub prompt: String,
    pub params: GenerationParams,
}

/// What the Chat tab asks the server for: an action on a saved chat. The
/// server reads the chat, applies the action, generates and saves, so a
/// closed tab or a crash loses no finished turn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplyRequest {
    /// Chosen by the browser so that Stop can name the generation it ends.
    pub request_id: String,
    pub key: ChatKey,
    /// The revision the browser's copy of the chat has; a stale copy is refused.
    pub base_revision: u64,
    pub action: ChatAction,
    pub settings: ChatSettings,
    pub params: GenerationParams,
}
