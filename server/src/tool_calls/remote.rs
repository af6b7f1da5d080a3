//! Calls in a remote server's reply. Calls the remote parsed itself come
//! back as `tool_calls` and are written as Hermes tags on the way in
//! (`remote/decode.rs`); a server that enforces a forced call with a
//! grammar but does not parse it (llama-server's copy in
//! llama-cpp-python 0.3.36 with Qwen 2.5) leaves the call in the text as
//! one bare object, `{"name": …, "arguments": {…}}`. A reply that starts
//! with `{` is read the whole-reply way; any other, the Hermes way.

use super::{hermes::HermesParser, llama3, Piece, ToolCallParser};

#[derive(Default)]
pub struct RemoteParser {
    /// Chosen by the reply's first non-blank character.
    inner: Option<Box<dyn ToolCallParser>>,
    /// Blank text before that character.
    held: String,
}

impl ToolCallParser for RemoteParser {
    fn push(&mut self, text: &str) -> Vec<Piece> {
        if let Some(inner) = &mut self.inner {
            return inner.push(text);
        }
        self.held.push_str(text);
        let Some(first) = self.held.trim_start().chars().next() else {
            return vec![];
        };
        let mut inner: Box<dyn ToolCallParser> = if first == '{' {
            Box::new(llama3::parser())
        } else {
            Box::new(HermesParser::default())
        };
        let pieces = inner.push(&std::mem::take(&mut self.held));
        self.inner = Some(inner);
        pieces
    }

    fn finish(&mut self) -> Vec<Piece> {
        match &mut self.inner {
            Some(inner) => inner.finish(),
            None => {
                let held = std::mem::take(&mut self.held);
                (!held.is_empty())
                    .then_some(Piece::Text(held))
                    .into_iter()
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{run, split};
    use super::super::ParsedCall;
    use super::*;

    fn weather() -> Piece {
        Piece::Call(ParsedCall {
            name: "get_weather".into(),
            arguments: r#"{"city":"Paris"}"#.into(),
        })
    }

    #[test]
    fn a_bare_call_object_is_a_call() {
        let text = r#"{"name": "get_weather", "arguments": {"city": "Paris"}}"#;
        let chunks = split(text, 4);
        let chunks: Vec<&str> = chunks.iter().map(String::as_str).collect();
        assert_eq!(run(&mut RemoteParser::default(), &chunks), vec![weather()]);
    }

    #[test]
    fn tagged_calls_and_text_still_parse() {
        let text = "Let me look.<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
        let out = run(&mut RemoteParser::default(), &[" ", text]);
        assert_eq!(out, vec![Piece::Text(" Let me look.".into()), weather()]);
        let plain = run(&mut RemoteParser::default(), &["It is ", "sunny."]);
        assert_eq!(plain, vec![Piece::Text("It is sunny.".into())]);
    }

    #[test]
    fn json_that_is_not_a_call_stays_text() {
        let text = r#"{"city": "Paris", "country": "France"}"#;
        assert_eq!(
            run(&mut RemoteParser::default(), &[text]),
            vec![Piece::Text(text.into())]
        );
    }
}
