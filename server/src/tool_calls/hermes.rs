//! Qwen's and Hermes' calls: `<tool_call>{json}</tool_call>`, any number,
//! with text before, between or after. A call is held until its closing
//! tag (or the end of the reply) and then parsed whole.

use serde_json::Value;

use super::{partial_marker_len, ParsedCall, Piece, ToolCallParser};

const OPEN: &str = "<tool_call>";
const CLOSE: &str = "</tool_call>";

#[derive(Default)]
pub struct HermesParser {
    /// Text not yet given back: reply text that may begin a tag, or the
    /// inside of an open call.
    held: String,
    in_call: bool,
}

/// The call inside one pair of tags, or the tagged text as it was.
fn settle(inside: &str, closed: bool) -> Piece {
    serde_json::from_str::<Value>(inside.trim())
        .ok()
        .and_then(|v| ParsedCall::from_object(&v, &["arguments", "parameters"]))
        .map(Piece::Call)
        .unwrap_or_else(|| {
            let close = if closed { CLOSE } else { "" };
            Piece::Text(format!("{OPEN}{inside}{close}"))
        })
}

impl ToolCallParser for HermesParser {
    fn push(&mut self, text: &str) -> Vec<Piece> {
        self.held.push_str(text);
        let mut out = Vec::new();
        loop {
            if self.in_call {
                let Some(end) = self.held.find(CLOSE) else {
                    break;
                };
                out.push(settle(&self.held[..end], true));
                self.held.drain(..end + CLOSE.len());
                self.in_call = false;
            } else if let Some(start) = self.held.find(OPEN) {
                out.push(Piece::Text(self.held[..start].to_string()));
                self.held.drain(..start + OPEN.len());
                self.in_call = true;
            } else {
                let keep = partial_marker_len(&self.held, OPEN);
                let ready = self.held.len() - keep;
                out.push(Piece::Text(self.held[..ready].to_string()));
                self.held.drain(..ready);
                break;
            }
        }
        out.retain(|p| !matches!(p, Piece::Text(t) if t.is_empty()));
        out
    }

    fn finish(&mut self) -> Vec<Piece> {
        let held = std::mem::take(&mut self.held);
        let piece = if self.in_call {
            // A reply may end at its end-of-turn token without the tag.
            settle(&held, false)
        } else {
            Piece::Text(held)
        };
        self.in_call = false;
        match piece {
            Piece::Text(t) if t.is_empty() => vec![],
            p => vec![p],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{run, split};
    use super::*;

    fn call(name: &str, arguments: &str) -> Piece {
        Piece::Call(ParsedCall {
            name: name.into(),
            arguments: arguments.into(),
        })
    }

    const ONE: &str = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";

    #[test]
    fn a_call_split_across_tokens() {
        for n in [1, 2, 3, 7, 100] {
            let chunks = split(ONE, n);
            let chunks: Vec<&str> = chunks.iter().map(String::as_str).collect();
            let out = run(&mut HermesParser::default(), &chunks);
            assert_eq!(
                out,
                vec![call("get_weather", r#"{"city":"Paris"}"#)],
                "pieces of {n}"
            );
        }
    }

    #[test]
    fn two_calls_with_text_around() {
        let text = format!("Let me check.\n{ONE}\n<tool_call>{{\"name\": \"get_time\", \"arguments\": {{}}}}</tool_call> done");
        let chunks = split(&text, 4);
        let chunks: Vec<&str> = chunks.iter().map(String::as_str).collect();
        let out = run(&mut HermesParser::default(), &chunks);
        assert_eq!(
            out,
            vec![
                Piece::Text("Let me check.\n".into()),
                call("get_weather", r#"{"city":"Paris"}"#),
                Piece::Text("\n".into()),
                call("get_time", "{}"),
                Piece::Text(" done".into()),
            ]
        );
    }

    #[test]
    fn malformed_json_is_text_and_nothing_is_lost() {
        let text = "Hi <tool_call>{\"name\": \"f\", \"arguments\": {\"a\": }</tool_call> bye";
        let out = run(
            &mut HermesParser::default(),
            &split(text, 3)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        assert_eq!(out, vec![Piece::Text(text.into())]);
    }

    #[test]
    fn an_unclosed_call_at_the_end_still_counts_and_a_lone_bracket_is_text() {
        let out = run(
            &mut HermesParser::default(),
            &["<tool_call>{\"name\": \"f\", \"arguments\": {\"x\": 1}}"],
        );
        assert_eq!(out, vec![call("f", r#"{"x":1}"#)]);
        let out = run(&mut HermesParser::default(), &["a <b> and <tool", "box"]);
        assert_eq!(out, vec![Piece::Text("a <b> and <toolbox".into())]);
        let out = run(&mut HermesParser::default(), &["<tool_call>not json"]);
        assert_eq!(out, vec![Piece::Text("<tool_call>not json".into())]);
    }

    #[test]
    fn arguments_written_as_a_json_string_are_accepted() {
        let out = run(
            &mut HermesParser::default(),
            &["<tool_call>{\"name\": \"f\", \"arguments\": \"{\\\"x\\\": 2}\"}</tool_call>"],
        );
        assert_eq!(out, vec![call("f", r#"{"x": 2}"#)]);
    }
}
