//! Shared pieces of the two completion endpoints: ids, timestamps, and
//! turning the engine's events into OpenAI's answers.

use std::{
    convert::Infallible,
    time::{SystemTime, UNIX_EPOCH},
};

use axum::response::sse::Event;
use futures::{Stream, StreamExt};
use rand::Rng;
use serde::Serialize;

use super::ApiError;
use crate::replies::ReplyStream;
use engine::{EngineEvent, FinishReason, GenerationStats, TokenLogprobs};

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub fn new_id(prefix: &str) -> String {
    format!("{prefix}-{:016x}", rand::rng().random::<u64>())
}

/// OpenAI has no "cancelled": a stopped reply simply stopped. A reply the
/// server cut off never gets a finish reason: it ends with an error
/// ([`ApiError::Interrupted`]), which callers check first.
pub fn finish_reason(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Length => "length",
        FinishReason::Stop | FinishReason::Cancelled | FinishReason::Interrupted => "stop",
    }
}

/// The whole reply, for non-streaming requests.
pub struct Collected {
    pub text: String,
    pub reason: FinishReason,
    pub stats: GenerationStats,
    /// Each token's log-probabilities, when they were asked for.
    pub logprobs: Vec<TokenLogprobs>,
}

pub async fn collect(mut events: ReplyStream) -> Result<Collected, ApiError> {
    let mut text = String::new();
    let mut logprobs = Vec::new();
    while let Some(event) = events.next().await {
        match event {
            EngineEvent::Text(t) => text.push_str(&t),
            EngineEvent::Logprobs(l) => logprobs.push(l),
            EngineEvent::Finished {
                reason: FinishReason::Interrupted,
                ..
            } => return Err(ApiError::Interrupted),
            EngineEvent::Finished { reason, stats } => {
                return Ok(Collected {
                    text,
                    reason,
                    stats,
                    logprobs,
                })
            }
            EngineEvent::Failed(e) => return Err(e.into()),
            EngineEvent::Waiting { .. } | EngineEvent::Reading { .. } => {}
        }
    }
    Err(ApiError::Internal(
        "the engine ended the reply without finishing it".into(),
    ))
}

pub fn json_event(value: &impl Serialize) -> Result<Event, Infallible> {
    Ok(Event::default().data(serde_json::to_string(value).unwrap_or_default()))
}

pub fn done_event() -> Result<Event, Infallible> {
    Ok(Event::default().data("[DONE]"))
}

/// Maps each engine event to the SSE events it becomes. The reply's stream
/// is owned by the response body: a client that disconnects drops it, which
/// cancels generation before the next token.
pub fn sse_stream<F>(
    events: ReplyStream,
    mut to_events: F,
) -> impl Stream<Item = Result<Event, Infallible>> + Send
where
    F: FnMut(EngineEvent) -> Vec<Result<Event, Infallible>> + Send + 'static,
{
    events.flat_map(move |event| futures::stream::iter(to_events(event)))
}

/// The last events of a failed stream: the error in OpenAI's shape, then DONE.
pub fn error_events(error: ApiError) -> Vec<Result<Event, Infallible>> {
    vec![json_event(&error.body()), done_event()]
}
