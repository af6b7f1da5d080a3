//! `POST /v1/chat/completions`, streamed or not, with tools, structured
//! output and the text-generation-webui extras.

use std::sync::{
    atomic::{AtomicU32, Ordering},
    Arc,
};

use axum::{
    extract::State,
    response::{sse::Sse, IntoResponse, Response},
    Extension, Json,
};
use domain::Caller;
use futures::StreamExt;

use super::{
    body::JsonObject,
    logprobs, owner,
    reply::{ReplyShaper, Shaped},
    shared::{self, Running, Started},
    sse::{collect, done_event, finish_reason, json_event, new_id, now_secs, sse_stream},
    types::{
        AssistantMessage, ChatChoice, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest,
        ChoiceLogprobs, ChunkChoice, Delta, FunctionDelta, ResponseFunction, ResponseToolCall,
        ToolCallDelta, Usage,
    },
    ApiError, ApiState,
};
use crate::tool_calls::ParsedCall;
use engine::{EngineEvent, FinishReason, GenerationStats};

/// `tool_calls` when the reply made calls, else why it ended.
fn reply_finish(reason: FinishReason, made_calls: bool) -> &'static str {
    if made_calls && reason != FinishReason::Length {
        "tool_calls"
    } else {
        finish_reason(reason)
    }
}

fn response_call(call: ParsedCall) -> ResponseToolCall {
    ResponseToolCall {
        id: new_id("call"),
        kind: "function",
        function: ResponseFunction {
            name: call.name,
            arguments: call.arguments,
        },
    }
}

/// The prompt's tokens for `usage`: where the prompt could not be counted
/// here (a remote backend), the count its server reported.
pub(super) fn counted_prompt(counted_here: u32, stats: &GenerationStats) -> u32 {
    if counted_here > 0 {
        counted_here
    } else {
        stats.prompt_tokens
    }
}

pub async fn chat_completions(
    State(state): State<ApiState>,
    caller: Option<Extension<Caller>>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let request = ChatCompletionRequest::parse(&body)?;
    let id = new_id("chatcmpl");
    let Started {
        model,
        replies: running,
        mut prompt_tokens,
        given,
        parse_calls,
        with_logprobs,
    } = shared::start(&state, &owner(caller), &id, &request)?;
    let created = now_secs();

    if !request.sampling.stream {
        let replies =
            futures::future::join_all(running.into_iter().map(|r| collect(r.events))).await;
        let mut completion_tokens = 0;
        let mut cached_tokens = u32::MAX;
        let mut answers = Vec::with_capacity(replies.len());
        for (index, reply) in replies.into_iter().enumerate() {
            let reply = reply?;
            completion_tokens += reply.stats.completion_tokens;
            cached_tokens = cached_tokens.min(reply.stats.cached_tokens);
            prompt_tokens = counted_prompt(prompt_tokens, &reply.stats);
            let (reasoning_content, shaped) =
                ReplyShaper::new(&given, parse_calls).whole(&reply.text);
            let made_calls = !shaped.calls.is_empty();
            let content = if made_calls && shaped.content.trim().is_empty() {
                None
            } else {
                Some(shaped.content)
            };
            answers.push(ChatChoice {
                index: index as u32,
                message: AssistantMessage {
                    role: "assistant",
                    content,
                    reasoning_content,
                    tool_calls: shaped.calls.into_iter().map(response_call).collect(),
                },
                finish_reason: reply_finish(reply.reason, made_calls),
                logprobs: with_logprobs.then(|| ChoiceLogprobs {
                    content: reply.logprobs.iter().map(logprobs::chat_entry).collect(),
                }),
            });
        }
        return Ok(Json(ChatCompletion {
            id,
            object: "chat.completion",
            created,
            model,
            choices: answers,
            usage: Usage::new(prompt_tokens, completion_tokens)
                .with_cached(cached_tokens.min(prompt_tokens)),
        })
        .into_response());
    }

    let include_usage = request
        .sampling
        .stream_options
        .is_some_and(|o| o.include_usage);
    let chunk = {
        let (id, model) = (id.clone(), model.clone());
        move |index: u32, delta: Delta, finish: Option<&'static str>| ChatCompletionChunk {
            id: id.clone(),
            object: "chat.completion.chunk",
            created,
            model: model.clone(),
            choices: vec![ChunkChoice {
                index,
                delta,
                finish_reason: finish,
                logprobs: None,
            }],
            usage: None,
        }
    };
    // Every choice's completion tokens, for the usage chunk at the end.
    let spent = Arc::new(AtomicU32::new(0));
    let prompt_seen = Arc::new(AtomicU32::new(prompt_tokens));
    let cached_seen = Arc::new(AtomicU32::new(u32::MAX));
    let mut streams = Vec::with_capacity(running.len());
    for Running { index, events } in running {
        let first = chunk(
            index,
            Delta {
                role: Some("assistant"),
                content: Some(String::new()),
                ..Delta::default()
            },
            None,
        );
        let mut shaper = ReplyShaper::new(&given, parse_calls);
        let mut calls = CallCounter::default();
        let chunk = chunk.clone();
        let spent = spent.clone();
        let prompt_seen = prompt_seen.clone();
        let cached_seen = cached_seen.clone();
        let body = sse_stream(events, move |event| match event {
            EngineEvent::Text(text) => calls
                .deltas(shaper.push(&text))
                .into_iter()
                .map(|d| json_event(&chunk(index, d, None)))
                .collect(),
            EngineEvent::Logprobs(l) => {
                let mut c = chunk(index, Delta::default(), None);
                c.choices[0].logprobs = Some(ChoiceLogprobs {
                    content: vec![logprobs::chat_entry(&l)],
                });
                vec![json_event(&c)]
            }
            EngineEvent::Finished { reason, stats } => {
                spent.fetch_add(stats.completion_tokens, Ordering::Relaxed);
                cached_seen.fetch_min(stats.cached_tokens, Ordering::Relaxed);
                let counted = counted_prompt(prompt_seen.load(Ordering::Relaxed), &stats);
                prompt_seen.store(counted, Ordering::Relaxed);
                let mut out: Vec<_> = calls
                    .deltas(shaper.finish())
                    .into_iter()
                    .map(|d| json_event(&chunk(index, d, None)))
                    .collect();
                if reason == FinishReason::Interrupted {
                    out.push(json_event(&ApiError::Interrupted.body()));
                } else {
                    out.push(json_event(&chunk(
                        index,
                        Delta::default(),
                        Some(reply_finish(reason, shaper.made_calls())),
                    )));
                }
                out
            }
            EngineEvent::Failed(e) => vec![json_event(&ApiError::from(e).body())],
            // The API simply streams once the reply starts.
            EngineEvent::Waiting { .. } | EngineEvent::Reading { .. } => vec![],
        });
        streams.push(
            futures::stream::iter(vec![json_event(&first)])
                .chain(body)
                .boxed(),
        );
    }
    // Every choice's chunks as they come, then usage and DONE once all end.
    let tail = futures::stream::once(async move {
        let mut out = Vec::new();
        if include_usage {
            let mut usage = chunk(0, Delta::default(), None);
            usage.choices.clear();
            let cached = cached_seen.load(Ordering::Relaxed);
            usage.usage = Some(
                Usage::new(
                    prompt_seen.load(Ordering::Relaxed),
                    spent.load(Ordering::Relaxed),
                )
                .with_cached(if cached == u32::MAX { 0 } else { cached }),
            );
            out.push(json_event(&usage));
        }
        out.push(done_event());
        futures::stream::iter(out)
    })
    .flatten();
    let stream = futures::stream::select_all(streams).chain(tail);
    Ok(Sse::new(stream).into_response())
}

/// Numbers a choice's calls and turns a shaped piece of reply into deltas:
/// text and reasoning as one, each call as OpenAI streams it (id and name,
/// then the arguments).
#[derive(Default)]
struct CallCounter {
    sent: u32,
}

impl CallCounter {
    fn deltas(&mut self, shaped: Shaped) -> Vec<Delta> {
        let mut out = Vec::new();
        if !shaped.reasoning.is_empty() || !shaped.content.is_empty() {
            out.push(Delta {
                content: (!shaped.content.is_empty()).then_some(shaped.content),
                reasoning_content: (!shaped.reasoning.is_empty()).then_some(shaped.reasoning),
                ..Delta::default()
            });
        }
        for call in shaped.calls {
            let index = self.sent;
            self.sent += 1;
            let delta = |d: ToolCallDelta| Delta {
                tool_calls: vec![d],
                ..Delta::default()
            };
            out.push(delta(ToolCallDelta {
                index,
                id: Some(new_id("call")),
                kind: Some("function"),
                function: FunctionDelta {
                    name: Some(call.name),
                    arguments: String::new(),
                },
            }));
            out.push(delta(ToolCallDelta {
                index,
                id: None,
                kind: None,
                function: FunctionDelta {
                    name: None,
                    arguments: call.arguments,
                },
            }));
        }
        out
    }
}
