//! What the server and a template worker say to each other: one JSON
//! object per line each way.

use domain::ChatMessage;
use serde::{Deserialize, Serialize};

/// A render as the server asks for it (borrowing its inputs).
#[derive(Serialize)]
pub(super) struct RenderRequest<'a> {
    pub source: &'a str,
    pub bos: &'a str,
    pub eos: &'a str,
    pub messages: &'a [ChatMessage],
    pub add_generation_prompt: bool,
    pub enable_thinking: Option<bool>,
    pub tools: Option<&'a [serde_json::Value]>,
}

/// The same render as the worker reads it.
#[derive(Deserialize)]
pub(super) struct OwnedRenderRequest {
    pub source: String,
    pub bos: String,
    pub eos: String,
    pub messages: Vec<ChatMessage>,
    pub add_generation_prompt: bool,
    pub enable_thinking: Option<bool>,
    pub tools: Option<Vec<serde_json::Value>>,
}

/// How a render went, in the terms of [`PromptError`](crate::prompt::PromptError).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum RenderReply {
    Text(String),
    Syntax(String),
    Render(String),
    TooExpensive(String),
}
