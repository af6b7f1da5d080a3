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

use crate::chat::Backend;

pub fn routes(chat: Arc<dyn Backend>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(chat)
}

/// Ready when the backend names a model (a remote server is asked).
async fn health(State(chat): State<Arc<dyn Backend>>) -> Response {
    match chat.models().await {
        Ok(models) => {
            let mut body = json!({"status": "ok", "model": models.first()});
            if let Some(url) = chat.remote_url() {
                body["backend"] = json!(url);
            }
            Json(body).into_response()
        }
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "reason": e.to_string()})),
        )
            .into_response(),
    }
}

async fn metrics(State(chat): State<Arc<dyn Backend>>) -> Response {
    let engine = chat.engine();
    let loaded = chat.served().is_ok();
    let text = engine.metrics().render(engine.queue_depth(), loaded);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
