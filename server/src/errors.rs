//! The one place where server errors become what the UI shows, and where
//! a failed server function gets its HTTP status. Messages name the
//! problem, never internals such as backtraces or paths.

use app::types::AppError;
use axum::{
    body::{to_bytes, Body},
    extract::Request,
    http::StatusCode,
    middleware::Next,
    response::Response,
};

use crate::{chat::ChatError, engine::EngineError, prompt::PromptError, store::StoreError};

impl From<EngineError> for AppError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::QueueFull => AppError::Busy,
            EngineError::NoModel(reason) => AppError::NoModel(reason),
            EngineError::PromptTooLong { .. }
            | EngineError::TextTooLong { .. }
            | EngineError::Grammar(_)
            | EngineError::Unsupported(_) => AppError::InvalidParameter(e.to_string()),
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
            ChatError::InvalidParameter { message, .. } => AppError::InvalidParameter(message),
            ChatError::Engine(e) => e.into(),
            ChatError::Prompt(
                e @ (PromptError::ContextTooLong { .. }
                | PromptError::Tokenize(_)
                | PromptError::TemplateSyntax(_)
                | PromptError::TemplateTooExpensive(_)),
            ) => AppError::InvalidParameter(e.to_string()),
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
            StoreError::InvalidName { .. } | StoreError::Invalid(_) => {
                AppError::InvalidParameter(e.to_string())
            }
            StoreError::Malformed { .. } => AppError::Damaged(e.to_string()),
            other => AppError::Storage(other.to_string()),
        }
    }
}

/// Error bodies are small; anything bigger is not one of ours.
const MAX_ERROR_BODY: usize = 64 << 10;

/// server_fn answers every failure with 500 and the error as JSON. This
/// reads that error back and sets the status it stands for
/// ([`AppError::http_status`]: 400 for bad arguments, 404, 409 for a stale
/// chat, 429 when busy...), so logs, proxies and scripts see what happened.
pub async fn server_fn_status(request: Request, next: Next) -> Response {
    let is_server_fn = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    if !is_server_fn || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_ERROR_BODY).await else {
        parts.status = StatusCode::INTERNAL_SERVER_ERROR;
        return Response::from_parts(parts, Body::from("server function failed"));
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status =
            StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if parts.status.is_server_error() {
            tracing::warn!(%error, "server function failed");
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}
