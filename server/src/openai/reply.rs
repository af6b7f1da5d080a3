//! A chat reply as the API answers it: reasoning apart from the answer
//! (`reasoning_content`), and, when tools were offered, the answer's tool
//! calls apart from its text. Streamed and non-streamed answers both go
//! through this, so they agree.

use domain::reasoning::ReasoningStream;

use crate::tool_calls::{ParsedCall, Piece, ToolCallParser, ToolFormat};

/// What one piece of reply text adds.
#[derive(Debug, Default)]
pub struct Shaped {
    pub reasoning: String,
    pub content: String,
    pub calls: Vec<ParsedCall>,
}

impl Shaped {
    fn add(&mut self, more: Shaped) {
        self.reasoning += &more.reasoning;
        self.content += &more.content;
        self.calls.extend(more.calls);
    }
}

pub struct ReplyShaper {
    reasoning: ReasoningStream,
    calls: Option<Box<dyn ToolCallParser>>,
    made_calls: bool,
}

impl ReplyShaper {
    /// `given` is the assistant text a continued reply goes on from;
    /// `tools` the call format to parse, when tools were offered.
    pub fn new(given: &str, tools: Option<ToolFormat>) -> Self {
        Self {
            reasoning: ReasoningStream::continuing(given),
            calls: tools.map(ToolFormat::parser),
            made_calls: false,
        }
    }

    fn answer(&mut self, reasoning: String, answer: &str, end: bool) -> Shaped {
        let mut out = Shaped {
            reasoning,
            ..Shaped::default()
        };
        let Some(parser) = &mut self.calls else {
            out.content = answer.to_string();
            return out;
        };
        let mut pieces = parser.push(answer);
        if end {
            pieces.extend(parser.finish());
        }
        for piece in pieces {
            match piece {
                Piece::Text(t) => out.content += &t,
                Piece::Call(c) => out.calls.push(c),
            }
        }
        self.made_calls |= !out.calls.is_empty();
        out
    }

    pub fn push(&mut self, text: &str) -> Shaped {
        let d = self.reasoning.push(text);
        self.answer(d.reasoning, &d.answer, false)
    }

    /// The reply ended: what was held back.
    pub fn finish(&mut self) -> Shaped {
        let d = self.reasoning.finish();
        self.answer(d.reasoning, &d.answer, true)
    }

    /// The whole reply at once (non-streamed answers).
    pub fn whole(mut self, text: &str) -> (Option<String>, Shaped) {
        let mut all = self.push(text);
        all.add(self.finish());
        (self.reasoning.opened().then(|| all.reasoning.clone()), all)
    }

    /// Whether the reply made a call (its finish reason is `tool_calls`).
    pub fn made_calls(&self) -> bool {
        self.made_calls
    }
}
