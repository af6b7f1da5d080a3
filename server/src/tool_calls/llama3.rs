//! Llama 3.1+: a reply that is a call is one JSON object
//! `{"name": …, "parameters": {…}}` (several separated by `;`), after
//! `<|python_tag|>` when the template asks for it.

use serde_json::Value;

use super::{whole::WholeReplyParser, ParsedCall};

const PYTHON_TAG: &str = "<|python_tag|>";

pub fn parser() -> WholeReplyParser {
    WholeReplyParser::new(&[PYTHON_TAG, "{\"name\"", "{ \"name\""], parse)
}

fn parse(text: &str) -> Option<Vec<ParsedCall>> {
    parse_calls(text.strip_prefix(PYTHON_TAG).unwrap_or(text))
}

/// JSON call objects one after another (separated by `;` or white space);
/// None unless all of `text` is calls.
pub fn parse_calls(text: &str) -> Option<Vec<ParsedCall>> {
    let mut rest = text.trim();
    let mut calls = Vec::new();
    while !rest.is_empty() {
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        let value = stream.next()?.ok()?;
        calls.push(ParsedCall::from_object(
            &value,
            &["parameters", "arguments"],
        )?);
        // Calls are separated by `;` (or just white space).
        rest = rest[stream.byte_offset()..].trim_start_matches([';', ' ', '\n', '\t']);
    }
    Some(calls)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{run, split};
    use super::super::{Piece, ToolCallParser};
    use super::*;

    #[test]
    fn one_call_split_across_tokens_and_two_calls() {
        let text = "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}";
        let chunks = split(text, 3);
        let out = run(
            &mut parser(),
            &chunks.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert_eq!(
            out,
            vec![Piece::Call(ParsedCall {
                name: "get_weather".into(),
                arguments: r#"{"city":"Oslo"}"#.into()
            })]
        );
        let two = format!("<|python_tag|>{text}; {{\"name\": \"now\", \"parameters\": {{}}}}");
        let out = run(&mut parser(), &[&two]);
        assert_eq!(out.len(), 2, "{out:?}");
    }

    #[test]
    fn text_replies_stream_and_malformed_calls_are_text() {
        let mut p = parser();
        assert_eq!(p.push("Hello"), vec![Piece::Text("Hello".into())]);
        assert_eq!(p.push(" there"), vec![Piece::Text(" there".into())]);
        let bad = "{\"name\": \"f\", \"parameters\": {";
        assert_eq!(run(&mut parser(), &[bad]), vec![Piece::Text(bad.into())]);
        // JSON that is not a call is text too.
        let json = "{\"answer\": 42}";
        assert_eq!(run(&mut parser(), &[json]), vec![Piece::Text(json.into())]);
    }
}
