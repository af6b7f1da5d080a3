//! Log-probabilities in OpenAI's two shapes: the chat one (an entry per
//! token with its bytes and top alternatives) and the legacy completions
//! one (parallel lists). `logprobs`/`top_logprobs` are checked here.

use serde_json::{Map, Value};

use super::{
    types::{CompletionLogprobs, LogprobEntry, SamplingFields, TopLogprob},
    ApiError,
};
use engine::TokenLogprobs;

/// OpenAI's limit on alternatives per token.
pub const MAX_TOP_LOGPROBS: u32 = 20;

/// Chat: `logprobs: true` with `top_logprobs` alternatives (0-20).
pub fn chat_request(fields: &SamplingFields) -> Result<Option<usize>, ApiError> {
    let on = match &fields.logprobs {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "logprobs must be true or false",
                Some("logprobs"),
            ))
        }
    };
    match (on, fields.top_logprobs) {
        (_, Some(n)) if n > MAX_TOP_LOGPROBS => Err(ApiError::invalid(
            format!("top_logprobs must be in [0, {MAX_TOP_LOGPROBS}]"),
            Some("top_logprobs"),
        )),
        (false, Some(n)) if n > 0 => Err(ApiError::invalid(
            "top_logprobs needs logprobs: true",
            Some("top_logprobs"),
        )),
        (true, n) => Ok(Some(n.unwrap_or(0) as usize)),
        (false, _) => Ok(None),
    }
}

/// Completions: `logprobs: N` alternatives per token (0-20).
pub fn completion_request(fields: &SamplingFields) -> Result<Option<usize>, ApiError> {
    match &fields.logprobs {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(n) if n <= MAX_TOP_LOGPROBS as u64 => Ok(Some(n as usize)),
            _ => Err(ApiError::invalid(
                format!("logprobs must be an integer in [0, {MAX_TOP_LOGPROBS}]"),
                Some("logprobs"),
            )),
        },
        Some(_) => Err(ApiError::invalid(
            format!("logprobs must be an integer in [0, {MAX_TOP_LOGPROBS}]"),
            Some("logprobs"),
        )),
    }
}

pub fn chat_entry(l: &TokenLogprobs) -> LogprobEntry {
    LogprobEntry {
        token: l.chosen.text.clone(),
        logprob: l.chosen.logprob,
        bytes: l.chosen.text.as_bytes().to_vec(),
        top_logprobs: l
            .top
            .iter()
            .map(|t| TopLogprob {
                token: t.text.clone(),
                logprob: t.logprob,
                bytes: t.text.as_bytes().to_vec(),
            })
            .collect(),
    }
}

/// The legacy shape for a whole completion.
pub fn completion(all: &[TokenLogprobs]) -> CompletionLogprobs {
    let mut out = CompletionLogprobs::default();
    let mut offset = 0;
    for l in all {
        out.tokens.push(l.chosen.text.clone());
        out.token_logprobs.push(l.chosen.logprob);
        out.top_logprobs.push(
            l.top
                .iter()
                .map(|t| (t.text.clone(), Value::from(t.logprob)))
                .collect::<Map<String, Value>>(),
        );
        out.text_offset.push(offset);
        offset += l.chosen.text.len();
    }
    out
}
