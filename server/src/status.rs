//! `/health` (ready only when a model can answer) and `/metrics`
//! (Prometheus text).

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde_json::json;

use crate::state::{AppState, Generator};

pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Ready when the backend names a model (a remote server is asked).
async fn health(State(state): State<AppState>) -> Response {
    match state.chat.models().await {
        Ok(models) => {
            let mut body = json!({"status": "ok", "model": models.first()});
            if let Generator::Remote { url } = &state.generator {
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

/// The reply counters (either backend), the queue, and what the local
/// scheduler is doing.
async fn metrics(State(state): State<AppState>) -> Response {
    let mut text = String::new();
    state.replies.metrics().render(&mut text);
    let loaded = state.chat.served().is_ok();
    let queue_depth = match &state.generator {
        Generator::Local(engine) => engine.queue_depth(),
        Generator::Remote { .. } => state.replies.count(),
    };
    let mut gauge = |name: &str, help: &str, value: String| {
        text.push_str(&format!(
            "# HELP candlelight_{name} {help}\n# TYPE candlelight_{name} gauge\ncandlelight_{name} {value}\n"
        ));
    };
    gauge(
        "queue_depth",
        "Requests waiting for or using the model.",
        queue_depth.to_string(),
    );
    gauge(
        "model_loaded",
        "1 when a model is loaded.",
        u8::from(loaded).to_string(),
    );
    match &state.generator {
        Generator::Local(engine) => engine.metrics().render(&mut text),
        // Replies in flight stand for the remote server's sequences.
        Generator::Remote { .. } => gauge(
            "active_sequences",
            "Replies being generated.",
            state.replies.count().to_string(),
        ),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
