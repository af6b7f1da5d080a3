//! Formats where calls take up the rest of the reply (Llama 3's JSON,
//! Mistral's `[TOOL_CALLS]`): the first characters decide. A reply that
//! starts like calls is held to its end and parsed whole; any other reply
//! streams as text.

use super::{Piece, ToolCallParser};

/// Reads the held reply as calls: None if it is not (all) calls.
pub type ParseCalls = fn(&str) -> Option<Vec<super::ParsedCall>>;

pub struct WholeReplyParser {
    /// What a reply of calls may start with (after white space).
    starts: &'static [&'static str],
    parse: ParseCalls,
    held: String,
    /// None while undecided; then whether the reply is held as calls.
    calls: Option<bool>,
}

impl WholeReplyParser {
    pub fn new(starts: &'static [&'static str], parse: ParseCalls) -> Self {
        Self {
            starts,
            parse,
            held: String::new(),
            calls: None,
        }
    }
}

impl ToolCallParser for WholeReplyParser {
    fn push(&mut self, text: &str) -> Vec<Piece> {
        if self.calls == Some(false) {
            return vec![Piece::Text(text.to_string())];
        }
        self.held.push_str(text);
        if self.calls.is_none() {
            let start = self.held.trim_start();
            if start.is_empty() {
                return vec![];
            }
            let could_be = |s: &&str| s.starts_with(start) || start.starts_with(*s);
            let decided_calls = self.starts.iter().any(|s| start.starts_with(*s));
            if decided_calls {
                self.calls = Some(true);
            } else if !self.starts.iter().any(could_be) {
                self.calls = Some(false);
                return vec![Piece::Text(std::mem::take(&mut self.held))];
            }
        }
        vec![]
    }

    fn finish(&mut self) -> Vec<Piece> {
        let held = std::mem::take(&mut self.held);
        if held.is_empty() {
            return vec![];
        }
        if self.calls != Some(false) {
            if let Some(calls) = (self.parse)(held.trim()).filter(|c| !c.is_empty()) {
                return calls.into_iter().map(Piece::Call).collect();
            }
        }
        vec![Piece::Text(held)]
    }
}
