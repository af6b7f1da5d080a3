//! A refused request, answered in the form its caller reads: OpenAI's
//! error shape on `/v1` (rendered by the API layer, which is above this
//! one: the router hands its renderer in as an [`ApiRefusal`]), the UI's
//! error type on server functions (so the browser shows the message), a
//! page or plain text elsewhere.

use std::time::Duration;

use app::types::AppError;
use axum::{
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{Html, IntoResponse, Response},
    Json,
};

/// How the API answers a refusal of one of its requests.
pub type ApiRefusal = fn(Refusal) -> Response;

#[derive(Debug)]
pub enum Refusal {
    /// No or wrong credentials; `page` is the HTML offered to browsers.
    Unauthorized {
        message: String,
        page: String,
    },
    Forbidden(String),
    UnsupportedMediaType(String),
    TooLarge(String),
    TooManyAttempts(Duration),
}

/// Seconds to wait, rounded up (a Retry-After of 0 would invite a retry storm).
pub fn retry_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Refusal::Forbidden(_) => StatusCode::FORBIDDEN,
            Refusal::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    pub fn respond(
        self,
        method: &Method,
        headers: &HeaderMap,
        path: &str,
        api: ApiRefusal,
    ) -> Response {
        let status = self.status();
        let retry = match &self {
            Refusal::TooManyAttempts(wait) => Some(retry_secs(*wait)),
            _ => None,
        };
        let mut response = if path.starts_with("/v1/") {
            api(self)
        } else if path.starts_with("/api/") {
            (status, Json(AppError::from(self))).into_response()
        } else {
            let wants_html = method == Method::GET
                && headers
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|a| a.contains("text/html"));
            match self {
                Refusal::Unauthorized { page, .. } if wants_html => {
                    (status, Html(page)).into_response()
                }
                other => {
                    (status, format!("candlelight: {}", AppError::from(other))).into_response()
                }
            }
        };
        if let Some(secs) = retry {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<Refusal> for AppError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Unauthorized { message, .. } => AppError::Unauthorized(message),
            Refusal::Forbidden(m) | Refusal::UnsupportedMediaType(m) => AppError::Forbidden(m),
            Refusal::TooLarge(m) => AppError::TooLarge(m),
            Refusal::TooManyAttempts(wait) => AppError::TooManyAttempts {
                retry_after_secs: retry_secs(wait),
            },
        }
    }
}
