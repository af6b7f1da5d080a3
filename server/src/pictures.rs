//! `GET /character-picture/{name}`: a character's picture, for the chat and
//! the character editor. A character without one answers 204 (no
//! content): the page shows no picture, and the browser logs no error.

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};

use crate::store::UserData;

pub fn routes(data: Arc<UserData>) -> Router {
    Router::new()
        .route("/character-picture/{name}", get(picture))
        .with_state(data)
}

async fn picture(State(data): State<Arc<UserData>>, Path(name): Path<String>) -> Response {
    let Some(path) = data.characters.picture(&name) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let kind = if path.extension().is_some_and(|e| e == "png") {
        "image/png"
    } else {
        "image/jpeg"
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, kind),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}
