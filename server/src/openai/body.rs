//! Reading request bodies so that a bad field is named in the 400 answer
//! (`temperature: invalid type: string "hot", expected f32`).

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{
    types::{ChatCompletionRequest, CompletionRequest, MessagesField, PromptOnly},
    ApiError,
};

/// A JSON object body, not yet split into its parts.
pub struct JsonObject(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            ApiError::invalid(format!("could not read the request body: {e}"), None)
        })?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::invalid(format!("the body is not valid JSON: {e}"), None))?;
        if !value.is_object() {
            return Err(ApiError::invalid("the body must be a JSON object", None));
        }
        Ok(JsonObject(value))
    }
}

/// Reads `T` out of the object, naming the field of any error.
pub fn part<T: DeserializeOwned>(value: &Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path == "." {
            // serde reports a missing field at the root: "missing field `messages`".
            let missing = inner
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next())
                .map(str::to_string);
            ApiError::invalid(inner, missing.as_deref())
        } else {
            let param = path.split(['.', '[']).next().unwrap_or(&path).to_string();
            ApiError::invalid(format!("{path}: {inner}"), Some(&param))
        }
    })
}

impl ChatCompletionRequest {
    pub fn parse(value: &Value) -> Result<Self, ApiError> {
        let MessagesField { messages } = part(value)?;
        Ok(Self {
            messages,
            sampling: part(value)?,
            chat: part(value)?,
            output: part(value)?,
        })
    }
}

impl CompletionRequest {
    pub fn parse(value: &Value) -> Result<Self, ApiError> {
        let PromptOnly { prompt } = part(value)?;
        Ok(Self {
            prompt,
            sampling: part(value)?,
            output: part(value)?,
        })
    }
}
