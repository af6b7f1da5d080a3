//! What the browser asks the server to generate: the Chat tab's actions on
//! a saved chat and the Notebook's raw continuations. Above the messages,
//! chat logs, settings and parameters it is made of.

use serde::{Deserialize, Serialize};

use super::{ChatAction, ChatKey, ChatSettings, GenerationParams};

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
