//! A Responses request as the one internal request every dialect uses:
//! `input` (a string or items: messages, function calls and their outputs)
//! with `instructions` as the system message, function tools and
//! `tool_choice`, `text.format` as `response_format`, `reasoning.effort`.

use serde_json::Value;

use super::types::{Input, ItemContent, ResponsesRequest, Tool};
use crate::openai::{
    types::{
        CalledFunction, ChatCompletionRequest, ChatFields, Content, FunctionDefinition,
        JsonSchemaFormat, NamedFunction, OutputFields, RequestMessage, RequestToolCall,
        ResponseFormat, SamplingFields, ToolChoice, ToolDefinition,
    },
    ApiError,
};

pub fn chat_request(req: &ResponsesRequest) -> Result<ChatCompletionRequest, ApiError> {
    if req.previous_response_id.is_some() {
        return Err(ApiError::invalid(
            "previous_response_id is not supported: candlelight keeps no responses (store is \
             always false); send the whole conversation in `input`",
            Some("previous_response_id"),
        ));
    }
    Ok(ChatCompletionRequest {
        messages: messages(req)?,
        sampling: SamplingFields {
            model: req.model.clone(),
            temperature: req.temperature,
            top_p: req.top_p,
            max_tokens: req.max_output_tokens,
            stream: req.stream,
            ..SamplingFields::default()
        },
        chat: ChatFields {
            reasoning_effort: req.reasoning.as_ref().and_then(|r| r.effort.clone()),
            ..ChatFields::default()
        },
        output: OutputFields {
            tools: tools(&req.tools)?,
            tool_choice: tool_choice(req.tool_choice.as_ref())?,
            parallel_tool_calls: req.parallel_tool_calls,
            response_format: response_format(req)?,
            grammar_string: None,
        },
    })
}

fn text(role: &str, text: String) -> RequestMessage {
    RequestMessage {
        role: role.into(),
        content: Some(Content::Text(text)),
        tool_calls: None,
        tool_call_id: None,
    }
}

fn messages(req: &ResponsesRequest) -> Result<Vec<RequestMessage>, ApiError> {
    let mut out = Vec::new();
    if let Some(instructions) = &req.instructions {
        out.push(text("system", instructions.clone()));
    }
    let items = match &req.input {
        Input::Text(t) => {
            return Ok({
                out.push(text("user", t.clone()));
                out
            })
        }
        Input::Items(items) => items,
    };
    for item in items {
        match item.kind.as_deref() {
            None | Some("message") => {
                let role = match item.role.as_deref() {
                    Some("developer") | Some("system") => "system",
                    Some("assistant") => "assistant",
                    Some("user") => "user",
                    other => {
                        return Err(ApiError::invalid(
                            format!("a message's role must be user, assistant, system or developer, not {other:?}"),
                            Some("input"),
                        ))
                    }
                };
                out.push(text(role, item_text(item.content.as_ref())?));
            }
            Some("function_call") => {
                let call = RequestToolCall {
                    id: item.call_id.clone(),
                    function: CalledFunction {
                        name: item.name.clone().unwrap_or_default(),
                        arguments: item.arguments.clone(),
                    },
                };
                // Calls made together belong to one assistant turn.
                match out.last_mut() {
                    Some(last) if last.role == "assistant" && last.tool_calls.is_some() => {
                        last.tool_calls.get_or_insert_with(Vec::new).push(call)
                    }
                    _ => out.push(RequestMessage {
                        role: "assistant".into(),
                        content: Some(Content::Text(String::new())),
                        tool_calls: Some(vec![call]),
                        tool_call_id: None,
                    }),
                }
            }
            Some("function_call_output") => out.push(RequestMessage {
                role: "tool".into(),
                content: Some(Content::Text(match &item.output {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                })),
                tool_calls: None,
                tool_call_id: item.call_id.clone(),
            }),
            // Earlier reasoning is left out of the prompt, as the chat
            // templates do.
            Some("reasoning") => {}
            Some(other) => {
                return Err(ApiError::invalid(
                    format!("input items of type `{other}` are not supported"),
                    Some("input"),
                ))
            }
        }
    }
    Ok(out)
}

fn item_text(content: Option<&ItemContent>) -> Result<String, ApiError> {
    Ok(match content {
        None => String::new(),
        Some(ItemContent::Text(t)) => t.clone(),
        Some(ItemContent::Parts(parts)) => {
            let mut text = String::new();
            for p in parts {
                match p.kind.as_str() {
                    "input_text" | "output_text" | "text" => {
                        text.push_str(p.text.as_deref().unwrap_or(""))
                    }
                    "input_image" | "input_file" => {
                        return Err(ApiError::invalid(
                            "images and files are not supported: this engine runs text models only",
                            Some("input"),
                        ))
                    }
                    other => {
                        return Err(ApiError::invalid(
                            format!("content parts of type `{other}` are not supported"),
                            Some("input"),
                        ))
                    }
                }
            }
            text
        }
    })
}

fn tools(tools: &[Tool]) -> Result<Vec<ToolDefinition>, ApiError> {
    tools
        .iter()
        .map(|t| {
            if t.kind != "function" {
                return Err(ApiError::invalid(
                    format!("only function tools are supported, not `{}`", t.kind),
                    Some("tools"),
                ));
            }
            Ok(ToolDefinition {
                kind: "function".into(),
                function: FunctionDefinition {
                    name: t.name.clone().ok_or_else(|| {
                        ApiError::invalid("a function tool needs a name", Some("tools"))
                    })?,
                    description: t.description.clone(),
                    parameters: t.parameters.clone(),
                    strict: t.strict,
                },
            })
        })
        .collect()
}

fn tool_choice(choice: Option<&Value>) -> Result<Option<ToolChoice>, ApiError> {
    Ok(match choice {
        None => None,
        Some(Value::String(mode)) => Some(ToolChoice::Mode(mode.clone())),
        Some(Value::Object(o)) if o.get("type").and_then(Value::as_str) == Some("function") => {
            let name = o.get("name").and_then(Value::as_str).ok_or_else(|| {
                ApiError::invalid(
                    "tool_choice of type function needs a name",
                    Some("tool_choice"),
                )
            })?;
            Some(ToolChoice::Function {
                function: NamedFunction { name: name.into() },
            })
        }
        Some(other) => {
            return Err(ApiError::invalid(
                format!("tool_choice must be auto, none, required or a function, not {other}"),
                Some("tool_choice"),
            ))
        }
    })
}

/// `text.format`: text, json_object, or json_schema (name, schema, strict).
fn response_format(req: &ResponsesRequest) -> Result<Option<ResponseFormat>, ApiError> {
    let Some(format) = req.text.as_ref().and_then(|t| t.format.as_ref()) else {
        return Ok(None);
    };
    let bad = |m: &str| ApiError::invalid(format!("text.format: {m}"), Some("text"));
    Ok(Some(match format.get("type").and_then(Value::as_str) {
        Some("text") => ResponseFormat::Text,
        Some("json_object") => ResponseFormat::JsonObject,
        Some("json_schema") => ResponseFormat::JsonSchema {
            json_schema: JsonSchemaFormat {
                name: format
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                schema: Some(
                    format
                        .get("schema")
                        .cloned()
                        .ok_or_else(|| bad("json_schema needs a schema"))?,
                ),
                strict: format.get("strict").and_then(Value::as_bool),
            },
        },
        other => {
            return Err(bad(&format!(
                "type must be text, json_object or json_schema, not {other:?}"
            )))
        }
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn convert(body: Value) -> Result<ChatCompletionRequest, ApiError> {
        chat_request(&serde_json::from_value(body).unwrap())
    }

    fn text_of(m: &RequestMessage) -> &str {
        match &m.content {
            Some(Content::Text(t)) => t,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn calls_made_together_are_one_turn_and_outputs_keep_their_ids() {
        let r = convert(json!({
            "instructions": "Be brief.",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris and Rome?"}]},
                {"type": "reasoning", "summary": []},
                {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
                {"type": "function_call", "call_id": "c2", "name": "get_weather", "arguments": "{\"city\":\"Rome\"}"},
                {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
                {"type": "function_call_output", "call_id": "c2", "output": {"sky": "rain"}},
            ],
            "reasoning": {"effort": "minimal"},
        }))
        .unwrap();
        let roles: Vec<&str> = r.messages.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "tool", "tool"]);
        let calls = r.messages[2].tool_calls.as_ref().unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[1].id.as_deref(), Some("c2"));
        assert_eq!(r.messages[4].tool_call_id.as_deref(), Some("c2"));
        assert_eq!(text_of(&r.messages[3]), "sunny");
        assert_eq!(text_of(&r.messages[4]), r#"{"sky":"rain"}"#);
        assert_eq!(r.chat.reasoning_effort.as_deref(), Some("minimal"));
    }

    #[test]
    fn stored_state_and_foreign_tools_are_refused_by_name() {
        let previous =
            convert(json!({"input": "hi", "previous_response_id": "resp_1"})).unwrap_err();
        assert!(
            previous.to_string().contains("previous_response_id"),
            "{previous}"
        );
        let search =
            convert(json!({"input": "hi", "tools": [{"type": "web_search"}]})).unwrap_err();
        assert!(
            search.to_string().contains("only function tools"),
            "{search}"
        );
        let file = convert(json!({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]}))
            .unwrap_err();
        assert!(file.to_string().contains("text models only"), "{file}");
    }

    #[test]
    fn text_format_and_tool_choice_map_to_chat_completions() {
        let r = convert(json!({
            "input": "List two numbers.",
            "text": {"format": {"type": "json_schema", "name": "pair", "schema": {"type": "array"}, "strict": true}},
            "tool_choice": {"type": "function", "name": "get_weather"},
            "max_output_tokens": 32,
        }))
        .unwrap();
        assert!(matches!(
            r.output.response_format,
            Some(ResponseFormat::JsonSchema { ref json_schema }) if json_schema.name.as_deref() == Some("pair")
        ));
        assert!(matches!(
            r.output.tool_choice,
            Some(ToolChoice::Function { ref function }) if function.name == "get_weather"
        ));
        assert_eq!(r.sampling.max_tokens, Some(32));
        let bad = convert(json!({"input": "x", "text": {"format": {"type": "yaml"}}})).unwrap_err();
        assert!(bad.to_string().contains("text.format"), "{bad}");
    }
}
