use thiserror::Error;

use crate::{engine::EngineError, prompt::PromptError, store::StoreError};

/// Errors of turning a chat request into a running generation. The UI
/// (`errors.rs`) and the API (`openai/error.rs`) each map this once.
#[derive(Debug, Error)]
pub enum ChatError {
    /// A request field (named as the API names it) that cannot work.
    #[error("{message}")]
    InvalidParameter {
        message: String,
        param: &'static str,
    },
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
