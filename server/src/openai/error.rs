//! API errors in OpenAI's shape, `{"error": {"message", "type", "param",
//! "code"}}`, each with its HTTP status. Everything below the API maps into
//! this once, here.

use axum::{
    http::StatusCode,
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
    #[error("unknown endpoint: {0}")]
    UnknownEndpoint(String),
    #[error("the model `{0}` does not exist")]
    ModelNotFound(String),
    #[error("the server is busy; retry in a moment")]
    Busy,
    #[error("no model is loaded: {0}")]
    NoModel(String),
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
            ApiError::ModelNotFound(_) | ApiError::UnknownEndpoint(_) => StatusCode::NOT_FOUND,
            ApiError::Busy => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NoModel(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body, also sent as the last event of a failed stream.
    pub fn body(&self) -> ErrorBody {
        let (kind, code) = match self {
            ApiError::InvalidRequest { .. } => ("invalid_request_error", None),
            ApiError::Unauthorized => ("authentication_error", Some("invalid_api_key")),
            ApiError::ModelNotFound(_) => ("invalid_request_error", Some("model_not_found")),
            ApiError::UnknownEndpoint(_) => ("invalid_request_error", Some("unknown_url")),
            ApiError::Busy => ("rate_limit_error", Some("server_busy")),
            ApiError::NoModel(_) => ("server_error", Some("model_not_loaded")),
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::warn!(error = %self, "API request failed");
        }
        (self.status(), Json(self.body())).into_response()
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::QueueFull => ApiError::Busy,
            EngineError::NoModel(reason) => ApiError::NoModel(reason),
            EngineError::PromptTooLong { .. } => ApiError::invalid(e.to_string(), Some("messages")),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::InvalidParameter(m) => ApiError::invalid(m, None),
            ChatError::Engine(e) => e.into(),
            ChatError::Prompt(e @ PromptError::ContextTooLong { .. }) => {
                ApiError::invalid(e.to_string(), Some("messages"))
            }
            ChatError::Prompt(e @ PromptError::TemplateSyntax(_)) => {
                ApiError::invalid(e.to_string(), Some("instruction_template_str"))
            }
            ChatError::Prompt(e) => ApiError::invalid(e.to_string(), None),
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
            StoreError::InvalidName(_)
            | StoreError::Invalid(_)
            | StoreError::Malformed { .. }
            | StoreError::Stale
            | StoreError::Busy => ApiError::invalid(e.to_string(), None),
            StoreError::Io { .. } => ApiError::Internal(e.to_string()),
        }
    }
}
