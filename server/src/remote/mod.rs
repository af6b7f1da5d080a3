//! `--backend openai --backend-url URL`: generation by any OpenAI-compatible
//! server (vLLM, TGI, llama-server, another candlelight) instead of the
//! in-process engine, behind the same UI, characters, modes and history.
//! What the API's clients ask for passes through (tools, `tool_choice`,
//! structured output, log-probabilities); what the remote server refuses
//! comes back as its own message.

mod decode;
mod outgoing;

use std::{
    sync::{Arc, Mutex},
    time::Instant,
};

use domain::ValidParams;
use futures::StreamExt;
use serde_json::{json, Map, Value};

use engine::{EngineError, EngineEvent, FinishReason, GenerationStats, TextTokenizer};

use crate::{
    chat::{
        Backend, BoxFuture, ChatError, ChatRequest, CompletionOptions, Loader, Prepared,
        ServedModel,
    },
    prompt::{BuiltPrompt, PromptSettings},
    replies::{Replies, ReplyStream},
    tool_calls::ToolFormat,
};
use decode::{Decoder, Failure};

pub struct RemoteBackend {
    /// Where its replies are registered (Stop, the metrics).
    replies: Arc<Replies>,
    client: reqwest::Client,
    /// Base URL ending in `/v1`.
    base: String,
    key: Option<String>,
    model: Mutex<Option<String>>,
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
        let outgoing = outgoing::chat(request)?;
        let stream = self
            .send(
                (owner, request_id),
                outgoing.path,
                outgoing.body,
                &request.params,
                &stops,
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

    fn send(
        &self,
        (owner, request_id): (&str, &str),
        path: &'static str,
        mut body: Value,
        params: &ValidParams,
        stops: &[String],
    ) -> ReplyStream {
        outgoing::add(
            &mut body,
            outgoing::sampling(params, stops, self.known_model()),
        );
        let (events, cancel, stream) = self.replies.channel(owner, request_id);
        let request = self.post(path).json(&body);
        let url = format!("{}{path}", self.base);
        tokio::spawn(async move {
            let started = Instant::now();
            let event = match relay(request, &events, &cancel, started).await {
                Ok((reason, stats)) => EngineEvent::Finished { reason, stats },
                Err(Failure::Refused(message)) => {
                    EngineEvent::Failed(EngineError::RemoteRefused(message))
                }
                Err(Failure::Failed(reason)) => {
                    EngineEvent::Failed(EngineError::Remote(format!("{url}: {reason}")))
                }
            };
            let _ = events.send(event);
        });
        stream
    }
}

/// The message a refusing server gave: OpenAI's and Anthropic's
/// `error.message`, a bare string `error`, or the body's start.
fn refusal(status: reqwest::StatusCode, body: &str) -> String {
    let message = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        v["error"]["message"]
            .as_str()
            .or_else(|| v["error"].as_str())
            .or_else(|| v["message"].as_str())
            .map(str::to_string)
    });
    let message = message.unwrap_or_else(|| body.chars().take(300).collect());
    format!("HTTP {}: {message}", status.as_u16())
}

/// Forwards the remote SSE stream as engine events until it ends, the user
/// stops it, or the requester goes away (which drops the connection, so the
/// remote server stops too).
async fn relay(
    request: reqwest::RequestBuilder,
    events: &tokio::sync::mpsc::UnboundedSender<EngineEvent>,
    cancel: &engine::Cancel,
    started: Instant,
) -> Result<(FinishReason, GenerationStats), Failure> {
    let failed = |e: reqwest::Error| Failure::Failed(e.to_string());
    let response = request.send().await.map_err(failed)?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        let message = refusal(status, &text);
        // A wrong backend key is the operator's problem, not the client's.
        return Err(
            if status.is_client_error() && status != 401 && status != 403 {
                Failure::Refused(message)
            } else {
                Failure::Failed(message)
            },
        );
    }
    let mut body = response.bytes_stream();
    let mut buffer = Vec::new();
    let mut decoder = Decoder::default();
    let mut first_token: Option<Instant> = None;
    let mut pieces = 0u32;
    let mut cancelled = None;
    'read: while let Some(chunk) = body.next().await {
        if let Some(why) = cancel.reason() {
            cancelled = Some(why);
            break;
        }
        if events.is_closed() {
            cancelled = Some(FinishReason::Cancelled);
            break;
        }
        buffer.extend_from_slice(&chunk.map_err(failed)?);
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
            for event in decoder.chunk(&value)? {
                if matches!(event, EngineEvent::Text(_)) {
                    first_token.get_or_insert_with(Instant::now);
                    pieces += 1;
                }
                let _ = events.send(event);
            }
        }
    }
    let (rest, ending) = decoder.finish();
    if let Some(text) = rest {
        first_token.get_or_insert_with(Instant::now);
        let _ = events.send(EngineEvent::Text(text));
    }
    let mut stats = GenerationStats {
        prompt_tokens: ending.prompt_tokens,
        cached_tokens: ending.cached_tokens,
        completion_tokens: ending.completion_tokens,
        ..GenerationStats::default()
    };
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
    let reason = cancelled.or(ending.reason).unwrap_or(FinishReason::Stop);
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
        if options.grammar.is_some() {
            return Err(ChatError::InvalidParameter {
                message: "a compiled grammar cannot be sent to a remote backend".into(),
                param: "grammar_string",
            });
        }
        let mut body = json!({ "prompt": prompt });
        if let Some(n) = options.logprobs {
            outgoing::add(&mut body, Map::from_iter([("logprobs".into(), json!(n))]));
        }
        outgoing::add(&mut body, options.pass_through);
        let stops = params.custom_stopping_strings.clone();
        let stream = self.send((owner, request_id), "/completions", body, &params, &stops);
        Ok((stream, 0))
    }

    fn prepare(&self, _: &ChatRequest) -> Result<Prepared, ChatError> {
        Err(ChatError::Engine(unsupported(
            "the exact prompt in tokens (the remote server applies its own template)",
        )))
    }

    /// The format [`decode`] writes the remote server's calls in.
    fn tool_format(&self, _: &ChatRequest) -> Result<ToolFormat, ChatError> {
        Ok(ToolFormat::Remote)
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

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn a_refusal_says_what_the_server_said() {
        let status = reqwest::StatusCode::BAD_REQUEST;
        let openai =
            r#"{"error": {"message": "tools are not supported", "type": "invalid_request_error"}}"#;
        assert_eq!(refusal(status, openai), "HTTP 400: tools are not supported");
        assert_eq!(
            refusal(status, r#"{"error": "bad grammar"}"#),
            "HTTP 400: bad grammar"
        );
        assert_eq!(refusal(status, "plain words"), "HTTP 400: plain words");
    }
}
