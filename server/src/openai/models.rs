//! `GET /v1/models` and `GET /v1/models/{id}`: the loaded model, or the
//! remote server's models under `--backend openai`.

use axum::{
    extract::{Path, State},
    Json,
};

use super::{
    types::{ModelList, ModelObject},
    ApiError, ApiState,
};

fn model_object(name: &str) -> ModelObject {
    ModelObject {
        id: name.to_string(),
        object: "model",
        created: 0,
        owned_by: "candlelight",
    }
}

/// The models the backend serves now (a remote server is asked); none
/// while no model is loaded.
pub async fn list(State(state): State<ApiState>) -> Json<ModelList> {
    let data = match state.chat.models().await {
        Ok(names) => names.iter().map(|n| model_object(n)).collect(),
        Err(_) => Vec::new(),
    };
    Json(ModelList {
        object: "list",
        data,
    })
}

pub async fn get(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<ModelObject>, ApiError> {
    match state.chat.models().await {
        Ok(names) if names.contains(&id) => Ok(Json(model_object(&id))),
        _ => Err(ApiError::ModelNotFound(id)),
    }
}
