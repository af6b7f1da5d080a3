//! Errors in Anthropic's shape: `{"type": "error", "error": {"type",
//! "message"}}`, with the HTTP status every dialect gives the error's class.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use domain::ErrorClass;
use serde_json::{json, Value};

use crate::openai::ApiError;

/// Anthropic's name for a class of error.
fn kind(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::BadInput | ErrorClass::Conflict | ErrorClass::Unprocessable => {
            "invalid_request_error"
        }
        ErrorClass::Unauthorized => "authentication_error",
        ErrorClass::Forbidden => "permission_error",
        ErrorClass::NotFound => "not_found_error",
        ErrorClass::TooLarge => "request_too_large",
        ErrorClass::Busy => "rate_limit_error",
        ErrorClass::Unavailable => "overloaded_error",
        ErrorClass::Internal => "api_error",
    }
}

/// The error body (also the data of a failed stream's `error` event).
pub fn body(e: &ApiError) -> Value {
    json!({
        "type": "error",
        "error": {"type": kind(e.class()), "message": e.to_string()},
    })
}

pub fn response(e: ApiError) -> Response {
    let mut response = (e.status(), Json(body(&e))).into_response();
    if let Some(retry) = e.retry_after() {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, retry.into());
    }
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::warn!(error = %e, "Messages API request failed");
    }
    response
}
