use domain::{Character, ChatMessage, Mode, UserProfile, ValidParams};

use crate::prompt::Continuation;
use engine::Grammar;

/// A request for the next message of a conversation, from the UI or the API.
#[derive(Clone, Debug)]
pub struct ChatRequest {
    /// The conversation, oldest first (a chat's greeting included).
    pub history: Vec<ChatMessage>,
    pub mode: Mode,
    pub character: Character,
    pub user: UserProfile,
    /// Instruct mode's system message; `None` keeps the template's default.
    pub system_message: Option<String>,
    pub chat_instruct_command: String,
    /// Jinja source of the instruction template; `None` means the model's own.
    pub instruction_template: Option<String>,
    pub continuation: Continuation,
    pub params: ValidParams,
    /// Passed to templates that read it (Qwen3's `enable_thinking`);
    /// `None` leaves the template's default.
    pub enable_thinking: Option<bool>,
    /// Functions the model may call (OpenAI `tools`, instruct mode).
    pub tools: Vec<serde_json::Value>,
    /// A grammar the reply must follow (structured output, forced calls).
    pub grammar: Option<Grammar>,
    /// Report log-probabilities with this many alternatives per token.
    pub logprobs: Option<usize>,
    /// The API's output fields (`tools`, `tool_choice`, `response_format`,
    /// `grammar_string`, …) as the client sent them, for a remote backend
    /// to pass on; the local engine uses `tools` and `grammar` instead.
    pub pass_through: serde_json::Map<String, serde_json::Value>,
}
