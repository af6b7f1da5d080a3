//! A remote server's streamed chunks as engine events: text, reasoning put
//! back inside `<think>`, tool calls written the way the API parses them
//! (Hermes' `<tool_call>` tags, the format [`super::RemoteBackend`]
//! reports), log-probabilities, usage and the finish reason. Everything
//! above the backend then treats a remote reply as a local one.

use serde_json::{json, Value};

use engine::{EngineEvent, FinishReason, TokenLogprob, TokenLogprobs};

/// How a remote server's reply went wrong.
#[derive(Debug, PartialEq)]
pub enum Failure {
    /// It refused the request (4xx, or an `invalid_request_error` in the
    /// stream), in its words.
    Refused(String),
    /// Unreachable, 5xx, or a broken stream.
    Failed(String),
}

/// What a whole stream said besides its text.
#[derive(Debug, Default, PartialEq)]
pub struct Ending {
    pub reason: Option<FinishReason>,
    pub prompt_tokens: u32,
    /// Prompt tokens the server's cache gave (OpenAI's
    /// `usage.prompt_tokens_details.cached_tokens`, llama-server's
    /// `timings.cache_n`).
    pub cached_tokens: u32,
    pub completion_tokens: u32,
}

/// Decodes one reply's chunks in order.
#[derive(Default)]
pub struct Decoder {
    thinking: ThinkTags,
    calls: Vec<CallParts>,
    ending: Ending,
}

/// One tool call as its deltas arrive: the name first, the arguments in
/// pieces.
#[derive(Default)]
struct CallParts {
    name: String,
    arguments: String,
}

impl Decoder {
    /// The events one chunk (`choices[0]` and `usage`) carries, or the
    /// error it reports.
    pub fn chunk(&mut self, value: &Value) -> Result<Vec<EngineEvent>, Failure> {
        if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
            let message = error["message"]
                .as_str()
                .or_else(|| error.as_str())
                .unwrap_or("the server reported an error")
                .to_string();
            return Err(match error["type"].as_str() {
                Some("invalid_request_error") => Failure::Refused(message),
                _ => Failure::Failed(message),
            });
        }
        if let Some(usage) = value.get("usage").filter(|u| !u.is_null()) {
            self.ending.prompt_tokens = count(&usage["prompt_tokens"]);
            self.ending.completion_tokens = count(&usage["completion_tokens"]);
            let cached = &usage["prompt_tokens_details"]["cached_tokens"];
            if cached.is_u64() {
                self.ending.cached_tokens = count(cached);
            }
        }
        if value["timings"]["cache_n"].is_u64() {
            self.ending.cached_tokens = count(&value["timings"]["cache_n"]);
        }
        let choice = &value["choices"][0];
        let mut events = logprobs(&choice["logprobs"]);
        let delta = &choice["delta"];
        let answer = delta["content"]
            .as_str()
            .or_else(|| choice["text"].as_str())
            .unwrap_or("");
        // A server that splits reasoning off (vLLM, llama-server,
        // candlelight) sends it as reasoning_content: it goes back inside
        // <think>, where the UI and our API split it again.
        let reasoning = delta["reasoning_content"]
            .as_str()
            .or_else(|| delta["reasoning"].as_str())
            .unwrap_or("");
        let text = self.thinking.wrap(reasoning, answer);
        if !text.is_empty() {
            events.push(EngineEvent::Text(text));
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            self.call_delta(call);
        }
        match choice["finish_reason"].as_str() {
            Some("length") => self.ending.reason = Some(FinishReason::Length),
            Some(_) => self.ending.reason = Some(FinishReason::Stop),
            None => {}
        }
        Ok(events)
    }

    fn call_delta(&mut self, call: &Value) {
        let index = call["index"].as_u64().unwrap_or(0) as usize;
        // An index beyond any sensible number of calls is a broken stream,
        // not a reason to allocate.
        if index >= 128 {
            return;
        }
        if self.calls.len() <= index {
            self.calls.resize_with(index + 1, CallParts::default);
        }
        let parts = &mut self.calls[index];
        if let Some(name) = call["function"]["name"].as_str() {
            parts.name.push_str(name);
        }
        match &call["function"]["arguments"] {
            Value::String(piece) => parts.arguments.push_str(piece),
            // Some servers send the arguments as an object.
            object @ Value::Object(_) => parts.arguments.push_str(&object.to_string()),
            _ => {}
        }
    }

    /// The text still owed at the end (calls, a closing tag) and what the
    /// stream said about itself.
    pub fn finish(mut self) -> (Option<String>, Ending) {
        let mut text = self.thinking.close();
        for call in self.calls.drain(..).filter(|c| !c.name.is_empty()) {
            let arguments = if call.arguments.trim().is_empty() {
                json!({})
            } else {
                // Arguments that are not JSON stay a string: the parser
                // then keeps the call as text rather than invent one.
                serde_json::from_str(&call.arguments).unwrap_or(Value::String(call.arguments))
            };
            let object = json!({"name": call.name, "arguments": arguments});
            text.push_str(&format!("<tool_call>\n{object}\n</tool_call>"));
        }
        ((!text.is_empty()).then_some(text), self.ending)
    }
}

fn count(value: &Value) -> u32 {
    value.as_u64().unwrap_or(0).min(u32::MAX as u64) as u32
}

/// Log-probabilities in either of OpenAI's shapes: chat's `content`
/// entries, or completions' parallel `tokens` / `token_logprobs` /
/// `top_logprobs` lists. Remote token ids are unknown (0).
fn logprobs(value: &Value) -> Vec<EngineEvent> {
    let entry = |text: &str, logprob: &Value| TokenLogprob {
        id: 0,
        text: text.to_string(),
        logprob: logprob.as_f64().unwrap_or(f64::NEG_INFINITY) as f32,
    };
    if let Some(content) = value["content"].as_array() {
        return content
            .iter()
            .map(|e| {
                EngineEvent::Logprobs(TokenLogprobs {
                    chosen: entry(e["token"].as_str().unwrap_or(""), &e["logprob"]),
                    top: e["top_logprobs"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|t| entry(t["token"].as_str().unwrap_or(""), &t["logprob"]))
                        .collect(),
                })
            })
            .collect();
    }
    let Some(tokens) = value["tokens"].as_array() else {
        return Vec::new();
    };
    tokens
        .iter()
        .enumerate()
        .map(|(i, token)| {
            let top = value["top_logprobs"][i]
                .as_object()
                .map(|alternatives| {
                    alternatives
                        .iter()
                        .map(|(text, logprob)| entry(text, logprob))
                        .collect()
                })
                .unwrap_or_default();
            EngineEvent::Logprobs(TokenLogprobs {
                chosen: entry(token.as_str().unwrap_or(""), &value["token_logprobs"][i]),
                top,
            })
        })
        .collect()
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
            out.push_str(&self.close());
            out.push_str(answer);
        }
        out
    }

    fn close(&mut self) -> String {
        if std::mem::take(&mut self.open) {
            "</think>".into()
        } else {
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(decoder: &mut Decoder, chunks: &[Value]) -> String {
        chunks
            .iter()
            .flat_map(|c| decoder.chunk(c).unwrap())
            .filter_map(|e| match e {
                EngineEvent::Text(t) => Some(t),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn separate_reasoning_is_wrapped_in_think_tags() {
        let mut d = Decoder::default();
        let delta = |r: &str, a: &str| json!({"choices": [{"delta": {"reasoning_content": r, "content": a}}]});
        let out = texts(
            &mut d,
            &[
                delta("Let me", ""),
                delta(" think.", ""),
                delta("", "Four."),
                delta("", " Done"),
            ],
        );
        assert_eq!(out, "<think>Let me think.</think>Four. Done");
        // Reasoning that never reached an answer is closed at the end.
        let mut d = Decoder::default();
        assert_eq!(texts(&mut d, &[delta("Hmm", "")]), "<think>Hmm");
        assert_eq!(d.finish().0.as_deref(), Some("</think>"));
    }

    #[test]
    fn streamed_tool_calls_come_back_as_tagged_calls() {
        let mut d = Decoder::default();
        let call = |index: u64, name: Option<&str>, args: &str| {
            let mut function = json!({"arguments": args});
            if let Some(n) = name {
                function["name"] = json!(n);
            }
            json!({"choices": [{"delta": {"tool_calls": [{"index": index, "function": function}]}}]})
        };
        for chunk in [
            call(0, Some("get_weather"), ""),
            call(0, None, "{\"city\": "),
            call(0, None, "\"Paris\"}"),
            call(1, Some("get_time"), ""),
            json!({"choices": [{"delta": {}, "finish_reason": "tool_calls"}],
                   "usage": {"prompt_tokens": 50, "completion_tokens": 20,
                             "prompt_tokens_details": {"cached_tokens": 30}}}),
        ] {
            assert!(d.chunk(&chunk).unwrap().is_empty());
        }
        let (text, ending) = d.finish();
        let calls: Vec<Value> = text
            .unwrap()
            .split("<tool_call>")
            .skip(1)
            .map(|c| serde_json::from_str(c.trim_end_matches("</tool_call>")).unwrap())
            .collect();
        assert_eq!(
            calls,
            [
                json!({"name": "get_weather", "arguments": {"city": "Paris"}}),
                json!({"name": "get_time", "arguments": {}})
            ]
        );
        assert_eq!(
            ending,
            Ending {
                reason: Some(FinishReason::Stop),
                prompt_tokens: 50,
                cached_tokens: 30,
                completion_tokens: 20
            }
        );
    }

    /// llama-server reports its cache in `timings`, beside OpenAI's usage.
    #[test]
    fn llama_server_s_cached_tokens_are_read() {
        let mut d = Decoder::default();
        let last = json!({"choices": [{"delta": {}, "finish_reason": "stop"}],
                          "usage": {"prompt_tokens": 40, "completion_tokens": 3},
                          "timings": {"cache_n": 36, "prompt_n": 4}});
        d.chunk(&last).unwrap();
        let (_, ending) = d.finish();
        assert_eq!((ending.prompt_tokens, ending.cached_tokens), (40, 36));
    }

    #[test]
    fn both_logprob_shapes_become_events_before_the_text() {
        let mut d = Decoder::default();
        let chat = json!({"choices": [{"delta": {"content": "Hi"}, "logprobs": {"content": [
            {"token": "Hi", "logprob": -0.5, "top_logprobs": [{"token": "Hi", "logprob": -0.5}, {"token": "Yo", "logprob": -1.5}]}
        ]}}]});
        let events = d.chunk(&chat).unwrap();
        assert!(
            matches!(&events[..], [EngineEvent::Logprobs(l), EngineEvent::Text(t)]
                if l.chosen.text == "Hi" && l.chosen.logprob == -0.5 && l.top.len() == 2 && l.top[1].text == "Yo" && t == "Hi")
        );
        let completion = json!({"choices": [{"text": " Paris", "logprobs": {
            "tokens": [" Par", "is"], "token_logprobs": [-0.25, -0.125],
            "top_logprobs": [{" Par": -0.25}, {"is": -0.125}]}, "finish_reason": "length"}]});
        let events = d.chunk(&completion).unwrap();
        assert_eq!(events.len(), 3);
        assert!(
            matches!(&events[1], EngineEvent::Logprobs(l) if l.chosen.text == "is" && l.chosen.logprob == -0.125 && l.top.len() == 1)
        );
        assert_eq!(d.finish().1.reason, Some(FinishReason::Length));
    }

    #[test]
    fn an_error_chunk_is_an_error() {
        let mut d = Decoder::default();
        let err = d.chunk(&json!({"error": {"message": "interrupted"}}));
        assert_eq!(err.unwrap_err(), Failure::Failed("interrupted".into()));
        let err =
            d.chunk(&json!({"error": {"message": "bad schema", "type": "invalid_request_error"}}));
        assert_eq!(err.unwrap_err(), Failure::Refused("bad schema".into()));
    }
}
