//! Tool calls in a model's reply: each model family writes them its own
//! way, and the chat template says which (it is what taught the model).
//! One streaming parser per format turns reply text into text and calls;
//! a call that does not parse is given back as text, never lost.
//!
//! - [`hermes`]: Qwen 2.5/3, Hermes and most others,
//!   `<tool_call>{"name": …, "arguments": {…}}</tool_call>`.
//! - [`llama3`]: Llama 3.1+, a reply that is one JSON object
//!   `{"name": …, "parameters": {…}}` (after `<|python_tag|>` or not).
//! - [`mistral`]: `[TOOL_CALLS]` then a JSON list of calls (or, in newer
//!   templates, `name[ARGS]{…}`).
//! - [`lenient`]: a remote server's reply, and the Chat tab's reading of
//!   a Hermes-format model: tags, one bare object, or one object in a
//!   Markdown code fence.

mod hermes;
mod lenient;
mod llama3;
mod mistral;
mod whole;

use serde_json::Value;

/// One call the model made: the function's name and its arguments as a
/// JSON text (OpenAI sends arguments as a string).
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedCall {
    pub name: String,
    pub arguments: String,
}

impl ParsedCall {
    /// A call from a parsed JSON object with a string `name` and an
    /// object (or JSON text) under `args_key`; None if it is not one.
    fn from_object(value: &Value, args_keys: &[&str]) -> Option<Self> {
        let object = value.as_object()?;
        let name = object.get("name")?.as_str()?.to_string();
        let arguments = match args_keys.iter().find_map(|k| object.get(*k)) {
            None => "{}".to_string(),
            Some(Value::String(text)) => {
                // Some models write the arguments as a JSON string.
                serde_json::from_str::<Value>(text)
                    .ok()?
                    .is_object()
                    .then(|| text.clone())?
            }
            Some(v @ Value::Object(_)) => v.to_string(),
            Some(_) => return None,
        };
        Some(Self { name, arguments })
    }
}

/// What a parser gives back as the reply streams in.
#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    Text(String),
    Call(ParsedCall),
}

/// Turns a reply's text, piece by piece as it streams, into text and calls.
pub trait ToolCallParser: Send {
    /// Takes the next piece of reply text; returns what is settled.
    fn push(&mut self, text: &str) -> Vec<Piece>;
    /// The reply ended: whatever was held back.
    fn finish(&mut self) -> Vec<Piece>;
}

/// How a model family writes its calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToolFormat {
    Hermes,
    Llama3,
    Mistral,
    /// What a remote backend's replies hold (its calls are written the
    /// Hermes way, as far as a grammar goes).
    Remote,
}

impl ToolFormat {
    /// The format the chat template teaches. A template with no tool
    /// syntax of its own gets tools described in the Hermes format (see
    /// [`fallback_system_prompt`]), the one small models follow best.
    pub fn from_template(source: &str) -> Self {
        if source.contains("[TOOL_CALLS]") {
            ToolFormat::Mistral
        } else if source.contains("<tool_call>") {
            ToolFormat::Hermes
        } else if source.contains("<|python_tag|>") || source.contains("ipython") {
            ToolFormat::Llama3
        } else {
            ToolFormat::Hermes
        }
    }

    pub fn parser(self) -> Box<dyn ToolCallParser> {
        match self {
            ToolFormat::Hermes => Box::new(hermes::HermesParser::default()),
            ToolFormat::Llama3 => Box::new(llama3::parser()),
            ToolFormat::Mistral => Box::new(mistral::parser()),
            ToolFormat::Remote => Box::new(lenient::LenientParser::default()),
        }
    }

    /// The parser for the Chat tab's tool loop: as [`Self::parser`], but
    /// a Hermes-format model may also write a call as one bare JSON
    /// object or in a code fence (Qwen 2.5 Coder 0.5B does; see [`lenient`]).
    pub fn lenient_parser(self) -> Box<dyn ToolCallParser> {
        match self {
            ToolFormat::Hermes => ToolFormat::Remote.parser(),
            other => other.parser(),
        }
    }

    /// The text around a forced call's JSON object (Hermes), or around the
    /// list of calls (Mistral), that constrained decoding makes the model
    /// write.
    pub fn call_frame(self) -> (&'static str, &'static str) {
        match self {
            ToolFormat::Hermes | ToolFormat::Remote => ("<tool_call>\n", "\n</tool_call>"),
            ToolFormat::Llama3 => ("", ""),
            ToolFormat::Mistral => ("[", "]"),
        }
    }

    /// The key of the arguments in the call object.
    pub fn arguments_key(self) -> &'static str {
        match self {
            ToolFormat::Llama3 => "parameters",
            _ => "arguments",
        }
    }
}

/// Whether the template renders `tools` itself; if not, the tools are
/// described in a system message ([`fallback_system_prompt`]).
pub fn template_takes_tools(source: &str) -> bool {
    source.contains("tools")
}

/// Describes `tools` (OpenAI function definitions) and the Hermes call
/// syntax for a template that knows nothing of tools (Qwen 2.5's wording).
pub fn fallback_system_prompt(tools: &[Value]) -> String {
    let mut out = String::from(
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n\
         You are provided with function signatures within <tools></tools> XML tags:\n<tools>",
    );
    for tool in tools {
        out.push('\n');
        out.push_str(&tool.to_string());
    }
    out.push_str(
        "\n</tools>\n\nFor each function call, return a json object with function name and \
         arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n\
         {\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>",
    );
    out
}

/// Text held back because it might be the start of `marker`: the longest
/// suffix of `text` that is a prefix of `marker`.
fn partial_marker_len(text: &str, marker: &str) -> usize {
    (1..marker.len().min(text.len() + 1))
        .rev()
        .find(|&n| {
            text.is_char_boundary(text.len() - n) && marker.starts_with(&text[text.len() - n..])
        })
        .unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::{Piece, ToolCallParser};

    /// Feeds `chunks` and collects every piece, merging adjacent text.
    pub fn run(parser: &mut dyn ToolCallParser, chunks: &[&str]) -> Vec<Piece> {
        let mut out: Vec<Piece> = Vec::new();
        let pieces = chunks
            .iter()
            .flat_map(|c| parser.push(c))
            .collect::<Vec<_>>()
            .into_iter()
            .chain(parser.finish());
        for piece in pieces {
            match (out.last_mut(), piece) {
                (Some(Piece::Text(a)), Piece::Text(b)) => a.push_str(&b),
                (_, Piece::Text(b)) if b.is_empty() => {}
                (_, p) => out.push(p),
            }
        }
        out
    }

    /// `text` cut into pieces of `n` characters (a call split across tokens).
    pub fn split(text: &str, n: usize) -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        chars.chunks(n).map(|c| c.iter().collect()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_follows_the_template() {
        assert_eq!(
            ToolFormat::from_template("{{ '<tool_call>' }}"),
            ToolFormat::Hermes
        );
        assert_eq!(
            ToolFormat::from_template("[TOOL_CALLS] {{ x }}"),
            ToolFormat::Mistral
        );
        assert_eq!(
            ToolFormat::from_template("<|python_tag|>"),
            ToolFormat::Llama3
        );
        assert_eq!(
            ToolFormat::from_template("{{ messages }}"),
            ToolFormat::Hermes
        );
    }

    #[test]
    fn held_back_text_is_a_marker_prefix() {
        assert_eq!(partial_marker_len("abc <tool", "<tool_call>"), 5);
        assert_eq!(partial_marker_len("abc", "<tool_call>"), 0);
        assert_eq!(partial_marker_len("<", "<tool_call>"), 1);
        assert_eq!(partial_marker_len("日本<", "<tool_call>"), 1);
    }
}
