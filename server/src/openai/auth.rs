//! `--api-key`: every `/v1` request must carry `Authorization: Bearer KEY`
//! (the scheme in any case). Wrong keys are throttled per client address,
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
    let Some(given) = bearer(request.headers()).map(str::to_string) else {
        return ApiError::Unauthorized.into_response();
    };
    let ip = client_ip(&request);
    match guard.throttle.verify(ip, || {
        constant_time_eq(given.as_bytes(), guard.key.as_bytes())
    }) {
        Attempt::Accepted => next.run(request).await,
        Attempt::Refused(wait) => {
            tracing::warn!(client = %ip, retry_ms = wait.as_millis() as u64, "wrong API key");
            ApiError::Unauthorized.into_response()
        }
        Attempt::LockedOut(wait) => ApiError::TooManyAttempts {
            retry_after_secs: crate::access::retry_secs(wait),
        }
        .into_response(),
    }
}
