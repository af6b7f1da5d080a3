use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// Errors the UI shows. The server maps its own errors into these exactly
/// once (in the server crate); messages never carry internal details.
#[derive(Clone, Debug, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum AppError {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("the model is busy with other requests; try again in a moment")]
    Busy,
    #[error("no model is loaded: {0}")]
    NoModel(String),
    #[error("generation failed: {0}")]
    Generation(String),
    #[error("this chat was changed elsewhere (another tab?); reload it to see the latest version. Nothing was overwritten.")]
    StaleChat,
    #[error("a reply is being generated in this chat; wait for it or stop it first")]
    ChatBusy,
    #[error("{0} not found")]
    NotFound(String),
    #[error("saving or loading failed: {0}")]
    Storage(String),
    #[error("the server is not set up correctly: {0}")]
    Misconfigured(String),
    /// The request never reached our code, or its answer never came back.
    #[error("could not reach the server: {0}")]
    Transport(String),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}
