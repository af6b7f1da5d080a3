//! API errors in OpenAI's shape, `{"error": {"message", "type", "param",
//! "code"}}`, each with its HTTP status. Everything below the API maps into
//! this once, here.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;
use thiserror::Error;

use crate::{chat::ChatError, engine::EngineError, prompt::PromptError, store::StoreError};

#[derive(Debug, Error)]
pub enum ApiError {
    #[error("{message}")]
    InvalidRequest {
        message: String,
        param: Option<String>,
    },
    #[error("invalid or missing API key: send `Authorization: Bearer <key>`")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("too many failed attempts from this address; retry in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("unknown endpoint: {0}")]
    UnknownEndpoint(String),
    #[error("{0} is not allowed here")]
    MethodNotAllowed(String),
    #[error("the model `{0}` does not exist")]
    ModelNotFound(String),
    #[error("the server is busy; retry in a moment")]
    Busy,
    #[error("no model is loaded: {0}")]
    NoModel(String),
    /// The server cut the reply off (shutting down, or the model was
    /// switched or unloaded): not the way its client asked it to end.
    #[error("the server stopped this reply before it finished (it is shutting down, or its model was switched or unloaded)")]
    Interrupted,
    #[error("{0}")]
    Internal(String),
}

#[derive(Serialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize)]
pub struct ErrorDetail {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<&'static str>,
}

impl ApiError {
    pub fn invalid(message: impl Into<String>, param: Option<&str>) -> Self {
        ApiError::InvalidRequest {
            message: message.into(),
            param: param.map(str::to_string),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::ModelNotFound(_) | ApiError::UnknownEndpoint(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Busy | ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NoModel(_) | ApiError::Interrupted => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Seconds a client should wait before retrying (429 answers).
    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Busy => Some(BUSY_RETRY_SECS),
            ApiError::TooManyAttempts { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// The JSON body, also sent as the last event of a failed stream.
    pub fn body(&self) -> ErrorBody {
        let (kind, code) = match self {
            ApiError::InvalidRequest { .. } => ("invalid_request_error", None),
            ApiError::Unauthorized => ("authentication_error", Some("invalid_api_key")),
            ApiError::Forbidden(_) => ("permission_error", Some("cross_site_request")),
            ApiError::UnsupportedMediaType(_) => {
                ("invalid_request_error", Some("unsupported_media_type"))
            }
            ApiError::TooLarge(_) => ("invalid_request_error", Some("request_too_large")),
            ApiError::ModelNotFound(_) => ("invalid_request_error", Some("model_not_found")),
            ApiError::UnknownEndpoint(_) => ("invalid_request_error", Some("unknown_url")),
            ApiError::MethodNotAllowed(_) => ("invalid_request_error", Some("method_not_allowed")),
            ApiError::Busy => ("rate_limit_error", Some("server_busy")),
            ApiError::TooManyAttempts { .. } => ("rate_limit_error", Some("too_many_attempts")),
            ApiError::NoModel(_) => ("server_error", Some("model_not_loaded")),
            ApiError::Interrupted => ("server_error", Some("reply_interrupted")),
            ApiError::Internal(_) => ("server_error", None),
        };
        let param = match self {
            ApiError::InvalidRequest { param, .. } => param.clone(),
            _ => None,
        };
        ErrorBody {
            error: ErrorDetail {
                message: self.to_string(),
                kind,
                param,
                code,
            },
        }
    }
}

/// A busy engine frees a slot within seconds (a reply ends or is stopped).
const BUSY_RETRY_SECS: u64 = 2;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::warn!(error = %self, "API request failed");
        }
        let mut response = (self.status(), Json(self.body())).into_response();
        if let Some(secs) = self.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::QueueFull => ApiError::Busy,
            EngineError::NoModel(reason) => ApiError::NoModel(reason),
            EngineError::PromptTooLong { .. } | EngineError::TextTooLong { .. } => {
                ApiError::invalid(e.to_string(), Some("messages"))
            }
            EngineError::Grammar(_) | EngineError::Unsupported(_) => {
                ApiError::invalid(e.to_string(), None)
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl ApiError {
    /// `e`, with a grammar that does not compile named as `field` (the
    /// request field it came from).
    pub fn naming_grammar(e: ChatError, field: &str) -> Self {
        match e {
            ChatError::Engine(EngineError::Grammar(m)) => {
                ApiError::invalid(format!("{field}: {m}"), Some(field))
            }
            other => other.into(),
        }
    }
}

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::InvalidParameter { message, param } => {
                ApiError::invalid(message, Some(param))
            }
            ChatError::Engine(e) => e.into(),
            ChatError::Prompt(
                e @ (PromptError::ContextTooLong { .. } | PromptError::Tokenize(_)),
            ) => ApiError::invalid(e.to_string(), Some("messages")),
            ChatError::Prompt(
                e @ (PromptError::TemplateSyntax(_) | PromptError::TemplateTooExpensive(_)),
            ) => ApiError::invalid(e.to_string(), Some("instruction_template_str")),
            ChatError::Prompt(e) => ApiError::invalid(e.to_string(), Some("messages")),
            ChatError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { kind, .. } => {
                let param = match kind {
                    "character" => "character",
                    "preset" => "preset",
                    _ => "instruction_template",
                };
                ApiError::invalid(e.to_string(), Some(param))
            }
            StoreError::InvalidName { .. }
            | StoreError::Invalid(_)
            | StoreError::Malformed { .. }
            | StoreError::Stale
            | StoreError::Busy => ApiError::invalid(e.to_string(), None),
            StoreError::Io { .. } => ApiError::Internal(e.to_string()),
        }
    }
}
