//! `POST /v1/messages` and `POST /v1/messages/count_tokens`: the
//! Anthropic Messages API over the same replies as every dialect, streamed
//! as Anthropic streams them (`message_start`, `content_block_start` /
//! `_delta` / `_stop`, `message_delta` with the stop reason and usage,
//! `message_stop`, `ping`).

use std::convert::Infallible;

use axum::{
    extract::State,
    response::{
        sse::{Event, Sse},
        IntoResponse, Response,
    },
    Extension, Json,
};
use domain::Caller;
use futures::StreamExt;
use serde_json::{json, Value};

use super::{
    convert, error,
    types::{AnthropicUsage, CountTokensRequest, MessageAnswer, MessagesRequest, OutBlock},
};
use crate::{
    openai::{
        body::{part, JsonObject},
        convert as openai_convert, output, owner,
        reply::{ReplyShaper, Shaped},
        shared::{self, Running, Started},
        sse::{collect, new_id, sse_stream},
        ApiError, ApiState,
    },
    tool_calls::ParsedCall,
};
use engine::{EngineEvent, FinishReason};

/// What a reply that offers no signature verification signs its thinking
/// with (clients send it back unchanged; candlelight does not check it).
const SIGNATURE: &str = "candlelight";

fn stop_reason(reason: FinishReason, made_calls: bool) -> &'static str {
    match reason {
        _ if made_calls => "tool_use",
        FinishReason::Length => "max_tokens",
        _ => "end_turn",
    }
}

fn tool_input(call: &ParsedCall) -> Value {
    serde_json::from_str(&call.arguments).unwrap_or_else(|_| json!({}))
}

/// A body that cannot be read (not JSON, not an object) is answered in
/// Anthropic's shape too, so the extractor's refusal is taken as a value.
pub async fn messages(
    State(state): State<ApiState>,
    caller: Option<Extension<Caller>>,
    body: Result<JsonObject, ApiError>,
) -> Response {
    let answered = match body {
        Ok(JsonObject(body)) => answer(state, caller, body).await,
        Err(e) => Err(e),
    };
    match answered {
        Ok(r) => r,
        Err(e) => error::response(e),
    }
}

async fn answer(
    state: ApiState,
    caller: Option<Extension<Caller>>,
    body: Value,
) -> Result<Response, ApiError> {
    let request: MessagesRequest = part(&body)?;
    let chat = convert::chat_request(&request)?;
    let id = new_id("msg");
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
    let shaper = ReplyShaper::new(&given, parse_calls);
    if !request.stream {
        let reply = collect(events).await?;
        let (reasoning, shaped) = shaper.whole(&reply.text);
        let made_calls = !shaped.calls.is_empty();
        let mut content = Vec::new();
        if let Some(thinking) = reasoning.filter(|r| !r.is_empty()) {
            content.push(OutBlock::Thinking {
                thinking,
                signature: SIGNATURE.into(),
            });
        }
        if !shaped.content.is_empty() || !made_calls {
            content.push(OutBlock::Text {
                text: shaped.content,
            });
        }
        for call in &shaped.calls {
            content.push(OutBlock::ToolUse {
                id: new_id("toolu"),
                name: call.name.clone(),
                input: tool_input(call),
            });
        }
        let usage = AnthropicUsage {
            input_tokens: shared_prompt(prompt_tokens, &reply.stats),
            output_tokens: reply.stats.completion_tokens,
        };
        return Ok(Json(MessageAnswer {
            id,
            kind: "message",
            role: "assistant",
            model,
            content,
            stop_reason: Some(stop_reason(reply.reason, made_calls)),
            stop_sequence: None,
            usage,
        })
        .into_response());
    }
    let start = json!({
        "type": "message_start",
        "message": {
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": prompt_tokens, "output_tokens": 0},
        },
    });
    let opening = vec![
        event("message_start", &start),
        event("ping", &json!({"type": "ping"})),
    ];
    let mut blocks = Blocks::new(shaper);
    let body = sse_stream(events, move |event| blocks.on(event));
    Ok(Sse::new(futures::stream::iter(opening).chain(body)).into_response())
}

fn shared_prompt(counted: u32, stats: &engine::GenerationStats) -> u32 {
    crate::openai::chat_completions::counted_prompt(counted, stats)
}

fn event(name: &str, data: &Value) -> Result<Event, Infallible> {
    Ok(Event::default()
        .event(name)
        .data(serde_json::to_string(data).unwrap_or_default()))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    Thinking,
    Text,
}

/// A streamed reply as Anthropic's content blocks: reasoning in a
/// `thinking` block, text in a `text` block, each call a `tool_use` block
/// with its input as one `input_json_delta`.
struct Blocks {
    shaper: ReplyShaper,
    next: u32,
    open: Option<Open>,
}

impl Blocks {
    fn new(shaper: ReplyShaper) -> Self {
        Self {
            shaper,
            next: 0,
            open: None,
        }
    }

    fn on(&mut self, e: EngineEvent) -> Vec<Result<Event, Infallible>> {
        match e {
            EngineEvent::Text(text) => {
                let shaped = self.shaper.push(&text);
                self.emit(shaped)
            }
            EngineEvent::Finished { reason, stats } => {
                let shaped = self.shaper.finish();
                let mut out = self.emit(shaped);
                out.extend(self.close());
                if reason == FinishReason::Interrupted {
                    out.push(event("error", &error::body(&ApiError::Interrupted)));
                    return out;
                }
                let made_calls = self.shaper.made_calls();
                out.push(event(
                    "message_delta",
                    &json!({
                        "type": "message_delta",
                        "delta": {"stop_reason": stop_reason(reason, made_calls), "stop_sequence": null},
                        "usage": {"output_tokens": stats.completion_tokens},
                    }),
                ));
                out.push(event("message_stop", &json!({"type": "message_stop"})));
                out
            }
            EngineEvent::Failed(e) => {
                let mut out = self.close();
                out.push(event("error", &error::body(&ApiError::from(e))));
                out
            }
            EngineEvent::Waiting { .. }
            | EngineEvent::Reading { .. }
            | EngineEvent::Logprobs(_) => Vec::new(),
        }
    }

    fn open(&mut self, kind: Open, out: &mut Vec<Result<Event, Infallible>>) {
        if self.open == Some(kind) {
            return;
        }
        out.extend(self.close());
        let block = match kind {
            Open::Thinking => json!({"type": "thinking", "thinking": ""}),
            Open::Text => json!({"type": "text", "text": ""}),
        };
        out.push(event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": self.next, "content_block": block}),
        ));
        self.open = Some(kind);
    }

    fn close(&mut self) -> Vec<Result<Event, Infallible>> {
        let Some(kind) = self.open.take() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if kind == Open::Thinking {
            out.push(self.delta(json!({"type": "signature_delta", "signature": SIGNATURE})));
        }
        out.push(event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": self.next}),
        ));
        self.next += 1;
        out
    }

    fn delta(&self, delta: Value) -> Result<Event, Infallible> {
        event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": self.next, "delta": delta}),
        )
    }

    fn emit(&mut self, shaped: Shaped) -> Vec<Result<Event, Infallible>> {
        let mut out = Vec::new();
        if !shaped.reasoning.is_empty() {
            self.open(Open::Thinking, &mut out);
            out.push(self.delta(json!({"type": "thinking_delta", "thinking": shaped.reasoning})));
        }
        if !shaped.content.is_empty() {
            self.open(Open::Text, &mut out);
            out.push(self.delta(json!({"type": "text_delta", "text": shaped.content})));
        }
        for call in &shaped.calls {
            out.extend(self.close());
            out.push(event(
                "content_block_start",
                &json!({"type": "content_block_start", "index": self.next, "content_block": {
                    "type": "tool_use", "id": new_id("toolu"), "name": call.name, "input": {},
                }}),
            ));
            out.push(
                self.delta(json!({"type": "input_json_delta", "partial_json": call.arguments})),
            );
            out.push(event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": self.next}),
            ));
            self.next += 1;
        }
        out
    }
}

pub async fn count_tokens(
    State(state): State<ApiState>,
    body: Result<JsonObject, ApiError>,
) -> Response {
    match body.and_then(|JsonObject(body)| count(&state, &body)) {
        Ok(n) => Json(json!({ "input_tokens": n })).into_response(),
        Err(e) => error::response(e),
    }
}

/// The prompt's tokens, tools and system included, as a request with
/// these fields would send it.
fn count(state: &ApiState, body: &Value) -> Result<usize, ApiError> {
    let request: CountTokensRequest = part(body)?;
    let request = convert::count_request(&request)?;
    let mut chat = openai_convert::chat_request(&request, &state.data)?;
    let format = state.chat.tool_format(&chat)?;
    chat.tools = output::plan(&request.output, format)?.tools;
    Ok(state.chat.prepare(&chat)?.prompt.tokens.len())
}
