//! What every dialect of the API shares (OpenAI Chat Completions, the
//! Anthropic Messages API, the OpenAI Responses API): each turns its
//! request into a [`ChatCompletionRequest`] and calls [`start`], which
//! validates it, plans tools and grammars, builds the prompt and starts the
//! replies; each dialect then renders the same events (through
//! [`ReplyShaper`](super::reply::ReplyShaper): reasoning, text, tool
//! calls) in its own shapes. No dialect validates, parses calls, masks
//! with a grammar or splits reasoning on its own. With a remote backend the
//! output fields pass through instead, for the remote server to enforce.

use domain::Mode;

use super::{convert, output, types::ChatCompletionRequest, ApiError, ApiState};
use crate::{chat::Loader, prompt::Continuation, replies::ReplyStream, tool_calls::ToolFormat};

/// One choice's running reply.
pub struct Running {
    pub index: u32,
    pub events: ReplyStream,
}

/// Replies started for one request.
pub struct Started {
    /// The served model's name, for the answer.
    pub model: String,
    pub replies: Vec<Running>,
    /// The prompt's length (0 where the backend cannot count it).
    pub prompt_tokens: u32,
    /// The assistant text a continued reply goes on from: whether the
    /// reply starts inside reasoning depends on it.
    pub given: String,
    /// The call format to parse the replies for, when tools were offered.
    pub parse_calls: Option<ToolFormat>,
    pub with_logprobs: bool,
}

/// Validates `request` and starts its `n` replies as `owner`'s, under
/// request ids `id`, `id-1`, …
pub fn start(
    state: &ApiState,
    owner: &str,
    id: &str,
    request: &ChatCompletionRequest,
) -> Result<Started, ApiError> {
    let mut chat = convert::chat_request(request, &state.data)?;
    let choices = convert::choices(&request.sampling)?;
    let served = state.chat.served()?;
    let format = state.chat.tool_format(&chat)?;
    let plan = output::plan(&request.output, format)?;
    if !plan.tools.is_empty() && chat.mode != Mode::Instruct {
        return Err(ApiError::invalid(
            "tools work in instruct mode only",
            Some("tools"),
        ));
    }
    if served.loader == Loader::Remote {
        chat.pass_through = output::pass_through(&request.output)?;
    } else {
        chat.tools = plan.tools;
        chat.grammar = plan.grammar;
    }
    let parse_calls = plan.parse_calls.then_some(format);
    let with_logprobs = chat.logprobs.is_some();
    // `n` independent replies to the same prompt; with a seed, choice i
    // samples with seed + i (so they differ, and each is reproducible).
    let mut replies = Vec::with_capacity(choices as usize);
    let mut prompt_tokens = 0;
    for index in 0..choices {
        let mut one = chat.clone();
        if one.params.seed >= 0 {
            let seed = one.params.seed.saturating_add(index as i64);
            one.params = one.params.with_seed(seed);
        }
        let request_id = if index == 0 {
            id.to_string()
        } else {
            format!("{id}-{index}")
        };
        let (events, prompt) = state
            .chat
            .start(owner, &request_id, &one)
            .map_err(|e| ApiError::naming_grammar(e, output::grammar_field(&request.output)))?;
        prompt_tokens = prompt.tokens.len() as u32;
        replies.push(Running { index, events });
    }
    let given = match chat.continuation {
        Continuation::ContinueLast => chat
            .history
            .last()
            .map(|m| m.content.clone())
            .unwrap_or_default(),
        _ => String::new(),
    };
    Ok(Started {
        model: served.name,
        replies,
        prompt_tokens,
        given,
        parse_calls,
        with_logprobs,
    })
}
