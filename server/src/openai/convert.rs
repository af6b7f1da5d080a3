//! From API request bodies to the engine's requests: sampling parameters
//! (preset first, then each field given), messages, and the
//! text-generation-webui chat extras.

use domain::{
    Character, ChatMessage, FunctionCall, GenerationParams, Mode, Role, ToolCall, UserProfile,
    ValidParams, DEFAULT_CHAT_INSTRUCT_COMMAND,
};

use super::{
    types::{ChatCompletionRequest, Content, RequestMessage, SamplingFields, StopField},
    ApiError,
};
use crate::{
    chat::ChatRequest,
    prompt::Continuation,
    store::{StoreError, UserData},
};

/// OpenAI's limit on `stop` strings (TGW's `custom_stopping_strings` has none).
const MAX_STOP: usize = 4;

/// Most choices one chat request may ask for (`n`): each is a reply the
/// engine runs beside the others.
pub const MAX_CHOICES: u32 = 8;

/// How many choices a chat request asks for.
pub fn choices(fields: &SamplingFields) -> Result<u32, ApiError> {
    match fields.n.unwrap_or(1) {
        n @ 1..=MAX_CHOICES => Ok(n),
        _ => Err(ApiError::invalid(
            format!("n must be in [1, {MAX_CHOICES}]"),
            Some("n"),
        )),
    }
}

/// A store error about the file a request field names, as that field's
/// error (a damaged or missing preset is the `preset` field's problem).
fn field(param: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::Io { .. } => e.into(),
        other => ApiError::of_field(other.class(), other.to_string(), param),
    }
}

/// Names are replaced into prompts wherever `{{user}}` or `{{char}}`
/// stand, so they are kept to a name's length.
const MAX_NAME_CHARS: usize = 256;

fn short_name(name: &str, param: &'static str) -> Result<String, ApiError> {
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::invalid(
            format!("{param} must be at most {MAX_NAME_CHARS} characters"),
            Some(param),
        ));
    }
    Ok(name.to_string())
}

/// The character chat modes use when the request names none.
const DEFAULT_CHARACTER: &str = "Assistant";

/// Sampling parameters: neutral (or the named preset), then every field the
/// request sets. Validated here, at the edge.
pub fn params(fields: &SamplingFields, data: &UserData) -> Result<ValidParams, ApiError> {
    let mut p = match &fields.preset {
        Some(name) => data.presets.load(name).map_err(field("preset"))?.params,
        None => GenerationParams::neutral(),
    };
    // Every field named (no `..`): a new sampler does not compile until
    // the API reads it (below) and the remote body sends it (remote.rs).
    let GenerationParams {
        max_new_tokens: _,          // max_tokens and its aliases
        custom_stopping_strings: _, // stop and custom_stopping_strings
        temperature: _,
        top_p: _,
        top_k: _,
        min_p: _,
        typical_p: _,
        repetition_penalty: _,
        repetition_penalty_range: _,
        presence_penalty: _,
        frequency_penalty: _,
        do_sample: _,
        seed: _,
        truncation_length: _,
        ban_eos_token: _,
        dry_multiplier: _,
        dry_base: _,
        dry_allowed_length: _,
        dry_sequence_breakers: _,
        xtc_threshold: _,
        xtc_probability: _,
        top_n_sigma: _,
        dynamic_temperature: _,
        dynatemp_low: _,
        dynatemp_high: _,
        dynatemp_exponent: _,
        smoothing_factor: _,
        smoothing_curve: _,
        mirostat_mode: _,
        mirostat_tau: _,
        mirostat_eta: _,
        temperature_last: _,
        sampler_priority: _,
        auto_max_new_tokens: _,
    } = &p;
    macro_rules! set {
        ($($field:ident),*) => {$(
            if let Some(v) = fields.$field { p.$field = v; }
        )*};
    }
    set!(
        temperature,
        top_p,
        top_k,
        min_p,
        typical_p,
        repetition_penalty,
        repetition_penalty_range,
        presence_penalty,
        frequency_penalty,
        do_sample,
        seed,
        truncation_length,
        ban_eos_token,
        dry_multiplier,
        dry_base,
        dry_allowed_length,
        xtc_threshold,
        xtc_probability,
        top_n_sigma,
        dynamic_temperature,
        dynatemp_low,
        dynatemp_high,
        dynatemp_exponent,
        smoothing_factor,
        smoothing_curve,
        mirostat_mode,
        mirostat_tau,
        mirostat_eta,
        temperature_last,
        auto_max_new_tokens
    );
    if let Some(breakers) = fields.dry_sequence_breakers.clone() {
        p.dry_sequence_breakers = breakers.into_text();
    }
    if let Some(order) = fields.sampler_priority.clone() {
        p.sampler_priority = order.into_text();
    }
    if let Some(n) = fields
        .max_completion_tokens
        .or(fields.max_tokens)
        .or(fields.max_new_tokens)
    {
        p.max_new_tokens = n;
    }
    let mut stops: Vec<String> = fields
        .stop
        .clone()
        .map(|s| s.into_vec())
        .unwrap_or_default();
    stops.extend(
        fields
            .custom_stopping_strings
            .clone()
            .map(|s| s.into_vec())
            .unwrap_or_default(),
    );
    if let Some(StopField::Many(list)) = &fields.stop {
        if list.len() > MAX_STOP {
            return Err(ApiError::invalid(
                format!("stop may hold at most {MAX_STOP} strings"),
                Some("stop"),
            ));
        }
    }
    if !stops.is_empty() {
        p.custom_stopping_strings = stops;
    }
    p.validate()
        .map_err(|e| ApiError::invalid(e.message, Some(&e.field)))
}

fn message_text(message: &RequestMessage, index: usize) -> Result<String, ApiError> {
    match &message.content {
        None => Ok(String::new()),
        Some(Content::Text(t)) => Ok(t.clone()),
        Some(Content::Parts(parts)) => parts
            .iter()
            .map(|part| match (part.kind.as_str(), &part.text) {
                ("text", Some(t)) => Ok(t.as_str()),
                (kind, _) => Err(ApiError::invalid(
                    format!(
                        "messages[{index}]: only text content parts are supported, not `{kind}`"
                    ),
                    Some("messages"),
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|texts| texts.join("\n")),
    }
}

/// An assistant message's calls as the template reads them: arguments
/// parsed into a JSON object (templates print them with `tojson`).
fn tool_calls(message: &RequestMessage, index: usize) -> Result<Vec<ToolCall>, ApiError> {
    let calls = message.tool_calls.as_deref().unwrap_or_default();
    calls
        .iter()
        .enumerate()
        .map(|(j, call)| {
            let text = call.function.arguments.as_deref().unwrap_or("{}");
            let arguments = serde_json::from_str::<serde_json::Value>(text).map_err(|e| {
                ApiError::invalid(
                    format!(
                        "messages[{index}].tool_calls[{j}].function.arguments is not JSON: {e}"
                    ),
                    Some("messages"),
                )
            })?;
            Ok(ToolCall {
                id: call
                    .id
                    .clone()
                    .unwrap_or_else(|| format!("call_{index}_{j}")),
                kind: "function".into(),
                function: FunctionCall {
                    name: call.function.name.clone(),
                    arguments,
                },
            })
        })
        .collect()
}

/// The request's messages as history plus the system message (if any).
fn split_messages(
    messages: &[RequestMessage],
) -> Result<(Option<String>, Vec<ChatMessage>), ApiError> {
    if messages.is_empty() {
        return Err(ApiError::invalid(
            "messages must not be empty",
            Some("messages"),
        ));
    }
    let mut system: Vec<String> = Vec::new();
    let mut history = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let text = message_text(m, i)?;
        match m.role.as_str() {
            "system" | "developer" => system.push(text),
            "user" => history.push(ChatMessage::new(Role::User, text)),
            "assistant" => history.push(ChatMessage {
                tool_calls: tool_calls(m, i)?,
                ..ChatMessage::new(Role::Assistant, text)
            }),
            "tool" => history.push(ChatMessage {
                tool_call_id: m.tool_call_id.clone(),
                ..ChatMessage::new(Role::Tool, text)
            }),
            other => {
                return Err(ApiError::invalid(
                    format!("messages[{i}]: role `{other}` is not supported (use system, user, assistant or tool)"),
                    Some("messages"),
                ))
            }
        }
    }
    let system = (!system.is_empty()).then(|| system.join("\n\n"));
    Ok((system, history))
}

/// A chat completion request as a chat request for the engine.
pub fn chat_request(
    body: &ChatCompletionRequest,
    data: &UserData,
) -> Result<ChatRequest, ApiError> {
    let extras = &body.chat;
    let params = params(&body.sampling, data)?;
    let mode = match extras.mode.as_deref() {
        None => Mode::Instruct,
        Some(m) => Mode::parse(m).ok_or_else(|| {
            ApiError::invalid("mode must be instruct, chat or chat-instruct", Some("mode"))
        })?,
    };
    let (system_message, mut history) = split_messages(&body.messages)?;

    let character_name = extras.character.as_deref().unwrap_or(DEFAULT_CHARACTER);
    let mut character = match data.characters.load(character_name) {
        Ok(c) => c,
        Err(_) if extras.character.is_none() => Character {
            name: DEFAULT_CHARACTER.into(),
            ..Character::default()
        },
        Err(e) => return Err(field("character")(e)),
    };
    if let Some(name) = extras.name2.as_ref().or(extras.bot_name.as_ref()) {
        character.name = short_name(name, "name2")?;
    }
    if let Some(context) = &extras.context {
        character.context = context.clone();
    }
    if let Some(greeting) = &extras.greeting {
        character.greeting = greeting.clone();
    }
    let mut user = UserProfile::default();
    if let Some(name) = extras.name1.as_ref().or(extras.user_name.as_ref()) {
        user.name = short_name(name, "name1")?;
    }
    if let Some(bio) = &extras.user_bio {
        user.bio = bio.clone();
    }

    // A chat that starts now begins with the character's greeting, as in
    // the UI.
    if mode != Mode::Instruct && history.len() == 1 && !character.greeting.is_empty() {
        history.insert(
            0,
            ChatMessage::new(Role::Assistant, character.greeting.clone()),
        );
    }

    let continuation = if extras.continue_last {
        if history.last().map(|m| m.role) != Some(Role::Assistant) {
            return Err(ApiError::invalid(
                "continue_ needs the last message to be the assistant's",
                Some("continue_"),
            ));
        }
        Continuation::ContinueLast
    } else {
        Continuation::Reply
    };

    let instruction_template = match (
        &extras.instruction_template_str,
        &extras.instruction_template,
    ) {
        (Some(source), _) => Some(source.clone()),
        (None, Some(name)) => Some(
            data.templates
                .load(name)
                .map_err(field("instruction_template"))?,
        ),
        (None, None) => None,
    };

    Ok(ChatRequest {
        history,
        mode,
        character,
        user,
        system_message,
        chat_instruct_command: extras
            .chat_instruct_command
            .clone()
            .unwrap_or_else(|| DEFAULT_CHAT_INSTRUCT_COMMAND.to_string()),
        instruction_template,
        continuation,
        params,
        enable_thinking: enable_thinking(extras)?,
        tools: Vec::new(),
        grammar: None,
        logprobs: super::logprobs::chat_request(&body.sampling)?,
        pass_through: Default::default(),
    })
}

/// `chat_template_kwargs.enable_thinking`, or else what `reasoning_effort`
/// implies ("none" and "minimal" turn thinking off).
fn enable_thinking(extras: &super::types::ChatFields) -> Result<Option<bool>, ApiError> {
    if let Some(on) = extras
        .chat_template_kwargs
        .as_ref()
        .and_then(|k| k.enable_thinking)
    {
        return Ok(Some(on));
    }
    match extras.reasoning_effort.as_deref() {
        None => Ok(None),
        Some("none" | "minimal") => Ok(Some(false)),
        Some("low" | "medium" | "high") => Ok(Some(true)),
        Some(_) => Err(ApiError::invalid(
            "reasoning_effort must be none, minimal, low, medium or high",
            Some("reasoning_effort"),
        )),
    }
}
