//! The one place where server errors become what the UI shows, and where
//! a failed server function gets its HTTP status. Each error's class
//! (`domain::ErrorClass`, said once by the error itself) decides both, as
//! it decides the API's. Messages name the problem, never internals such
//! as backtraces or paths.

use app::types::AppError;
use axum::{
    body::{to_bytes, Body},
    extract::Request,
    http::StatusCode,
    middleware::Next,
    response::Response,
};

use crate::{attachments::AttachmentError, chat::ChatError, store::StoreError};
use engine::EngineError;

/// The UI's error for an engine error (a function: both types are other
/// crates', so no `From` can join them here).
pub fn engine_error(e: EngineError) -> AppError {
    match e {
        EngineError::QueueFull => AppError::Busy,
        EngineError::NoModel(reason) => AppError::NoModel(reason),
        EngineError::WorkerGone => {
            AppError::Generation("the engine has stopped; restart the server".into())
        }
        other => AppError::classified(other.class(), other.to_string()),
    }
}

impl From<ChatError> for AppError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::Engine(e) => engine_error(e),
            ChatError::Store(e) => e.into(),
            other => AppError::classified(other.class(), other.to_string()),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            // The page offers Reload, or waits, for these two.
            StoreError::Stale => AppError::StaleChat,
            StoreError::Busy => AppError::ChatBusy,
            StoreError::Io { .. } => AppError::Storage(e.to_string()),
            other => AppError::classified(other.class(), other.to_string()),
        }
    }
}

impl From<AttachmentError> for AppError {
    fn from(e: AttachmentError) -> Self {
        match e {
            AttachmentError::TooLarge(message) => AppError::TooLarge(message),
            other => AppError::classified(other.class(), other.to_string()),
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
