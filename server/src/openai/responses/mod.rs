//! `POST /v1/responses`: the OpenAI Responses API over the same replies as
//! every dialect. Nothing is stored (as with `store: false`): a response
//! cannot be fetched again, and `previous_response_id` is refused by name
//! (send the conversation in `input`).

mod convert;
mod stream;
mod types;

use axum::{
    extract::State,
    response::{sse::Sse, IntoResponse, Response},
    Extension, Json,
};
use domain::Caller;
use futures::StreamExt;
use serde_json::{json, Value};

use super::{
    body::{part, JsonObject},
    chat_completions::counted_prompt,
    owner,
    reply::ReplyShaper,
    shared::{self, Running, Started},
    sse::{collect, new_id, now_secs, sse_stream},
    ApiError, ApiState,
};
use crate::tool_calls::ParsedCall;
use engine::{FinishReason, GenerationStats};
use types::ResponsesRequest;

/// What the answer says about its request, in every state it is sent in.
#[derive(Clone)]
struct Envelope {
    id: String,
    created_at: u64,
    model: String,
    request: ResponsesRequest,
    prompt_tokens: u32,
}

impl Envelope {
    /// The response object with `output` and a status.
    fn response(&self, status: &str, output: Vec<Value>, end: Option<&Ending>) -> Value {
        let usage = end.map(|e| {
            let input = counted_prompt(self.prompt_tokens, &e.stats);
            json!({
                "input_tokens": input,
                "input_tokens_details": {"cached_tokens": e.stats.cached_tokens},
                "output_tokens": e.stats.completion_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": input + e.stats.completion_tokens,
            })
        });
        let incomplete = end
            .filter(|e| e.reason == FinishReason::Length)
            .map(|_| json!({"reason": "max_output_tokens"}));
        let format = self
            .request
            .text
            .as_ref()
            .and_then(|t| t.format.clone())
            .unwrap_or_else(|| json!({"type": "text"}));
        json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "model": self.model,
            "output": output,
            "usage": usage,
            "error": null,
            "incomplete_details": incomplete,
            "instructions": self.request.instructions,
            "max_output_tokens": self.request.max_output_tokens,
            "parallel_tool_calls": self.request.parallel_tool_calls.unwrap_or(true),
            "previous_response_id": null,
            "reasoning": {"effort": self.request.reasoning.as_ref().and_then(|r| r.effort.clone()), "summary": null},
            "store": false,
            "temperature": self.request.temperature,
            "top_p": self.request.top_p,
            "text": {"format": format},
            "tool_choice": self.request.tool_choice.clone().unwrap_or_else(|| json!("auto")),
            "tools": self.request.tools.iter().map(|t| json!({
                "type": "function", "name": t.name, "description": t.description,
                "parameters": t.parameters, "strict": t.strict.unwrap_or(false),
            })).collect::<Vec<_>>(),
            "truncation": "disabled",
            "metadata": {},
        })
    }
}

/// How a reply ended.
struct Ending {
    reason: FinishReason,
    stats: GenerationStats,
}

fn status_of(reason: FinishReason) -> &'static str {
    if reason == FinishReason::Length {
        "incomplete"
    } else {
        "completed"
    }
}

fn reasoning_item(id: &str, text: &str) -> Value {
    json!({"type": "reasoning", "id": id, "summary": [{"type": "summary_text", "text": text}]})
}

fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({
        "type": "message", "id": id, "status": status, "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    })
}

fn call_item(id: &str, call_id: &str, call: &ParsedCall, status: &str) -> Value {
    json!({
        "type": "function_call", "id": id, "call_id": call_id, "name": call.name,
        "arguments": call.arguments, "status": status,
    })
}

pub async fn responses(
    State(state): State<ApiState>,
    caller: Option<Extension<Caller>>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let request: ResponsesRequest = part(&body)?;
    let chat = convert::chat_request(&request)?;
    let id = new_id("resp");
    let Started {
        model,
        mut replies,
        prompt_tokens,
        given,
        parse_calls,
        ..
    } = shared::start(&state, &owner(caller), &id, &chat)?;
    let Some(Running { events, .. }) = replies.pop() else {
        return Err(ApiError::Internal("no reply was started".into()));
    };
    let envelope = Envelope {
        id,
        created_at: now_secs(),
        model,
        request: request.clone(),
        prompt_tokens,
    };
    let shaper = ReplyShaper::new(&given, parse_calls);
    if !request.stream {
        let reply = collect(events).await?;
        let (reasoning, shaped) = shaper.whole(&reply.text);
        let mut output = Vec::new();
        if let Some(r) = reasoning.filter(|r| !r.is_empty()) {
            output.push(reasoning_item(&new_id("rs"), &r));
        }
        if !shaped.content.is_empty() || shaped.calls.is_empty() {
            output.push(message_item(&new_id("msg"), &shaped.content, "completed"));
        }
        for call in &shaped.calls {
            output.push(call_item(&new_id("fc"), &new_id("call"), call, "completed"));
        }
        let end = Ending {
            reason: reply.reason,
            stats: reply.stats,
        };
        return Ok(
            Json(envelope.response(status_of(end.reason), output, Some(&end))).into_response(),
        );
    }
    let mut items = stream::Items::new(shaper, envelope);
    let opening = items.opening();
    let body = sse_stream(events, move |event| items.on(event));
    Ok(Sse::new(futures::stream::iter(opening).chain(body)).into_response())
}
