use thiserror::Error;

use crate::{engine::EngineError, prompt::PromptError, store::StoreError};

/// Errors of turning a chat request into a running generation. The UI
/// (`errors.rs`) and the API (`openai/error.rs`) each map this once.
#[derive(Debug, Error)]
pub enum ChatError {
    #[error("{0}")]
    InvalidParameter(String),
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
