//! The one place where engine and prompt errors become what the UI shows.
//! Messages name the problem, never internals such as file paths of the
//! server or backtraces.

use app::types::AppError;

use crate::{engine::EngineError, prompt::PromptError};

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

impl From<PromptError> for AppError {
    fn from(e: PromptError) -> Self {
        AppError::Generation(e.to_string())
    }
}
