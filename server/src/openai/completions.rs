//! `POST /v1/completions`: a raw prompt, no template.

use axum::{
    extract::State,
    response::{sse::Sse, IntoResponse, Response},
    Extension, Json,
};
use domain::Caller;

use super::{
    body::JsonObject,
    chat_completions::counted_prompt,
    convert, logprobs, output, owner,
    sse::{
        collect, done_event, error_events, finish_reason, json_event, new_id, now_secs, sse_stream,
    },
    types::{
        Completion, CompletionChoice, CompletionLogprobs, CompletionRequest, PromptField, Usage,
    },
    ApiError, ApiState,
};
use crate::chat::{CompletionOptions, Loader};
use engine::{EngineEvent, FinishReason};

pub async fn completions(
    State(state): State<ApiState>,
    caller: Option<Extension<Caller>>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let request = CompletionRequest::parse(&body)?;
    if body.get("echo").and_then(serde_json::Value::as_bool) == Some(true) {
        return Err(ApiError::invalid(
            "echo is not supported: the prompt is not returned with the completion",
            Some("echo"),
        ));
    }
    let prompt = match request.prompt {
        PromptField::One(p) => p,
        PromptField::Many(mut v) if v.len() == 1 => v.remove(0),
        PromptField::Many(_) => {
            return Err(ApiError::invalid(
                "prompt must be one string",
                Some("prompt"),
            ))
        }
    };
    if request.sampling.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid(
            "/v1/completions answers one choice (n = 1); /v1/chat/completions takes n",
            Some("n"),
        ));
    }
    if !request.output.tools.is_empty() || request.output.tool_choice.is_some() {
        return Err(ApiError::invalid(
            "tools need messages: use /v1/chat/completions",
            Some("tools"),
        ));
    }
    let params = convert::params(&request.sampling, &state.data)?;
    let served = state.chat.served()?;
    let remote = served.loader == Loader::Remote;
    let options = CompletionOptions {
        logprobs: logprobs::completion_request(&request.sampling)?,
        grammar: if remote {
            None
        } else {
            output::format_grammar(&request.output)?
        },
        pass_through: if remote {
            output::pass_through(&request.output)?
        } else {
            Default::default()
        },
    };
    let logprobs = options.logprobs;
    let model = served.name;
    let id = new_id("cmpl");
    let (events, prompt_tokens) = state
        .chat
        .start_completion(&owner(caller), &id, &prompt, params, options)
        .map_err(|e| ApiError::naming_grammar(e, output::grammar_field(&request.output)))?;
    let prompt_tokens = prompt_tokens as u32;
    let created = now_secs();
    let answer = move |text: String,
                       finish: Option<&'static str>,
                       usage: Option<Usage>,
                       logprobs: Option<CompletionLogprobs>| Completion {
        id: id.clone(),
        object: "text_completion",
        created,
        model: model.clone(),
        choices: vec![CompletionChoice {
            index: 0,
            text,
            finish_reason: finish,
            logprobs,
        }],
        usage,
    };

    if !request.sampling.stream {
        let reply = collect(events).await?;
        let usage = Usage::new(
            counted_prompt(prompt_tokens, &reply.stats),
            reply.stats.completion_tokens,
        )
        .with_cached(reply.stats.cached_tokens);
        let token_logprobs = logprobs.map(|_| logprobs::completion(&reply.logprobs));
        return Ok(Json(answer(
            reply.text,
            Some(finish_reason(reply.reason)),
            Some(usage),
            token_logprobs,
        ))
        .into_response());
    }
    let include_usage = request
        .sampling
        .stream_options
        .is_some_and(|o| o.include_usage);
    let body = sse_stream(events, move |event| match event {
        EngineEvent::Text(text) => vec![json_event(&answer(text, None, None, None))],
        // Each token's numbers as their own chunk, before its text.
        EngineEvent::Logprobs(l) => vec![json_event(&answer(
            String::new(),
            None,
            None,
            Some(logprobs::completion(&[l])),
        ))],
        EngineEvent::Finished {
            reason: FinishReason::Interrupted,
            ..
        } => error_events(ApiError::Interrupted),
        EngineEvent::Finished { reason, stats } => {
            let mut last = answer(String::new(), Some(finish_reason(reason)), None, None);
            if include_usage {
                last.usage = Some(
                    Usage::new(
                        counted_prompt(prompt_tokens, &stats),
                        stats.completion_tokens,
                    )
                    .with_cached(stats.cached_tokens),
                );
            }
            vec![json_event(&last), done_event()]
        }
        EngineEvent::Failed(e) => error_events(e.into()),
        // The API simply streams once the reply starts.
        EngineEvent::Waiting { .. } | EngineEvent::Reading { .. } => vec![],
    });
    Ok(Sse::new(body).into_response())
}
