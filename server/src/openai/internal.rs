//! text-generation-webui's `/v1/internal/*` endpoints: tokens, the prompt a
//! request would send, stopping generation, model facts.

use axum::{extract::State, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use engine::EngineError;

use super::{
    body::{part, JsonObject},
    convert,
    types::ChatCompletionRequest,
    ApiError, ApiState,
};

#[derive(Deserialize)]
struct TextBody {
    text: String,
}

#[derive(Deserialize)]
struct TokensBody {
    tokens: Vec<u32>,
}

fn encode(state: &ApiState, body: &Value) -> Result<Vec<u32>, ApiError> {
    let TextBody { text } = part(body)?;
    state.chat.tokenizer()?.encode(&text).map_err(|e| match e {
        e @ EngineError::TextTooLong { .. } => ApiError::invalid(e.to_string(), Some("text")),
        e => e.into(),
    })
}

pub async fn token_count(
    State(state): State<ApiState>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "length": encode(&state, &body)?.len() })))
}

pub async fn encode_text(
    State(state): State<ApiState>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let tokens = encode(&state, &body)?;
    Ok(Json(json!({ "length": tokens.len(), "tokens": tokens })))
}

pub async fn decode_tokens(
    State(state): State<ApiState>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let TokensBody { tokens } = part(&body)?;
    let tokenizer = state.chat.tokenizer()?;
    let vocab = tokenizer.vocab_size();
    if let Some(bad) = tokens.iter().find(|&&t| t as usize >= vocab) {
        return Err(ApiError::invalid(
            format!("token {bad} is outside the vocabulary (size {vocab})"),
            Some("tokens"),
        ));
    }
    Ok(Json(json!({ "text": tokenizer.decode(&tokens)? })))
}

/// The prompt a chat completion request would send, without running it.
pub async fn chat_prompt(
    State(state): State<ApiState>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let request = ChatCompletionRequest::parse(&body)?;
    let chat = convert::chat_request(&request, &state.data)?;
    let prepared = state.chat.prepare(&chat)?;
    // (chat-prompt takes no response_format: tools and grammars are not
    // rendered into the prompt text.)
    Ok(Json(json!({
        "prompt": prepared.prompt.text,
        "prompt_tokens": prepared.prompt.tokens.len(),
        "dropped_messages": prepared.prompt.dropped_messages,
        "stopping_strings": prepared.job.stop_strings,
    })))
}

/// Stops the caller's replies (everyone's where nobody logs in).
pub async fn stop_generation(
    State(state): State<ApiState>,
    caller: Option<axum::Extension<domain::Caller>>,
) -> Json<Value> {
    let stopped = state.replies.stop_owned_by(&super::owner(caller));
    Json(json!({ "status": "OK", "stopped": stopped }))
}

pub async fn model_info(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let model = state.chat.served()?;
    Ok(Json(json!({
        "model_name": model.name,
        "lora_names": [],
        "loader": model.loader.as_str(),
        "architecture": model.architecture,
        "context_length": model.context_length,
        "device": model.device,
    })))
}
