use thiserror::Error;

use crate::{prompt::PromptError, store::StoreError};
use engine::EngineError;

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

impl ChatError {
    /// What kind of failure this is, for every place that shows it.
    pub fn class(&self) -> domain::ErrorClass {
        match self {
            ChatError::InvalidParameter { .. } => domain::ErrorClass::BadInput,
            ChatError::Prompt(e) => e.class(),
            ChatError::Engine(e) => e.class(),
            ChatError::Store(e) => e.class(),
        }
    }
}
