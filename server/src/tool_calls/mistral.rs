//! Mistral: `[TOOL_CALLS]` then a JSON list of `{"name", "arguments"}`
//! objects, or (newer templates) `[TOOL_CALLS]name[ARGS]{…}` per call.
//! `[TOOL_CALLS]` is a control token that decoding may hide, so a reply
//! that starts as a JSON list of calls counts too.

use serde_json::Value;

use super::{whole::WholeReplyParser, ParsedCall};

const MARKER: &str = "[TOOL_CALLS]";
const ARGS: &str = "[ARGS]";

pub fn parser() -> WholeReplyParser {
    WholeReplyParser::new(&[MARKER, "[{\"name\"", "[{ \"name\""], parse)
}

fn parse(text: &str) -> Option<Vec<ParsedCall>> {
    let mut calls = Vec::new();
    for part in text.split(MARKER).map(str::trim).filter(|p| !p.is_empty()) {
        if part.starts_with('[') {
            let list: Vec<Value> = serde_json::from_str(part).ok()?;
            for value in &list {
                calls.push(ParsedCall::from_object(value, &["arguments"])?);
            }
        } else {
            let (name, args) = part.split_once(ARGS)?;
            let args: Value = serde_json::from_str(args.trim()).ok()?;
            let call = serde_json::json!({ "name": name.trim(), "arguments": args });
            calls.push(ParsedCall::from_object(&call, &["arguments"])?);
        }
    }
    Some(calls)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{run, split};
    use super::super::Piece;
    use super::*;

    fn call(name: &str, arguments: &str) -> Piece {
        Piece::Call(ParsedCall {
            name: name.into(),
            arguments: arguments.into(),
        })
    }

    #[test]
    fn a_list_of_two_calls_split_across_tokens() {
        let text = "[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {\"x\": 1}}, {\"name\": \"b\", \"arguments\": {}}]";
        let chunks = split(text, 5);
        let out = run(
            &mut parser(),
            &chunks.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert_eq!(out, vec![call("a", r#"{"x":1}"#), call("b", "{}")]);
        // The marker hidden by decoding.
        let out = run(&mut parser(), &[&text[MARKER.len()..]]);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn the_args_form_and_malformed_calls() {
        let out = run(
            &mut parser(),
            &["[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Rome\"}"],
        );
        assert_eq!(out, vec![call("get_weather", r#"{"city":"Rome"}"#)]);
        let bad = "[TOOL_CALLS][{\"name\": \"a\", \"arguments\": ";
        assert_eq!(run(&mut parser(), &[bad]), vec![Piece::Text(bad.into())]);
        assert_eq!(
            run(&mut parser(), &["[1, 2] is a list"]),
            vec![Piece::Text("[1, 2] is a list".into())]
        );
    }
}
