//! `POST /v1/chat/completions`, streamed or not, with the
//! text-generation-webui extras.

use app::types::Caller;
use axum::{
    extract::State,
    response::{sse::Sse, IntoResponse, Response},
    Extension, Json,
};

use super::{
    body::JsonObject,
    convert, owner,
    sse::{
        collect, done_event, error_events, finish_reason, json_event, new_id, now_secs, sse_stream,
    },
    types::{
        AssistantMessage, ChatChoice, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest,
        ChunkChoice, Delta, Usage,
    },
    ApiError, ApiState,
};
use crate::engine::EngineEvent;
use app::reasoning::{reply_parts, ReasoningStream};

pub async fn chat_completions(
    State(state): State<ApiState>,
    caller: Option<Extension<Caller>>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let request = ChatCompletionRequest::parse(&body)?;
    let chat = convert::chat_request(&request, &state.data)?;
    let model = state.chat.engine().model()?.info.name.clone();
    let id = new_id("chatcmpl");
    let (events, prompt) = state.chat.start(&owner(caller), &id, &chat)?;
    // A continued reply goes on from the assistant text it was given, so
    // whether it is inside reasoning depends on that text.
    let given = match chat.continuation {
        crate::prompt::Continuation::ContinueLast => chat
            .history
            .last()
            .map(|m| m.content.clone())
            .unwrap_or_default(),
        _ => String::new(),
    };
    let prompt_tokens = prompt.tokens.len() as u32;
    let created = now_secs();

    if !request.sampling.stream {
        let reply = collect(events).await?;
        let (reasoning_content, content) = reply_parts(&given, &reply.text);
        return Ok(Json(ChatCompletion {
            id,
            object: "chat.completion",
            created,
            model,
            choices: vec![ChatChoice {
                index: 0,
                message: AssistantMessage {
                    role: "assistant",
                    content,
                    reasoning_content,
                },
                finish_reason: finish_reason(reply.reason),
            }],
            usage: Usage::new(prompt_tokens, reply.stats.completion_tokens),
        })
        .into_response());
    }

    let include_usage = request
        .sampling
        .stream_options
        .is_some_and(|o| o.include_usage);
    let chunk = move |delta: Delta, finish: Option<&'static str>| ChatCompletionChunk {
        id: id.clone(),
        object: "chat.completion.chunk",
        created,
        model: model.clone(),
        choices: vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason: finish,
        }],
        usage: None,
    };
    let first = chunk(
        Delta {
            role: Some("assistant"),
            content: Some(String::new()),
            reasoning_content: None,
        },
        None,
    );
    let mut reasoning = ReasoningStream::continuing(&given);
    let delta = |d: app::reasoning::Delta| {
        (!d.reasoning.is_empty() || !d.answer.is_empty()).then(|| Delta {
            role: None,
            content: (!d.answer.is_empty()).then_some(d.answer),
            reasoning_content: (!d.reasoning.is_empty()).then_some(d.reasoning),
        })
    };
    let body = sse_stream(events, move |event| match event {
        EngineEvent::Text(text) => delta(reasoning.push(&text))
            .map(|d| json_event(&chunk(d, None)))
            .into_iter()
            .collect(),
        EngineEvent::Finished { reason, stats } => {
            let mut out: Vec<_> = delta(reasoning.finish())
                .map(|d| json_event(&chunk(d, None)))
                .into_iter()
                .collect();
            out.push(json_event(&chunk(
                Delta::default(),
                Some(finish_reason(reason)),
            )));
            if include_usage {
                let mut usage = chunk(Delta::default(), None);
                usage.choices.clear();
                usage.usage = Some(Usage::new(prompt_tokens, stats.completion_tokens));
                out.push(json_event(&usage));
            }
            out.push(done_event());
            out
        }
        EngineEvent::Failed(e) => error_events(e.into()),
        // The API simply streams once the reply starts.
        EngineEvent::Waiting { .. } | EngineEvent::Reading { .. } => vec![],
    });
    let stream = futures::StreamExt::chain(futures::stream::iter(vec![json_event(&first)]), body);
    Ok(Sse::new(stream).into_response())
}
