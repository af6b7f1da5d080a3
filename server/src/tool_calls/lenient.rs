//! Calls that a Hermes-format model, or a server in front of one, may
//! write without the tags. Qwen 2.5 Coder 0.5B was taught Hermes tags but
//! often writes its call as one bare JSON object, or as one object in a
//! Markdown code fence (the Chat tab reads both); a remote server that
//! enforces a forced call with a grammar but does not parse it
//! (llama-server's copy in llama-cpp-python 0.3.36 with Qwen 2.5) leaves
//! the call in the text as one bare object. A reply that starts with `{`
//! or a fence is held to its end and read whole (text if it is not all
//! calls); any other, the Hermes way.

use super::{
    hermes::HermesParser, llama3, whole::WholeReplyParser, ParsedCall, Piece, ToolCallParser,
};

const FENCE: &str = "```";

#[derive(Default)]
pub struct LenientParser {
    /// Chosen by the reply's first non-blank character.
    inner: Option<Box<dyn ToolCallParser>>,
    /// Blank text before that character.
    held: String,
}

impl ToolCallParser for LenientParser {
    fn push(&mut self, text: &str) -> Vec<Piece> {
        if let Some(inner) = &mut self.inner {
            return inner.push(text);
        }
        self.held.push_str(text);
        let Some(first) = self.held.trim_start().chars().next() else {
            return vec![];
        };
        let mut inner: Box<dyn ToolCallParser> = match first {
            '{' => Box::new(llama3::parser()),
            '`' => Box::new(WholeReplyParser::new(&[FENCE], fenced)),
            _ => Box::new(HermesParser::default()),
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

/// Calls in one fenced block (```` ```json ````, ```` ``` ````) that is the
/// whole reply.
fn fenced(text: &str) -> Option<Vec<ParsedCall>> {
    let inner = text.strip_prefix(FENCE)?.strip_suffix(FENCE)?;
    let (language, body) = inner.split_once('\n')?;
    if !matches!(language.trim(), "" | "json") {
        return None;
    }
    llama3::parse_calls(body.trim())
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{run, split};
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
        assert_eq!(run(&mut LenientParser::default(), &chunks), vec![weather()]);
    }

    #[test]
    fn tagged_calls_and_text_still_parse() {
        let text = "Let me look.<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
        let out = run(&mut LenientParser::default(), &[" ", text]);
        assert_eq!(out, vec![Piece::Text(" Let me look.".into()), weather()]);
        let plain = run(&mut LenientParser::default(), &["It is ", "sunny."]);
        assert_eq!(plain, vec![Piece::Text("It is sunny.".into())]);
    }

    #[test]
    fn json_that_is_not_a_call_stays_text() {
        let text = r#"{"city": "Paris", "country": "France"}"#;
        assert_eq!(
            run(&mut LenientParser::default(), &[text]),
            vec![Piece::Text(text.into())]
        );
    }
    #[test]
    fn bare_fenced_and_tagged_calls_are_calls() {
        for text in [
            "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}",
            "```json\n{\n  \"name\": \"get_weather\",\n  \"arguments\": {\n    \"city\": \"Paris\"\n  }\n}\n```",
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
        ] {
            let chunks = split(text, 3);
            let chunks: Vec<&str> = chunks.iter().map(String::as_str).collect();
            assert_eq!(run(&mut LenientParser::default(), &chunks), vec![weather()], "{text}");
        }
    }

    #[test]
    fn code_and_text_stay_text() {
        for text in [
            "```python\nprint('hi')\n```",
            "```json\n{\"city\": \"Paris\"}\n```",
            "```json\n{\"name\": \"get_weather\", \"arguments\": {}}\n```\nAnd more.",
            "It is sunny.",
        ] {
            assert_eq!(
                run(&mut LenientParser::default(), &[text]),
                vec![Piece::Text(text.into())],
                "{text}"
            );
        }
    }
}
