use domain::ErrorClass;
use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// Errors the UI shows. The server maps its own errors into these exactly
/// once (in the server crate), and each of these to its HTTP status once
/// ([`AppError::http_status`]); messages never carry internal details.
#[derive(Clone, Debug, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum AppError {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("too many failed attempts from this address; try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
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
    /// The state changed under the request.
    #[error("{0}")]
    Conflict(String),
    /// A file in the user data folder that cannot be read as what it
    /// should be (the message names it).
    #[error("{0}")]
    Damaged(String),
    #[error("saving or loading failed: {0}")]
    Storage(String),
    #[error("the server is not set up correctly: {0}")]
    Misconfigured(String),
    /// The request never reached our code, or its answer never came back.
    #[error("could not reach the server: {0}")]
    Transport(String),
}

impl AppError {
    /// The UI's error for a failure of `class` saying `message`, for the
    /// errors that need no variant of their own.
    pub fn classified(class: ErrorClass, message: String) -> Self {
        match class {
            ErrorClass::BadInput => AppError::InvalidParameter(message),
            ErrorClass::Unauthorized => AppError::Unauthorized(message),
            ErrorClass::Forbidden => AppError::Forbidden(message),
            ErrorClass::NotFound => AppError::NotFound(message),
            ErrorClass::Conflict => AppError::Conflict(message),
            ErrorClass::TooLarge => AppError::TooLarge(message),
            ErrorClass::Unprocessable => AppError::Damaged(message),
            ErrorClass::Busy => AppError::Busy,
            ErrorClass::Unavailable => AppError::NoModel(message),
            ErrorClass::Internal => AppError::Generation(message),
        }
    }

    /// What kind of failure this is (the one rule for its HTTP status).
    pub fn class(&self) -> ErrorClass {
        match self {
            AppError::InvalidParameter(_) => ErrorClass::BadInput,
            AppError::Unauthorized(_) => ErrorClass::Unauthorized,
            AppError::Forbidden(_) => ErrorClass::Forbidden,
            AppError::NotFound(_) => ErrorClass::NotFound,
            AppError::StaleChat | AppError::ChatBusy | AppError::Conflict(_) => {
                ErrorClass::Conflict
            }
            AppError::TooLarge(_) => ErrorClass::TooLarge,
            AppError::Damaged(_) => ErrorClass::Unprocessable,
            AppError::TooManyAttempts { .. } | AppError::Busy => ErrorClass::Busy,
            AppError::NoModel(_) | AppError::Transport(_) => ErrorClass::Unavailable,
            AppError::Generation(_) | AppError::Storage(_) | AppError::Misconfigured(_) => {
                ErrorClass::Internal
            }
        }
    }

    /// The HTTP status a server function answers with when it fails with
    /// this error (the browser reads the error from the body either way).
    pub fn http_status(&self) -> u16 {
        self.class().http_status()
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // The arguments did not decode: a request this UI would not send.
            ServerFnErrorErr::Args(e) | ServerFnErrorErr::Deserialization(e) => {
                AppError::InvalidParameter(format!("the request could not be read: {e}"))
            }
            other => AppError::Transport(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undecodable_arguments_are_a_bad_request() {
        let e = AppError::from_server_fn_error(ServerFnErrorErr::Args("expected `,`".into()));
        assert_eq!(e.http_status(), 400);
        assert!(e.to_string().contains("could not be read"), "{e}");
        assert_eq!(AppError::StaleChat.http_status(), 409);
        assert_eq!(AppError::Busy.http_status(), 429);
    }
}
