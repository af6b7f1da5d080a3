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
