use serde::{Deserialize, Serialize};

use super::{ChatAction, ChatKey, ChatSettings, GenerationParams};

/// Who wrote a message, with the role names chat templates expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    /// The name chat templates use for this role.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
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
