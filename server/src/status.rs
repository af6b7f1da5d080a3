//! `/health` (ready only when a model can answer) and `/metrics`
//! (Prometheus text).

use std::sync::Arc;

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde_json::json;

use crate::chat::ChatEngine;

pub fn routes(chat: Arc<ChatEngine>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(chat)
}

async fn health(State(chat): State<Arc<ChatEngine>>) -> Response {
    if let Some(remote) = chat.remote() {
        return match remote.model_id().await {
            Ok(model) => Json(json!({"status": "ok", "model": model, "backend": remote.url()}))
                .into_response(),
            Err(e) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "reason": e.to_string()})),
            )
                .into_response(),
        };
    }
    match chat.engine().model() {
        Ok(m) => Json(json!({"status": "ok", "model": m.info.name})).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "reason": e.to_string()})),
        )
            .into_response(),
    }
}

async fn metrics(State(chat): State<Arc<ChatEngine>>) -> Response {
    let engine = chat.engine();
    let loaded = chat.remote().is_some() || engine.model().is_ok();
    let text = engine.metrics().render(engine.queue_depth(), loaded);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
