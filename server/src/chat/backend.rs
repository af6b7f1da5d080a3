//! Where replies come from, as chat, the UI's services, `/health` and the
//! API see it: the in-process engine ([`super::ChatEngine`]) or a remote
//! OpenAI-compatible server (`crate::remote::RemoteBackend`). Everything
//! above this trait is the same in both modes; what a backend cannot do
//! (exact token counts remotely) it says with [`EngineError::Unsupported`].
//! Both register their replies in the server's [`Replies`](crate::replies::Replies),
//! so Stop and the metrics do not care which one made a reply.

use std::{future::Future, pin::Pin, sync::Arc};

use domain::ValidParams;

use super::{ChatError, ChatRequest, Prepared};
use crate::{prompt::BuiltPrompt, replies::ReplyStream, tool_calls::ToolFormat};
use engine::{EngineError, Grammar, TextTokenizer};

/// The model replies come from, as the Model tab and the API name it.
#[derive(Clone, Debug, PartialEq)]
pub struct ServedModel {
    pub name: String,
    pub architecture: String,
    /// 0 when unknown (a remote server does not say).
    pub context_length: usize,
    /// `cpu`, `cuda:0`, or the remote server's URL.
    pub device: String,
    /// Where replies are made: in this process, or by a remote server.
    pub loader: Loader,
}

/// Who runs the model, as `/v1/internal/model/info` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loader {
    Local,
    Remote,
}

impl Loader {
    pub fn as_str(self) -> &'static str {
        match self {
            Loader::Local => "candlelight",
            Loader::Remote => "remote",
        }
    }
}

/// What a raw completion may ask for beyond its sampling.
#[derive(Clone, Debug, Default)]
pub struct CompletionOptions {
    /// Each token's log-probability and this many alternatives.
    pub logprobs: Option<usize>,
    /// A grammar the text must follow (`response_format`, `grammar_string`).
    pub grammar: Option<Grammar>,
    /// The same fields as the client sent them, for a remote backend (see
    /// [`ChatRequest::pass_through`]).
    pub pass_through: serde_json::Map<String, serde_json::Value>,
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait Backend: Send + Sync {
    /// Starts `owner`'s reply to a chat request; dropping the stream
    /// cancels it.
    fn start(
        &self,
        owner: &str,
        request_id: &str,
        request: &ChatRequest,
    ) -> Result<(ReplyStream, BuiltPrompt), ChatError>;

    /// Starts a raw completion (no template); returns the stream and the
    /// prompt's length in tokens (0 where the backend cannot count).
    fn start_completion(
        &self,
        owner: &str,
        request_id: &str,
        prompt: &str,
        params: ValidParams,
        options: CompletionOptions,
    ) -> Result<(ReplyStream, usize), ChatError>;

    /// The prompt a request would send, without sending it.
    fn prepare(&self, request: &ChatRequest) -> Result<Prepared, ChatError>;

    /// How the model writes tool calls.
    fn tool_format(&self, request: &ChatRequest) -> Result<ToolFormat, ChatError>;

    /// The model now answering, without asking anyone.
    fn served(&self) -> Result<ServedModel, EngineError>;

    /// The models a client may name: asks the remote server, so `/health`
    /// and `/v1/models` show what it serves now.
    fn models(&self) -> BoxFuture<'_, Result<Vec<String>, EngineError>>;

    /// The tokenizer, where exact token counts are possible.
    fn tokenizer(&self) -> Result<Arc<TextTokenizer>, EngineError>;

    /// The model's own chat template, when known.
    fn model_template(&self) -> Option<String>;
}
