//! What a chat completion's reply may be, from `tools`, `tool_choice`,
//! `parallel_tool_calls`, `response_format` and `grammar_string`: which
//! tools the template shows, whether calls are parsed out of the reply,
//! and the grammar sampling must follow. `required` and a named function
//! are enforced by the grammar (a call whose arguments match the
//! function's schema), not asked for politely.

use serde_json::{json, Map, Value};

use super::{
    types::{OutputFields, ResponseFormat, ToolChoice, ToolDefinition},
    ApiError,
};
use crate::tool_calls::ToolFormat;
use engine::Grammar;

/// The decisions for one request.
#[derive(Debug, Default)]
pub struct OutputPlan {
    /// Tool definitions for the chat template.
    pub tools: Vec<Value>,
    /// Parse calls out of the reply.
    pub parse_calls: bool,
    pub grammar: Option<Grammar>,
}

/// The request field a grammar came from, to name in its errors.
pub fn grammar_field(fields: &OutputFields) -> &'static str {
    match (&fields.tool_choice, &fields.grammar_string) {
        (Some(ToolChoice::Function { .. }), _) => "tool_choice",
        (Some(ToolChoice::Mode(m)), _) if m == "required" => "tool_choice",
        (_, Some(_)) => "grammar_string",
        _ => "response_format",
    }
}

/// How generated JSON is laid out: one line, OpenAI's separators. Free
/// white space lets a small model pad forever; none keeps it short.
fn compact(mut schema: Value) -> Value {
    if let Some(object) = schema.as_object_mut() {
        object.insert(
            "x-guidance".into(),
            json!({"whitespace_flexible": false, "item_separator": ", ", "key_separator": ": "}),
        );
    }
    schema
}

/// The schema of one call object of `tool` in `format`.
fn call_schema(tool: &ToolDefinition, format: ToolFormat) -> Value {
    let arguments = tool
        .function
        .parameters
        .clone()
        .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
    json!({
        "type": "object",
        "properties": {
            "name": {"const": tool.function.name},
            format.arguments_key(): arguments,
        },
        "required": ["name", format.arguments_key()],
        "additionalProperties": false,
    })
}

/// A Lark grammar for one call (or, with `parallel`, one or more) to any
/// of `tools`, framed as `format` writes calls.
fn calls_grammar(tools: &[&ToolDefinition], format: ToolFormat, parallel: bool) -> Grammar {
    let choices: Vec<Value> = tools.iter().map(|t| call_schema(t, format)).collect();
    let schema = match choices.as_slice() {
        [one] => one.clone(),
        _ => json!({ "anyOf": choices }),
    };
    let (open, close) = format.call_frame();
    let literal = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let json_call = format!("%json {}", compact(schema));
    // Mistral frames the list of calls; the others frame each call.
    let (call, separator, list_open, list_close) = match format {
        ToolFormat::Mistral => (json_call, ", ", open, close),
        ToolFormat::Llama3 => (json_call, "; ", "", ""),
        ToolFormat::Hermes | ToolFormat::Remote => (
            format!("{} {json_call} {}", literal(open), literal(close)),
            "\n",
            "",
            "",
        ),
    };
    let many = if parallel {
        format!(" ({} call)*", literal(separator))
    } else {
        String::new()
    };
    let list = |s: &str| {
        if s.is_empty() {
            String::new()
        } else {
            format!("{} ", literal(s))
        }
    };
    Grammar::Lark(format!(
        "start: {}call{many}{}\ncall: {call}\n",
        list(list_open),
        if list_close.is_empty() {
            String::new()
        } else {
            format!(" {}", literal(list_close))
        },
    ))
}

fn tool_definitions(tools: &[ToolDefinition]) -> Result<Vec<Value>, ApiError> {
    tools
        .iter()
        .enumerate()
        .map(|(i, tool)| {
            if tool.kind != "function" {
                return Err(ApiError::invalid(
                    format!("tools[{i}].type must be \"function\""),
                    Some("tools"),
                ));
            }
            if let Some(p) = &tool.function.parameters {
                if !p.is_object() {
                    return Err(ApiError::invalid(
                        format!("tools[{i}].function.parameters must be a JSON schema object"),
                        Some("tools"),
                    ));
                }
            }
            serde_json::to_value(tool).map_err(|e| ApiError::Internal(e.to_string()))
        })
        .collect()
}

/// The grammar `response_format` or `grammar_string` asks for.
pub fn format_grammar(fields: &OutputFields) -> Result<Option<Grammar>, ApiError> {
    let format = match &fields.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::JsonObject) => {
            Some(Grammar::JsonSchema(compact(json!({"type": "object"}))))
        }
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            let schema = json_schema.schema.clone().ok_or_else(|| {
                ApiError::invalid(
                    "response_format.json_schema.schema is required",
                    Some("response_format"),
                )
            })?;
            if !schema.is_object() {
                return Err(ApiError::invalid(
                    "response_format.json_schema.schema must be a JSON schema object",
                    Some("response_format"),
                ));
            }
            Some(Grammar::JsonSchema(compact(schema)))
        }
    };
    match (format, &fields.grammar_string) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "give response_format or grammar_string, not both",
            Some("grammar_string"),
        )),
        (Some(g), None) => Ok(Some(g)),
        (None, Some(gbnf)) => engine::gbnf_to_lark(gbnf)
            .map(|lark| Some(Grammar::Lark(lark)))
            .map_err(|e| ApiError::invalid(format!("grammar_string: {e}"), Some("grammar_string"))),
        (None, None) => Ok(None),
    }
}

/// The same fields for a backend that passes them on (`--backend openai`):
/// checked as [`plan`] checks them, then sent as the client wrote them
/// (OpenAI's names; the GBNF grammar also as llama-server's `grammar`),
/// for the remote server to enforce.
pub fn pass_through(fields: &OutputFields) -> Result<Map<String, Value>, ApiError> {
    plan(fields, ToolFormat::Hermes)?;
    let mut out = Map::new();
    if !fields.tools.is_empty() {
        out.insert(
            "tools".into(),
            Value::Array(tool_definitions(&fields.tools)?),
        );
    }
    if let Some(choice) = &fields.tool_choice {
        let choice = match choice {
            ToolChoice::Mode(mode) => json!(mode),
            ToolChoice::Function { function } => {
                json!({"type": "function", "function": {"name": function.name}})
            }
        };
        out.insert("tool_choice".into(), choice);
    }
    if let Some(parallel) = fields.parallel_tool_calls {
        out.insert("parallel_tool_calls".into(), json!(parallel));
    }
    if let Some(format) = &fields.response_format {
        let format = match format {
            ResponseFormat::Text => json!({"type": "text"}),
            ResponseFormat::JsonObject => json!({"type": "json_object"}),
            ResponseFormat::JsonSchema { json_schema } => {
                let mut inner = json!({
                    "name": json_schema.name.as_deref().unwrap_or("response"),
                    "schema": json_schema.schema,
                });
                if let Some(strict) = json_schema.strict {
                    inner["strict"] = json!(strict);
                }
                json!({"type": "json_schema", "json_schema": inner})
            }
        };
        out.insert("response_format".into(), format);
    }
    if let Some(gbnf) = &fields.grammar_string {
        out.insert("grammar_string".into(), json!(gbnf));
        out.insert("grammar".into(), json!(gbnf));
    }
    Ok(out)
}

/// Decides the reply's shape; `format` is how the model writes calls.
pub fn plan(fields: &OutputFields, format: ToolFormat) -> Result<OutputPlan, ApiError> {
    let tools = tool_definitions(&fields.tools)?;
    let parallel = fields.parallel_tool_calls.unwrap_or(true);
    let needs_tools = |what: &str| {
        ApiError::invalid(
            format!("tool_choice {what} needs at least one tool in `tools`"),
            Some("tool_choice"),
        )
    };
    let forced: Option<Vec<&ToolDefinition>> = match &fields.tool_choice {
        None => None,
        Some(ToolChoice::Mode(mode)) => match mode.as_str() {
            "none" => {
                return Ok(OutputPlan {
                    grammar: format_grammar(fields)?,
                    ..OutputPlan::default()
                })
            }
            "auto" => None,
            "required" if tools.is_empty() => return Err(needs_tools("\"required\"")),
            "required" => Some(fields.tools.iter().collect()),
            other => {
                return Err(ApiError::invalid(
                    format!(
                        "tool_choice must be none, auto, required or a function, not `{other}`"
                    ),
                    Some("tool_choice"),
                ))
            }
        },
        Some(ToolChoice::Function { function }) => {
            let named: Vec<&ToolDefinition> = fields
                .tools
                .iter()
                .filter(|t| t.function.name == function.name)
                .collect();
            if named.is_empty() {
                return Err(ApiError::invalid(
                    format!(
                        "tool_choice names `{}`, which is not in `tools`",
                        function.name
                    ),
                    Some("tool_choice"),
                ));
            }
            Some(named)
        }
    };
    let grammar = match &forced {
        Some(chosen) => Some(calls_grammar(chosen, format, parallel)),
        None => format_grammar(fields)?,
    };
    Ok(OutputPlan {
        parse_calls: !tools.is_empty(),
        tools,
        grammar,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(value: Value) -> OutputFields {
        serde_json::from_value(value).unwrap()
    }

    const WEATHER: &str = r#"{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}"#;

    #[test]
    fn a_named_function_is_a_grammar_of_its_call() {
        let f = fields(json!({
            "tools": [serde_json::from_str::<Value>(WEATHER).unwrap()],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "parallel_tool_calls": false,
        }));
        let plan = plan(&f, ToolFormat::Hermes).unwrap();
        assert!(plan.parse_calls);
        let Some(Grammar::Lark(lark)) = plan.grammar else {
            panic!("no grammar")
        };
        assert!(
            lark.starts_with("start: call\ncall: \"<tool_call>\\n\" %json {"),
            "{lark}"
        );
        assert!(
            lark.contains(r#""name": {"const": "get_weather"}"#)
                || lark.contains(r#""name":{"const":"get_weather"}"#),
            "{lark}"
        );
        assert!(lark.trim_end().ends_with("\"\\n</tool_call>\""), "{lark}");
    }

    #[test]
    fn bad_choices_name_the_field() {
        let e = plan(
            &fields(json!({"tool_choice": "required"})),
            ToolFormat::Hermes,
        )
        .unwrap_err();
        assert!(e.to_string().contains("needs at least one tool"), "{e}");
        let f = fields(json!({
            "tools": [serde_json::from_str::<Value>(WEATHER).unwrap()],
            "tool_choice": {"type": "function", "function": {"name": "nope"}},
        }));
        assert!(plan(&f, ToolFormat::Hermes)
            .unwrap_err()
            .to_string()
            .contains("`nope`"));
    }

    #[test]
    fn auto_parses_calls_without_a_grammar_and_none_hides_tools() {
        let tools = json!([serde_json::from_str::<Value>(WEATHER).unwrap()]);
        let p = plan(&fields(json!({"tools": tools})), ToolFormat::Hermes).unwrap();
        assert!(p.parse_calls && p.grammar.is_none() && p.tools.len() == 1);
        let p = plan(
            &fields(json!({"tools": tools, "tool_choice": "none"})),
            ToolFormat::Hermes,
        )
        .unwrap();
        assert!(!p.parse_calls && p.tools.is_empty());
    }

    #[test]
    fn response_formats_are_json_schemas() {
        let p = plan(
            &fields(json!({"response_format": {"type": "json_object"}})),
            ToolFormat::Hermes,
        )
        .unwrap();
        assert!(matches!(p.grammar, Some(Grammar::JsonSchema(ref s)) if s["type"] == "object"));
        let e = plan(
            &fields(
                json!({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}),
            ),
            ToolFormat::Hermes,
        )
        .unwrap_err();
        assert!(e.to_string().contains("schema is required"), "{e}");
    }
}
