//! An Anthropic request as the one internal request every dialect uses
//! (the OpenAI-shaped [`ChatCompletionRequest`]): system and messages,
//! `tool_use` / `tool_result` blocks as assistant calls and tool
//! messages, tools and `tool_choice`, sampling, `thinking`, `output_config.format`.

use serde_json::Value;

use super::types::{
    Block, CountTokensRequest, Message, MessageContent, MessagesRequest, OutputFormat, SystemField,
    Thinking, Tool, ToolChoice, ToolResultContent,
};
use crate::openai::{
    types::{
        CalledFunction, ChatCompletionRequest, ChatFields, Content, FunctionDefinition,
        JsonSchemaFormat, NamedFunction, OutputFields, RequestMessage, RequestToolCall,
        ResponseFormat, SamplingFields, StopField, TemplateKwargs, ToolChoice as OpenAiToolChoice,
        ToolDefinition,
    },
    ApiError,
};

pub fn chat_request(req: &MessagesRequest) -> Result<ChatCompletionRequest, ApiError> {
    let (parallel, tool_choice) = match &req.tool_choice {
        None => (None, None),
        Some(ToolChoice::Auto {
            disable_parallel_tool_use,
        }) => (
            Some(!disable_parallel_tool_use),
            Some(OpenAiToolChoice::Mode("auto".into())),
        ),
        Some(ToolChoice::Any {
            disable_parallel_tool_use,
        }) => (
            Some(!disable_parallel_tool_use),
            Some(OpenAiToolChoice::Mode("required".into())),
        ),
        Some(ToolChoice::Tool {
            name,
            disable_parallel_tool_use,
        }) => (
            Some(!disable_parallel_tool_use),
            Some(OpenAiToolChoice::Function {
                function: NamedFunction { name: name.clone() },
            }),
        ),
        Some(ToolChoice::None {}) => (None, Some(OpenAiToolChoice::Mode("none".into()))),
    };
    Ok(ChatCompletionRequest {
        messages: messages(req.system.as_ref(), &req.messages)?,
        sampling: SamplingFields {
            model: req.model.clone(),
            temperature: req.temperature,
            top_p: req.top_p,
            top_k: req.top_k,
            max_tokens: Some(req.max_tokens),
            // Anthropic sets no limit on stop sequences (OpenAI's `stop`
            // takes four).
            custom_stopping_strings: req.stop_sequences.clone().map(StopField::Many),
            stream: req.stream,
            ..SamplingFields::default()
        },
        chat: chat_fields(req.thinking.as_ref()),
        output: OutputFields {
            tools: tools(&req.tools),
            tool_choice,
            parallel_tool_calls: parallel,
            response_format: response_format(req),
            ..OutputFields::default()
        },
    })
}

/// The request `count_tokens` measures (its prompt is what counts).
pub fn count_request(req: &CountTokensRequest) -> Result<ChatCompletionRequest, ApiError> {
    Ok(ChatCompletionRequest {
        messages: messages(req.system.as_ref(), &req.messages)?,
        sampling: SamplingFields {
            model: req.model.clone(),
            max_tokens: Some(1),
            ..SamplingFields::default()
        },
        chat: chat_fields(req.thinking.as_ref()),
        output: OutputFields {
            tools: tools(&req.tools),
            ..OutputFields::default()
        },
    })
}

/// `output_config.format` as the Chat Completions `response_format` the
/// grammar enforces.
fn response_format(req: &MessagesRequest) -> Option<ResponseFormat> {
    let OutputFormat::JsonSchema { schema } = req.output_config.as_ref()?.format.as_ref()?;
    Some(ResponseFormat::JsonSchema {
        json_schema: JsonSchemaFormat {
            name: None,
            schema: Some(schema.clone()),
            strict: Some(true),
        },
    })
}

fn chat_fields(thinking: Option<&Thinking>) -> ChatFields {
    ChatFields {
        chat_template_kwargs: thinking.map(|t| TemplateKwargs {
            enable_thinking: Some(matches!(t, Thinking::Enabled { .. })),
        }),
        ..ChatFields::default()
    }
}

fn tools(tools: &[Tool]) -> Vec<ToolDefinition> {
    tools
        .iter()
        .map(|t| ToolDefinition {
            kind: "function".into(),
            function: FunctionDefinition {
                name: t.name.clone(),
                description: t.description.clone(),
                parameters: t.input_schema.clone(),
                strict: None,
            },
        })
        .collect()
}

fn text_message(role: &str, text: String) -> RequestMessage {
    RequestMessage {
        role: role.into(),
        content: Some(Content::Text(text)),
        tool_calls: None,
        tool_call_id: None,
    }
}

fn refused(what: &str) -> ApiError {
    ApiError::invalid(
        format!("{what} are not supported: this engine runs text models only"),
        Some("messages"),
    )
}

/// The text of blocks that may only hold text (a system prompt, a tool's
/// result).
fn plain_text(blocks: &[Block]) -> Result<String, ApiError> {
    let mut text = String::new();
    for block in blocks {
        match block {
            Block::Text { text: t } => text.push_str(t),
            Block::Image {} => return Err(refused("images")),
            Block::Document {} => return Err(refused("documents")),
            _ => {
                return Err(ApiError::invalid(
                    "only text blocks may appear here",
                    Some("messages"),
                ))
            }
        }
    }
    Ok(text)
}

fn messages(
    system: Option<&SystemField>,
    messages: &[Message],
) -> Result<Vec<RequestMessage>, ApiError> {
    let mut out = Vec::new();
    match system {
        Some(SystemField::Text(t)) => out.push(text_message("system", t.clone())),
        Some(SystemField::Blocks(b)) => out.push(text_message("system", plain_text(b)?)),
        None => {}
    }
    for message in messages {
        let blocks = match &message.content {
            MessageContent::Text(t) => vec![Block::Text { text: t.clone() }],
            MessageContent::Blocks(b) => b.clone(),
        };
        match message.role.as_str() {
            "user" => {
                let mut text = String::new();
                for block in &blocks {
                    match block {
                        Block::ToolResult {
                            tool_use_id,
                            content,
                            is_error,
                        } => {
                            let result = match content {
                                Some(ToolResultContent::Text(t)) => t.clone(),
                                Some(ToolResultContent::Blocks(b)) => plain_text(b)?,
                                None => String::new(),
                            };
                            let result = if *is_error {
                                format!("Error: {result}")
                            } else {
                                result
                            };
                            out.push(RequestMessage {
                                role: "tool".into(),
                                content: Some(Content::Text(result)),
                                tool_calls: None,
                                tool_call_id: Some(tool_use_id.clone()),
                            });
                        }
                        Block::Text { text: t } => text.push_str(t),
                        Block::Image {} => return Err(refused("images")),
                        Block::Document {} => return Err(refused("documents")),
                        _ => {
                            return Err(ApiError::invalid(
                                "a user message holds text and tool_result blocks",
                                Some("messages"),
                            ))
                        }
                    }
                }
                if !text.is_empty() {
                    out.push(text_message("user", text));
                }
            }
            "assistant" => {
                let mut text = String::new();
                let mut calls = Vec::new();
                for block in &blocks {
                    match block {
                        Block::Text { text: t } => text.push_str(t),
                        Block::ToolUse { id, name, input } => calls.push(RequestToolCall {
                            id: Some(id.clone()),
                            function: CalledFunction {
                                name: name.clone(),
                                arguments: Some(arguments(input)),
                            },
                        }),
                        // Earlier reasoning is left out of the prompt, as
                        // the chat templates do.
                        Block::Thinking {} | Block::RedactedThinking {} => {}
                        _ => {
                            return Err(ApiError::invalid(
                                "an assistant message holds text, thinking and tool_use blocks",
                                Some("messages"),
                            ))
                        }
                    }
                }
                out.push(RequestMessage {
                    role: "assistant".into(),
                    content: Some(Content::Text(text)),
                    tool_calls: (!calls.is_empty()).then_some(calls),
                    tool_call_id: None,
                });
            }
            other => {
                return Err(ApiError::invalid(
                    format!("role must be user or assistant, not `{other}`"),
                    Some("messages"),
                ))
            }
        }
    }
    Ok(out)
}

fn arguments(input: &Value) -> String {
    match input {
        Value::Null => "{}".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn convert(body: Value) -> Result<ChatCompletionRequest, ApiError> {
        chat_request(&serde_json::from_value(body).unwrap())
    }

    fn base(extra: Value) -> Value {
        let mut body = json!({
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "Weather in Paris?"}],
        });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    }

    fn text_of(m: &RequestMessage) -> &str {
        match &m.content {
            Some(Content::Text(t)) => t,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_tool_choice_becomes_its_chat_completions_form() {
        let choice = |c: Value| convert(base(json!({"tool_choice": c}))).unwrap().output;
        let auto = choice(json!({"type": "auto"}));
        assert!(matches!(auto.tool_choice, Some(OpenAiToolChoice::Mode(ref m)) if m == "auto"));
        assert_eq!(auto.parallel_tool_calls, Some(true));
        let any = choice(json!({"type": "any", "disable_parallel_tool_use": true}));
        assert!(matches!(any.tool_choice, Some(OpenAiToolChoice::Mode(ref m)) if m == "required"));
        assert_eq!(any.parallel_tool_calls, Some(false));
        let named = choice(json!({"type": "tool", "name": "get_weather"}));
        assert!(matches!(
            named.tool_choice,
            Some(OpenAiToolChoice::Function { ref function }) if function.name == "get_weather"
        ));
        let none = choice(json!({"type": "none"}));
        assert!(matches!(none.tool_choice, Some(OpenAiToolChoice::Mode(ref m)) if m == "none"));
    }

    #[test]
    fn tool_use_and_tool_result_blocks_become_calls_and_tool_messages() {
        let r = convert(json!({
            "max_tokens": 64,
            "system": [{"type": "text", "text": "Be brief."}],
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "look it up", "signature": "x"},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny", "is_error": false},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "timeout"}], "is_error": true},
                ]},
            ],
        }))
        .unwrap();
        let roles: Vec<&str> = r.messages.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "tool", "tool"]);
        assert_eq!(text_of(&r.messages[0]), "Be brief.");
        // Earlier thinking is left out of the prompt; the call keeps its id.
        assert_eq!(text_of(&r.messages[2]), "");
        let calls = r.messages[2].tool_calls.as_ref().unwrap();
        assert_eq!(calls[0].id.as_deref(), Some("toolu_1"));
        assert_eq!(
            calls[0].function.arguments.as_deref(),
            Some(r#"{"city":"Paris"}"#)
        );
        assert_eq!(r.messages[3].tool_call_id.as_deref(), Some("toolu_1"));
        assert_eq!(text_of(&r.messages[3]), "sunny");
        assert_eq!(text_of(&r.messages[4]), "Error: timeout");
    }

    #[test]
    fn sampling_stop_sequences_and_thinking_are_carried() {
        let r = convert(base(json!({
            "temperature": 0.3, "top_k": 7, "stop_sequences": ["a", "b", "c", "d", "e"],
            "thinking": {"type": "disabled"},
        })))
        .unwrap();
        assert_eq!(r.sampling.temperature, Some(0.3));
        assert_eq!(r.sampling.top_k, Some(7));
        assert_eq!(r.sampling.max_tokens, Some(64));
        assert!(
            matches!(r.sampling.custom_stopping_strings, Some(StopField::Many(ref s)) if s.len() == 5)
        );
        let kwargs = r.chat.chat_template_kwargs.unwrap();
        assert_eq!(kwargs.enable_thinking, Some(false));
        let on = convert(base(
            json!({"thinking": {"type": "enabled", "budget_tokens": 1024}}),
        ))
        .unwrap();
        assert_eq!(
            on.chat.chat_template_kwargs.unwrap().enable_thinking,
            Some(true)
        );
    }

    #[test]
    fn images_and_unknown_roles_are_refused_by_name() {
        let image = convert(base(json!({"messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}
        ]}]})))
        .unwrap_err();
        assert!(image.to_string().contains("images"), "{image}");
        let role = convert(base(
            json!({"messages": [{"role": "system", "content": "x"}]}),
        ))
        .unwrap_err();
        assert!(
            role.to_string().contains("role must be user or assistant"),
            "{role}"
        );
    }
}
