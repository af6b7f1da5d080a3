//! What a remote OpenAI-compatible server is sent for a request.
//!
//! The modes map onto what such servers offer: instruct mode sends the turns
//! as chat messages (the server applies its model's template; tool calls and
//! tool results included), chat-instruct sends its command as one user
//! message, and chat mode sends the raw transcript to `/v1/completions`.
//! What the reply must be (tools, `tool_choice`, `response_format`,
//! `grammar_string`) goes as the API client sent it, for the remote server
//! to enforce.

use domain::{ChatMessage, GenerationParams, Mode, Role, ValidParams};
use serde_json::{json, Map, Value};

use crate::{
    chat::{ChatError, ChatRequest},
    prompt::{chat_instruct_message, chat_mode_prompt, Continuation, PromptSettings},
};

/// An endpoint path and its body (without the sampling fields).
pub struct Outgoing {
    pub path: &'static str,
    pub body: Value,
    /// The prompt as shown in the prompt panel.
    pub shown: String,
}

/// The request a chat turn becomes.
pub fn chat(request: &ChatRequest) -> Result<Outgoing, ChatError> {
    request.check_expansion()?;
    if request.grammar.is_some() {
        // The API hands a remote backend the client's own fields instead.
        return Err(ChatError::InvalidParameter {
            message: "a compiled grammar cannot be sent to a remote backend".into(),
            param: "grammar_string",
        });
    }
    let settings = PromptSettings {
        mode: request.mode,
        character: &request.character,
        user: &request.user,
        system_message: request.system_message.as_deref(),
        chat_instruct_command: &request.chat_instruct_command,
        enable_thinking: request.enable_thinking,
        tools: None,
    };
    let mut outgoing = match (request.mode, request.continuation) {
        (Mode::Chat, continuation) => {
            let prompt = chat_mode_prompt(&settings, &request.history, continuation);
            Outgoing {
                path: "/completions",
                body: json!({ "prompt": prompt }),
                shown: prompt,
            }
        }
        (_, Continuation::Impersonate) => {
            return Err(ChatError::InvalidParameter {
                message: "Impersonate works in chat mode with a remote backend".into(),
                param: "mode",
            })
        }
        (Mode::ChatInstruct, continuation) => {
            let mut messages = vec![ChatMessage::new(
                Role::User,
                chat_instruct_message(&settings, &request.history, continuation),
            )];
            if continuation == Continuation::ContinueLast {
                if let Some(last) = request.history.last() {
                    messages.push(last.clone());
                }
            }
            messages_body(&messages)
        }
        (Mode::Instruct, _) => {
            let mut messages = Vec::new();
            if let Some(system) = settings.system_message.filter(|s| !s.trim().is_empty()) {
                messages.push(ChatMessage::new(Role::System, settings.substitute(system)));
            }
            // A trailing assistant message (Continue) is the reply's
            // prefix for servers that support prefill.
            messages.extend(request.history.iter().cloned());
            messages_body(&messages)
        }
    };
    if let Some(n) = request.logprobs {
        add(&mut outgoing.body, chat_logprobs(n));
    }
    if let (Some(on), "/chat/completions") = (request.enable_thinking, outgoing.path) {
        add(&mut outgoing.body, thinking_switch(on));
    }
    add(&mut outgoing.body, request.pass_through.clone());
    Ok(outgoing)
}

/// Chat's `logprobs: true` with `top_logprobs` alternatives.
fn chat_logprobs(n: usize) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("logprobs".into(), json!(true));
    fields.insert("top_logprobs".into(), json!(n));
    fields
}

/// The chat template's reasoning switch (Qwen3's `enable_thinking`, which
/// Anthropic's `thinking` and `reasoning_effort` set too) where vLLM,
/// llama-server `--jinja` and candlelight read it.
fn thinking_switch(on: bool) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert(
        "chat_template_kwargs".into(),
        json!({ "enable_thinking": on }),
    );
    fields
}

/// Adds `fields` to a body object.
pub fn add(body: &mut Value, fields: Map<String, Value>) {
    if let Value::Object(b) = body {
        b.extend(fields);
    }
}

fn messages_body(messages: &[ChatMessage]) -> Outgoing {
    let shown = messages
        .iter()
        .map(|m| format!("[{}]\n{}", m.role.as_str(), m.content))
        .collect::<Vec<_>>()
        .join("\n\n");
    let list: Vec<Value> = messages.iter().map(message).collect();
    Outgoing {
        path: "/chat/completions",
        body: json!({ "messages": list }),
        shown,
    }
}

/// One message on the wire: an assistant's calls with their arguments as
/// a JSON string (as OpenAI sends them), a tool result with its call's id.
fn message(m: &ChatMessage) -> Value {
    let mut out = json!({"role": m.role.as_str(), "content": m.content});
    if !m.tool_calls.is_empty() {
        let calls: Vec<Value> = m
            .tool_calls
            .iter()
            .map(|c| {
                json!({
                    "id": c.id,
                    "type": c.kind,
                    "function": {"name": c.function.name, "arguments": c.function.arguments.to_string()},
                })
            })
            .collect();
        out["tool_calls"] = Value::Array(calls);
    }
    if let Some(id) = &m.tool_call_id {
        out["tool_call_id"] = json!(id);
    }
    out
}

/// The sampling fields, under the names OpenAI, text-generation-webui,
/// vLLM and llama-server read.
pub fn sampling(
    params: &ValidParams,
    stops: &[String],
    model: Option<String>,
) -> Map<String, Value> {
    let greedy = params.is_greedy();
    // Every field named (no `..`): a new sampler does not compile until it
    // is decided here what the remote server gets for it.
    let GenerationParams {
        max_new_tokens,
        temperature,
        top_p,
        top_k,
        min_p,
        typical_p,
        repetition_penalty,
        repetition_penalty_range,
        presence_penalty,
        frequency_penalty,
        do_sample: _, // in `greedy`
        seed,
        custom_stopping_strings: _, // in `stops`, with the mode's own
        ban_eos_token,
        truncation_length: _, // the remote server fits its own context
        dry_multiplier,
        dry_base,
        dry_allowed_length,
        dry_sequence_breakers,
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
        sampler_priority: _,    // below, when not the default
        auto_max_new_tokens: _, // the remote server fits its own context
    } = &**params;
    let sampling = json!({
        "max_tokens": max_new_tokens,
        "temperature": if greedy { 0.0 } else { *temperature },
        "top_p": top_p,
        "top_k": top_k,
        "min_p": min_p,
        "typical_p": typical_p,
        "repetition_penalty": repetition_penalty,
        "repetition_penalty_range": repetition_penalty_range,
        "presence_penalty": presence_penalty,
        "frequency_penalty": frequency_penalty,
        "ban_eos_token": ban_eos_token,
        // text-generation-webui's and llama-server's names; servers that
        // do not know a sampler ignore it (they are off unless set).
        "dry_multiplier": dry_multiplier,
        "dry_base": dry_base,
        "dry_allowed_length": dry_allowed_length,
        "dry_sequence_breakers": dry_breakers_for_remote(dry_sequence_breakers),
        "xtc_threshold": xtc_threshold,
        "xtc_probability": xtc_probability,
        "top_n_sigma": top_n_sigma,
        "dynamic_temperature": dynamic_temperature,
        "dynatemp_low": dynatemp_low,
        "dynatemp_high": dynatemp_high,
        "dynatemp_exponent": dynatemp_exponent,
        "smoothing_factor": smoothing_factor,
        "smoothing_curve": smoothing_curve,
        "mirostat_mode": mirostat_mode,
        "mirostat_tau": mirostat_tau,
        "mirostat_eta": mirostat_eta,
        "temperature_last": temperature_last,
        "ignore_eos": ban_eos_token,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    let Value::Object(mut fields) = sampling else {
        unreachable!("json! of an object is an object")
    };
    if *seed >= 0 {
        fields.insert("seed".into(), json!(seed));
    }
    let order = params.sampler_order();
    if order != domain::SamplerStage::DEFAULT_ORDER {
        // text-generation-webui's name and form (a list of its names).
        let names: Vec<&str> = order.iter().map(|s| s.name()).collect();
        fields.insert("sampler_priority".into(), json!(names));
    }
    if !stops.is_empty() {
        fields.insert("stop".into(), json!(stops));
    }
    if let Some(model) = model {
        fields.insert("model".into(), json!(model));
    }
    fields
}

/// DRY's breakers as a JSON list, as llama-server and our own API read
/// them (text-generation-webui's comma-separated text is parsed first).
fn dry_breakers_for_remote(text: &str) -> Value {
    json!(domain::parse_breakers(text).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use domain::{FunctionCall, ToolCall};

    use super::*;

    #[test]
    fn calls_and_results_keep_their_ids_and_string_arguments() {
        let mut call = ChatMessage::new(Role::Assistant, "");
        call.tool_calls.push(ToolCall {
            id: "call_1".into(),
            kind: "function".into(),
            function: FunctionCall {
                name: "get_weather".into(),
                arguments: json!({"city": "Paris"}),
            },
        });
        let mut result = ChatMessage::new(Role::Tool, "sunny");
        result.tool_call_id = Some("call_1".into());
        let out = messages_body(&[call, result]).body;
        let arguments = out["messages"][0]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(arguments).unwrap(),
            json!({"city": "Paris"})
        );
        assert_eq!(out["messages"][0]["tool_calls"][0]["id"], "call_1");
        assert_eq!(out["messages"][1]["role"], "tool");
        assert_eq!(out["messages"][1]["tool_call_id"], "call_1");
        assert!(out["messages"][1].get("tool_calls").is_none());
    }

    fn request(mode: Mode, enable_thinking: Option<bool>) -> ChatRequest {
        ChatRequest {
            history: vec![ChatMessage::new(Role::User, "Why is the sky blue?")],
            mode,
            character: Default::default(),
            user: Default::default(),
            system_message: None,
            chat_instruct_command: domain::DEFAULT_CHAT_INSTRUCT_COMMAND.into(),
            instruction_template: None,
            continuation: Continuation::Reply,
            params: domain::GenerationParams::default().validate().unwrap(),
            enable_thinking,
            tools: Vec::new(),
            grammar: None,
            logprobs: None,
            pass_through: Default::default(),
        }
    }

    #[test]
    fn the_reasoning_switch_goes_to_the_remote() {
        let off = chat(&request(Mode::Instruct, Some(false))).unwrap();
        assert_eq!(
            off.body["chat_template_kwargs"],
            json!({"enable_thinking": false})
        );
        let on = chat(&request(Mode::Instruct, Some(true))).unwrap();
        assert_eq!(
            on.body["chat_template_kwargs"],
            json!({"enable_thinking": true})
        );
        // Unset stays unset (the remote's template decides), and a raw
        // completion (chat mode) has no template to switch.
        let unset = chat(&request(Mode::Instruct, None)).unwrap();
        assert!(unset.body.get("chat_template_kwargs").is_none());
        let raw = chat(&request(Mode::Chat, Some(true))).unwrap();
        assert!(raw.body.get("chat_template_kwargs").is_none());
    }
}
