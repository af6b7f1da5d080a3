//! The OpenAI-compatible API under `/v1`, on the same engine and queue as the
//! web UI, plus text-generation-webui's `/v1/internal` endpoints.

mod anthropic;
mod auth;
mod body;
mod chat_completions;
mod completions;
mod convert;
mod error;
mod internal;
mod logprobs;
mod models;
mod output;
mod reply;
mod responses;
pub(crate) mod shared;
mod sse;
pub mod types;

use std::sync::Arc;

use axum::{
    http::{header, HeaderValue, Method},
    middleware,
    routing::{any, get, post},
    Router,
};
pub use error::{refusal_response, ApiError};
use tower_http::cors::CorsLayer;

use crate::{access::Throttle, chat::Backend, store::UserData};

#[derive(Clone)]
pub struct ApiState {
    pub chat: Arc<dyn Backend>,
    pub replies: Arc<crate::replies::Replies>,
    pub data: Arc<UserData>,
}

/// How the API is exposed.
#[derive(Clone, Debug, Default)]
pub struct ApiConfig {
    /// Required as `Authorization: Bearer KEY` when set.
    pub api_key: Option<String>,
    /// The one browser origin allowed to call the API (CORS); none by default.
    pub cors_origin: Option<HeaderValue>,
}

/// The engine's owner of an API request's reply (see `ui::chat::owner`):
/// the logged-in user under `--auth`, else the shared owner.
fn owner(caller: Option<axum::Extension<domain::Caller>>) -> String {
    caller.and_then(|c| c.0.user).unwrap_or_default()
}

async fn unknown_endpoint(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::UnknownEndpoint(format!("{method} {}", uri.path()))
}

/// A known endpoint called with the wrong method (GET on a POST endpoint).
async fn wrong_method(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{method} {}", uri.path()))
}

/// The `/v1` routes; `throttle` slows down wrong API keys per address.
pub fn routes(state: ApiState, config: &ApiConfig, throttle: Arc<Throttle>) -> Router {
    let mut v1 = Router::new()
        .route("/v1/models", get(models::list))
        .route("/v1/models/{id}", get(models::get))
        .route(
            "/v1/chat/completions",
            post(chat_completions::chat_completions),
        )
        .route("/v1/completions", post(completions::completions))
        .route("/v1/responses", post(responses::responses))
        .route("/v1/messages", post(anthropic::messages::messages))
        .route(
            "/v1/messages/count_tokens",
            post(anthropic::messages::count_tokens),
        )
        .route("/v1/internal/token-count", post(internal::token_count))
        .route("/v1/internal/encode", post(internal::encode_text))
        .route("/v1/internal/decode", post(internal::decode_tokens))
        .route("/v1/internal/chat-prompt", post(internal::chat_prompt))
        .route(
            "/v1/internal/stop-generation",
            post(internal::stop_generation),
        )
        .route("/v1/internal/model/info", get(internal::model_info))
        .route("/v1/{*rest}", any(unknown_endpoint))
        .method_not_allowed_fallback(wrong_method)
        .with_state(state);
    if let Some(key) = &config.api_key {
        v1 = v1.layer(middleware::from_fn_with_state(
            Arc::new(auth::ApiKeyGuard {
                key: key.clone(),
                throttle,
            }),
            auth::require_api_key,
        ));
    }
    if let Some(origin) = &config.cors_origin {
        v1 = v1.layer(
            CorsLayer::new()
                .allow_origin(origin.clone())
                .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    header::HeaderName::from_static("x-api-key"),
                    header::HeaderName::from_static("anthropic-version"),
                ]),
        );
    }
    v1
}
