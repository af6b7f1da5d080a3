//! `GET /v1/models` and `GET /v1/models/{id}`: the loaded model.

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

pub async fn list(State(state): State<ApiState>) -> Json<ModelList> {
    let data = match state.chat.engine().model() {
        Ok(m) => vec![model_object(&m.info.name)],
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
    match state.chat.engine().model() {
        Ok(m) if m.info.name == id => Ok(Json(model_object(&m.info.name))),
        _ => Err(ApiError::ModelNotFound(id)),
    }
}
