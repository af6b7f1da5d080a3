//! The one place where server errors become what the UI shows. Messages
//! name the problem, never internals such as backtraces.

use app::types::AppError;

use crate::{chat::ChatError, engine::EngineError, prompt::PromptError, store::StoreError};

impl From<EngineError> for AppError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::QueueFull => AppError::Busy,
            EngineError::NoModel(reason) => AppError::NoModel(reason),
            EngineError::PromptTooLong { .. } => AppError::InvalidParameter(e.to_string()),
            EngineError::WorkerGone => {
                AppError::Generation("the engine has stopped; restart the server".into())
            }
            other => AppError::Generation(other.to_string()),
        }
    }
}

impl From<ChatError> for AppError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::InvalidParameter(m) => AppError::InvalidParameter(m),
            ChatError::Engine(e) => e.into(),
            ChatError::Prompt(e @ PromptError::ContextTooLong { .. }) => {
                AppError::InvalidParameter(e.to_string())
            }
            ChatError::Prompt(e) => AppError::Generation(e.to_string()),
            ChatError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Stale => AppError::StaleChat,
            StoreError::Busy => AppError::ChatBusy,
            StoreError::NotFound { .. } => AppError::NotFound(e.to_string()),
            StoreError::InvalidName(_) | StoreError::Invalid(_) => {
                AppError::InvalidParameter(e.to_string())
            }
            other => AppError::Storage(other.to_string()),
        }
    }
}
