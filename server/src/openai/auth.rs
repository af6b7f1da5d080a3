//! `--api-key`: every `/v1` request must carry `Authorization: Bearer KEY`
//! (the scheme in any case) or, as Anthropic's clients send it,
//! `x-api-key: KEY`. Wrong keys are throttled per client address,
//! like the access token, and logged; a request without a key is not a
//! guess and is refused without counting, and the right key always passes.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::ApiError;
use crate::{
    access::{bearer, client_ip, Attempt, Throttle},
    secrets::constant_time_eq,
};

/// The key and the throttle it shares with the other secrets.
pub struct ApiKeyGuard {
    pub key: String,
    pub throttle: Arc<Throttle>,
}

pub async fn require_api_key(
    State(guard): State<Arc<ApiKeyGuard>>,
    request: Request,
    next: Next,
) -> Response {
    // Anthropic's clients send the key as `x-api-key`.
    let anthropic = request.uri().path().starts_with("/v1/messages");
    let refuse = |e: ApiError| {
        if anthropic {
            super::anthropic::error::response(e)
        } else {
            e.into_response()
        }
    };
    let given = bearer(request.headers())
        .or_else(|| {
            request
                .headers()
                .get("x-api-key")
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        })
        .map(str::to_string);
    let Some(given) = given else {
        return refuse(ApiError::Unauthorized);
    };
    let ip = client_ip(&request);
    match guard.throttle.verify(ip, || {
        constant_time_eq(given.as_bytes(), guard.key.as_bytes())
    }) {
        Attempt::Accepted => next.run(request).await,
        Attempt::Refused(wait) => {
            tracing::warn!(client = %ip, retry_ms = wait.as_millis() as u64, "wrong API key");
            refuse(ApiError::Unauthorized)
        }
        Attempt::LockedOut(wait) => refuse(ApiError::TooManyAttempts {
            retry_after_secs: crate::access::retry_secs(wait),
        }),
    }
}
