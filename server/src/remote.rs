//! `--backend openai --backend-url URL`: generation by any OpenAI-compatible
//! server (vLLM, TGI, llama-server, another candlelight) instead of the
//! in-process engine, behind the same UI, characters, modes and history.
//!
//! The modes map onto what such servers offer: instruct mode sends the turns
//! as chat messages (the server applies its model's template), chat-instruct
//! sends its command as one user message, and chat mode sends the raw
//! transcript to `/v1/completions`.

use std::{
    sync::{Arc, Mutex},
    time::Instant,
};

use domain::{ChatMessage, GenerationParams, Mode, Role, ValidParams};
use futures::StreamExt;
use serde_json::{json, Value};

use engine::{EngineError, EngineEvent, FinishReason, GenerationStats, TextTokenizer};

use crate::{
    chat::{
        Backend, BoxFuture, ChatError, ChatRequest, CompletionOptions, Loader, Prepared,
        ServedModel,
    },
    prompt::{chat_instruct_message, chat_mode_prompt, BuiltPrompt, Continuation, PromptSettings},
    replies::{Replies, ReplyStream},
    tool_calls::ToolFormat,
};

pub struct RemoteBackend {
    /// Where its replies are registered (Stop, the metrics).
    replies: Arc<Replies>,
    client: reqwest::Client,
    /// Base URL ending in `/v1`.
    base: String,
    key: Option<String>,
    model: Mutex<Option<String>>,
}

/// What to send: the endpoint path and its body (without sampling fields).
struct Outgoing {
    path: &'static str,
    body: Value,
    /// The prompt as shown in the prompt panel.
    shown: String,
}

impl RemoteBackend {
    pub fn new(url: &str, key: Option<String>, replies: Arc<Replies>) -> Self {
        let url = url.trim_end_matches('/');
        let base = if url.ends_with("/v1") {
            url.to_string()
        } else {
            format!("{url}/v1")
        };
        Self {
            replies,
            client: reqwest::Client::new(),
            base,
            key,
            model: Mutex::default(),
        }
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.post(format!("{}{path}", self.base));
        match &self.key {
            Some(k) => request.bearer_auth(k),
            None => request,
        }
    }

    /// The remote server's models, asked now; the first becomes the one
    /// requests name.
    pub async fn model_ids(&self) -> Result<Vec<String>, EngineError> {
        let mut request = self.client.get(format!("{}/models", self.base));
        if let Some(k) = &self.key {
            request = request.bearer_auth(k);
        }
        let remote =
            |reason: String| EngineError::Remote(format!("{}/models: {reason}", self.base));
        let response = request.send().await.map_err(|e| remote(e.to_string()))?;
        if !response.status().is_success() {
            return Err(remote(format!("HTTP {}", response.status())));
        }
        let list: Value = response.json().await.map_err(|e| remote(e.to_string()))?;
        let ids: Vec<String> = list["data"]
            .as_array()
            .map(|models| {
                models
                    .iter()
                    .filter_map(|m| m["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let first = ids
            .first()
            .ok_or_else(|| remote("the server lists no model".into()))?;
        *self.model.lock().unwrap_or_else(|e| e.into_inner()) = Some(first.clone());
        Ok(ids)
    }

    /// The last known model id, without asking.
    pub fn known_model(&self) -> Option<String> {
        self.model.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn outgoing(&self, request: &ChatRequest) -> Result<Outgoing, ChatError> {
        if !request.tools.is_empty() || request.grammar.is_some() {
            return Err(ChatError::InvalidParameter {
                message:
                    "tools, response_format and grammar_string are not passed on to a remote backend yet"
                        .into(),
                param: if request.tools.is_empty() { "response_format" } else { "tools" },
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
        let messages_body = |messages: Vec<ChatMessage>| {
            let shown = messages
                .iter()
                .map(|m| format!("[{}]\n{}", m.role.as_str(), m.content))
                .collect::<Vec<_>>()
                .join("\n\n");
            let list: Vec<Value> = messages
                .iter()
                .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
                .collect();
            (json!({ "messages": list }), shown)
        };
        let (path, (body, shown)) = match (request.mode, request.continuation) {
            (Mode::Chat, continuation) => {
                let prompt = chat_mode_prompt(&settings, &request.history, continuation);
                ("/completions", (json!({ "prompt": prompt }), prompt))
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
                ("/chat/completions", messages_body(messages))
            }
            (Mode::Instruct, _) => {
                let mut messages = Vec::new();
                if let Some(system) = settings.system_message.filter(|s| !s.trim().is_empty()) {
                    messages.push(ChatMessage::new(Role::System, settings.substitute(system)));
                }
                // A trailing assistant message (Continue) is the reply's
                // prefix for servers that support prefill.
                messages.extend(request.history.iter().cloned());
                ("/chat/completions", messages_body(messages))
            }
        };
        Ok(Outgoing { path, body, shown })
    }

    /// Sends the request and streams the reply through the server's reply
    /// registry (so Stop and the metrics work as for the local engine).
    fn start_chat(
        &self,
        owner: &str,
        request_id: &str,
        request: &ChatRequest,
    ) -> Result<(ReplyStream, BuiltPrompt), ChatError> {
        let settings = PromptSettings {
            mode: request.mode,
            character: &request.character,
            user: &request.user,
            system_message: None,
            chat_instruct_command: "",
            enable_thinking: request.enable_thinking,
            tools: None,
        };
        let settings_stops = settings.stop_strings();
        let strip_names = settings.names_to_strip(request.continuation);
        let mut stops = settings_stops.clone();
        stops.extend(request.params.custom_stopping_strings.iter().cloned());
        let outgoing = self.outgoing(request)?;
        let stream = self
            .send(
                (owner, request_id),
                outgoing.path,
                outgoing.body,
                &request.params,
                stops,
            )
            .trimming(&strip_names);
        Ok((
            stream,
            BuiltPrompt {
                text: outgoing.shown,
                tokens: Vec::new(),
                dropped_messages: 0,
                stop_strings: settings_stops,
            },
        ))
    }

    /// A raw prompt to `/v1/completions`.
    fn start_raw(
        &self,
        owner: &str,
        request_id: &str,
        prompt: &str,
        params: &ValidParams,
    ) -> ReplyStream {
        let stops = params.custom_stopping_strings.clone();
        self.send(
            (owner, request_id),
            "/completions",
            json!({ "prompt": prompt }),
            params,
            stops,
        )
    }

    fn send(
        &self,
        (owner, request_id): (&str, &str),
        path: &'static str,
        mut body: Value,
        params: &ValidParams,
        stops: Vec<String>,
    ) -> ReplyStream {
        let greedy = params.is_greedy();
        // Every field named (no `..`): a new sampler does not compile until
        // it is decided here what the remote server gets for it.
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
            // text-generation-webui's and llama-server's / vLLM's names.
            "ban_eos_token": ban_eos_token,
            "ignore_eos": ban_eos_token,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        if let (Value::Object(b), Value::Object(s)) = (&mut body, sampling) {
            b.extend(s);
            if *seed >= 0 {
                b.insert("seed".into(), json!(seed));
            }
            if !stops.is_empty() {
                b.insert("stop".into(), json!(stops));
            }
            if let Some(model) = self.known_model() {
                b.insert("model".into(), json!(model));
            }
        }
        let (events, cancel, stream) = self.replies.channel(owner, request_id);
        let request = self.post(path).json(&body);
        let url = format!("{}{path}", self.base);
        tokio::spawn(async move {
            let started = Instant::now();
            let outcome = relay(request, &events, &cancel, started).await;
            let event = match outcome {
                Ok((reason, stats)) => EngineEvent::Finished { reason, stats },
                Err(reason) => EngineEvent::Failed(EngineError::Remote(format!("{url}: {reason}"))),
            };
            let _ = events.send(event);
        });
        stream
    }
}

/// Forwards the remote SSE stream as engine events until it ends, the user
/// stops it, or the requester goes away (which drops the connection, so the
/// remote server stops too).
async fn relay(
    request: reqwest::RequestBuilder,
    events: &tokio::sync::mpsc::UnboundedSender<EngineEvent>,
    cancel: &engine::Cancel,
    started: Instant,
) -> Result<(FinishReason, GenerationStats), String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        return Err(format!(
            "HTTP {status}: {}",
            text.chars().take(300).collect::<String>()
        ));
    }
    let mut body = response.bytes_stream();
    let mut buffer = Vec::new();
    let mut stats = GenerationStats::default();
    let mut first_token: Option<Instant> = None;
    let mut pieces = 0u32;
    let mut reason = FinishReason::Stop;
    let mut thinking = ThinkTags::default();
    'read: while let Some(chunk) = body.next().await {
        if let Some(why) = cancel.reason() {
            reason = why;
            break;
        }
        if events.is_closed() {
            reason = FinishReason::Cancelled;
            break;
        }
        buffer.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
        while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let Some(data) = line.trim().strip_prefix("data:").map(str::trim) else {
                continue;
            };
            if data == "[DONE]" {
                break 'read;
            }
            let Ok(value) = serde_json::from_str::<Value>(data) else {
                continue;
            };
            if let Some(error) = value.get("error") {
                return Err(error["message"]
                    .as_str()
                    .unwrap_or("the server reported an error")
                    .to_string());
            }
            let choice = &value["choices"][0];
            let answer = choice["delta"]["content"]
                .as_str()
                .or_else(|| choice["text"].as_str())
                .unwrap_or("");
            // A server that splits reasoning off (vLLM, llama-server,
            // candlelight) sends it as reasoning_content: it goes back
            // inside <think>, where the UI and our API split it again.
            let reasoning = choice["delta"]["reasoning_content"]
                .as_str()
                .or_else(|| choice["delta"]["reasoning"].as_str())
                .unwrap_or("");
            let text = thinking.wrap(reasoning, answer);
            if !text.is_empty() {
                first_token.get_or_insert_with(Instant::now);
                pieces += 1;
                let _ = events.send(EngineEvent::Text(text));
            }
            if choice["finish_reason"].as_str() == Some("length") {
                reason = FinishReason::Length;
            }
            if let Some(usage) = value.get("usage").filter(|u| !u.is_null()) {
                stats.prompt_tokens = usage["prompt_tokens"].as_u64().unwrap_or(0) as u32;
                stats.completion_tokens = usage["completion_tokens"].as_u64().unwrap_or(0) as u32;
            }
        }
    }
    if stats.completion_tokens == 0 {
        stats.completion_tokens = pieces;
    }
    if let Some(first) = first_token {
        stats.time_to_first_token_ms = first.duration_since(started).as_secs_f64() * 1000.0;
        let decode = first.elapsed().as_secs_f64();
        if decode > 0.0 && stats.completion_tokens > 1 {
            stats.decode_tokens_per_second = (stats.completion_tokens - 1) as f64 / decode;
        }
    }
    Ok((reason, stats))
}

/// The remote backend as shared state.
impl Backend for RemoteBackend {
    fn start(
        &self,
        owner: &str,
        request_id: &str,
        request: &ChatRequest,
    ) -> Result<(ReplyStream, BuiltPrompt), ChatError> {
        if request.logprobs.is_some() {
            return Err(ChatError::Engine(unsupported("log-probabilities")));
        }
        self.start_chat(owner, request_id, request)
    }

    fn start_completion(
        &self,
        owner: &str,
        request_id: &str,
        prompt: &str,
        params: ValidParams,
        options: CompletionOptions,
    ) -> Result<(ReplyStream, usize), ChatError> {
        if options.logprobs.is_some() {
            return Err(ChatError::Engine(unsupported("log-probabilities")));
        }
        if options.grammar.is_some() {
            return Err(ChatError::Engine(unsupported(
                "response_format and grammar_string",
            )));
        }
        Ok((self.start_raw(owner, request_id, prompt, &params), 0))
    }

    fn prepare(&self, _: &ChatRequest) -> Result<Prepared, ChatError> {
        Err(ChatError::Engine(unsupported(
            "the exact prompt in tokens (the remote server applies its own template)",
        )))
    }

    fn tool_format(&self, _: &ChatRequest) -> Result<ToolFormat, ChatError> {
        Ok(ToolFormat::Hermes)
    }

    fn served(&self) -> Result<ServedModel, EngineError> {
        Ok(ServedModel {
            name: self.known_model().unwrap_or_else(|| "remote model".into()),
            architecture: "remote".into(),
            context_length: 0,
            device: self.base.clone(),
            loader: Loader::Remote,
        })
    }

    fn models(&self) -> BoxFuture<'_, Result<Vec<String>, EngineError>> {
        Box::pin(self.model_ids())
    }

    fn tokenizer(&self) -> Result<Arc<TextTokenizer>, EngineError> {
        Err(unsupported("exact token counts"))
    }

    fn model_template(&self) -> Option<String> {
        None
    }
}

/// What a remote backend cannot do, said plainly.
fn unsupported(what: &str) -> EngineError {
    EngineError::Unsupported(format!(
        "{what} are not available with --backend openai: replies come from another server"
    ))
}

/// Puts a remote reply's separate reasoning back into `<think>…</think>`.
#[derive(Default)]
struct ThinkTags {
    open: bool,
}

impl ThinkTags {
    fn wrap(&mut self, reasoning: &str, answer: &str) -> String {
        let mut out = String::new();
        if !reasoning.is_empty() {
            if !self.open {
                out.push_str("<think>");
                self.open = true;
            }
            out.push_str(reasoning);
        }
        if !answer.is_empty() {
            if self.open {
                out.push_str("</think>");
                self.open = false;
            }
            out.push_str(answer);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::ThinkTags;

    #[test]
    fn separate_reasoning_is_wrapped_in_think_tags() {
        let mut t = ThinkTags::default();
        let out: String = [
            ("Let me", ""),
            (" think.", ""),
            ("", "Four."),
            ("", " Done"),
        ]
        .iter()
        .map(|(r, a)| t.wrap(r, a))
        .collect();
        assert_eq!(out, "<think>Let me think.</think>Four. Done");
        assert_eq!(ThinkTags::default().wrap("", "plain"), "plain");
    }
}
