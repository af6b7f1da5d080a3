//! API errors in OpenAI's shape, `{"error": {"message", "type", "param",
//! "code"}}`, each with its HTTP status. Everything below the API maps into
//! this once, here.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use domain::ErrorClass;
use serde::Serialize;
use thiserror::Error;

use crate::{
    access::{retry_secs, Refusal},
    chat::ChatError,
    prompt::PromptError,
    store::StoreError,
};
use engine::EngineError;

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
    /// Any internal error, rendered from its class.
    #[error("{message}")]
    Classified {
        class: ErrorClass,
        message: String,
        param: Option<String>,
    },
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

    /// A request field's problem, keeping the class of the error behind
    /// it (a preset that does not exist is 404, a bad name 400).
    pub fn of_field(class: ErrorClass, message: String, param: &str) -> Self {
        ApiError::Classified {
            class,
            message,
            param: Some(param.to_string()),
        }
    }

    /// What kind of failure this is: the one rule for its HTTP status,
    /// shared with the UI's errors.
    pub fn class(&self) -> ErrorClass {
        match self {
            ApiError::InvalidRequest { .. }
            | ApiError::UnsupportedMediaType(_)
            | ApiError::MethodNotAllowed(_) => ErrorClass::BadInput,
            ApiError::Unauthorized => ErrorClass::Unauthorized,
            ApiError::Forbidden(_) => ErrorClass::Forbidden,
            ApiError::TooLarge(_) => ErrorClass::TooLarge,
            ApiError::ModelNotFound(_) | ApiError::UnknownEndpoint(_) => ErrorClass::NotFound,
            ApiError::Busy | ApiError::TooManyAttempts { .. } => ErrorClass::Busy,
            ApiError::NoModel(_) | ApiError::Interrupted => ErrorClass::Unavailable,
            ApiError::Classified { class, .. } => *class,
            ApiError::Internal(_) => ErrorClass::Internal,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            // HTTP's own statuses for what HTTP got wrong.
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            other => StatusCode::from_u16(other.class().http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }

    /// Seconds a client should wait before retrying (429 answers).
    pub fn retry_after(&self) -> Option<u64> {
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
            ApiError::Classified { class, .. } => class_shape(*class),
            ApiError::Internal(_) => ("server_error", None),
        };
        let param = match self {
            ApiError::InvalidRequest { param, .. } | ApiError::Classified { param, .. } => {
                param.clone()
            }
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

/// OpenAI's `type` and our `code` for an error known by its class.
fn class_shape(class: ErrorClass) -> (&'static str, Option<&'static str>) {
    match class {
        ErrorClass::BadInput => ("invalid_request_error", None),
        ErrorClass::Unauthorized => ("authentication_error", None),
        ErrorClass::Forbidden => ("permission_error", None),
        ErrorClass::NotFound => ("invalid_request_error", Some("not_found")),
        ErrorClass::Conflict => ("invalid_request_error", Some("conflict")),
        ErrorClass::TooLarge => ("invalid_request_error", Some("request_too_large")),
        ErrorClass::Unprocessable => ("invalid_request_error", Some("damaged_file")),
        ErrorClass::Busy => ("rate_limit_error", Some("server_busy")),
        ErrorClass::Unavailable => ("server_error", Some("unavailable")),
        ErrorClass::Internal => ("server_error", None),
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
            other => ApiError::Classified {
                class: other.class(),
                message: other.to_string(),
                param: None,
            },
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
            ChatError::Store(e) => e.into(),
            ChatError::Prompt(
                e @ (PromptError::TemplateSyntax(_) | PromptError::TemplateTooExpensive(_)),
            ) => ApiError::of_field(e.class(), e.to_string(), "instruction_template_str"),
            ChatError::Prompt(e) => ApiError::of_field(e.class(), e.to_string(), "messages"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Io { .. } => ApiError::Internal(e.to_string()),
            other => ApiError::Classified {
                class: other.class(),
                message: other.to_string(),
                param: None,
            },
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Unauthorized { .. } => ApiError::Unauthorized,
            Refusal::Forbidden(m) => ApiError::Forbidden(m),
            Refusal::UnsupportedMediaType(m) => ApiError::UnsupportedMediaType(m),
            Refusal::TooLarge(m) => ApiError::TooLarge(m),
            Refusal::TooManyAttempts(wait) => ApiError::TooManyAttempts {
                retry_after_secs: retry_secs(wait),
            },
        }
    }
}

/// The API's answer to a request the access layer refused.
pub fn refusal_response(r: Refusal) -> Response {
    ApiError::from(r).into_response()
}
