//! A reply's reasoning (`<think>…</think>` before the answer, as Qwen3,
//! QwQ and DeepSeek-R1 write it) told apart from its answer. The text is
//! saved whole, as text-generation-webui saves it; the UI shows the
//! reasoning as a collapsed block, the API returns it as
//! `reasoning_content`, and the prompt leaves it out of the history. One
//! parser for all three, shared by the server and the browser.

pub const OPEN: &str = "<think>";
pub const CLOSE: &str = "</think>";

/// Whether a chat template is a reasoning model's: it reads the
/// `enable_thinking` switch (Qwen3) or writes `<think>` itself (QwQ,
/// DeepSeek-R1). The Thinking switch is offered only for those.
pub fn template_reasons(source: &str) -> bool {
    source.contains("enable_thinking") || source.contains(OPEN)
}

/// A reply's parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split<'a> {
    /// The reasoning, when the reply opens with it.
    pub reasoning: Option<&'a str>,
    /// Whether the reasoning has ended (its closing tag came).
    pub closed: bool,
    pub answer: &'a str,
}

/// Splits a whole (or partly streamed) reply. Reasoning counts only at the
/// start of the reply (after whitespace); a `<think>` later on is text.
pub fn split(text: &str) -> Split<'_> {
    let trimmed = text.trim_start();
    let Some(rest) = trimmed.strip_prefix(OPEN) else {
        return Split {
            reasoning: None,
            closed: false,
            answer: text,
        };
    };
    match rest.find(CLOSE) {
        Some(end) => Split {
            reasoning: Some(rest[..end].trim()),
            closed: true,
            answer: rest[end + CLOSE.len()..].trim_start(),
        },
        None => Split {
            reasoning: Some(rest.trim_start()),
            closed: false,
            answer: "",
        },
    }
}

/// The answer alone: what goes back into the prompt's history.
pub fn answer_only(text: &str) -> &str {
    split(text).answer
}

/// The reasoning and answer of a streamed reply, piece by piece: each
/// piece returns what it added to each. Text that might be the start of
/// a tag split across tokens ("<thi") is held back until it is not.
#[derive(Default)]
pub struct ReasoningStream {
    text: String,
    sent_reasoning: usize,
    sent_answer: usize,
}

/// What one piece added.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    pub reasoning: String,
    pub answer: String,
}

impl ReasoningStream {
    /// A stream that goes on from `given` (a continued reply), whose parts
    /// count as already sent.
    pub fn continuing(given: &str) -> Self {
        let mut stream = Self {
            text: given.to_string(),
            ..Self::default()
        };
        stream.emit(given.len(), false);
        stream
    }

    pub fn push(&mut self, piece: &str) -> Delta {
        self.text.push_str(piece);
        let settled = self.text.len() - held_back(&self.text);
        self.emit(settled, false)
    }

    /// The rest, at the end of the reply.
    pub fn finish(&mut self) -> Delta {
        self.emit(self.text.len(), true)
    }

    /// Whether the reply (with the text it continued) opened reasoning.
    pub fn opened(&self) -> bool {
        split(&self.text).reasoning.is_some()
    }

    fn emit(&mut self, upto: usize, done: bool) -> Delta {
        let visible = &self.text[..upto];
        let parts = split(visible);
        // Until the reply has shown whether it opens with reasoning,
        // nothing is the answer yet (at the end, it has).
        let undecided =
            !done && parts.reasoning.is_none() && OPEN.starts_with(visible.trim_start());
        let reasoning = parts.reasoning.unwrap_or("");
        let answer = if undecided { "" } else { parts.answer };
        let delta = Delta {
            reasoning: reasoning
                .get(self.sent_reasoning.min(reasoning.len())..)
                .unwrap_or("")
                .to_string(),
            answer: answer
                .get(self.sent_answer.min(answer.len())..)
                .unwrap_or("")
                .to_string(),
        };
        self.sent_reasoning = self.sent_reasoning.max(reasoning.len());
        self.sent_answer = self.sent_answer.max(answer.len());
        delta
    }
}

/// A finished reply's reasoning (`None` when it opened none) and answer,
/// exactly as the stream gives them piece by piece: after `given` (the
/// text a continued reply goes on from), only what the reply added.
pub fn reply_parts(given: &str, reply: &str) -> (Option<String>, String) {
    let mut stream = ReasoningStream::continuing(given);
    let mut parts = stream.push(reply);
    let rest = stream.finish();
    parts.reasoning += &rest.reasoning;
    parts.answer += &rest.answer;
    (stream.opened().then_some(parts.reasoning), parts.answer)
}

/// Bytes at the end of `text` that could begin a tag (or the whitespace a
/// closed reasoning block trims), so they wait for the next piece.
fn held_back(text: &str) -> usize {
    let tail_could_be = |tag: &str| {
        (1..tag.len())
            .rev()
            .find(|&n| text.ends_with(&tag[..n]))
            .unwrap_or(0)
    };
    let in_reasoning = {
        let s = split(text);
        s.reasoning.is_some() && !s.closed
    };
    let tag_tail = tail_could_be(OPEN).max(tail_could_be(CLOSE));
    // Inside reasoning, trailing whitespace may be trimmed once it closes.
    let space = if in_reasoning {
        text.len() - text.trim_end().len()
    } else {
        0
    };
    tag_tail.max(space)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_templates_are_told_apart() {
        let qwen3 = "{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\n\n</think>\n\n' }}{%- endif %}";
        assert!(template_reasons(qwen3));
        assert!(template_reasons("{{ '<|Assistant|><think>\n' }}"));
        let chatml = "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n'}}{% endfor %}";
        assert!(!template_reasons(chatml));
    }

    fn stream(pieces: &[&str]) -> (String, String) {
        let mut s = ReasoningStream::default();
        let (mut r, mut a) = (String::new(), String::new());
        for p in pieces {
            let d = s.push(p);
            r += &d.reasoning;
            a += &d.answer;
        }
        let d = s.finish();
        (r + &d.reasoning, a + &d.answer)
    }

    #[test]
    fn splits_reasoning_from_the_answer() {
        let s = split("<think>\nplan it\n</think>\n\nThe answer.");
        assert_eq!(s.reasoning, Some("plan it"));
        assert!(s.closed);
        assert_eq!(s.answer, "The answer.");
        assert_eq!(split("No thinking here.").reasoning, None);
        // A tag later in the text is text.
        assert_eq!(split("Use <think> tags").answer, "Use <think> tags");
        assert_eq!(answer_only("<think>x</think>y"), "y");
    }

    #[test]
    fn a_reply_without_a_closing_tag_is_all_reasoning() {
        let s = split("<think>still going");
        assert_eq!(
            (s.reasoning, s.closed, s.answer),
            (Some("still going"), false, "")
        );
        assert_eq!(
            stream(&["<think>", "still ", "going"]),
            ("still going".into(), "".into())
        );
    }

    #[test]
    fn tags_split_across_tokens_are_recognised() {
        let pieces = [
            "<", "th", "ink>", "a <b", "> c", "</", "thi", "nk>", "\n\nAn", "swer",
        ];
        assert_eq!(stream(&pieces), ("a <b> c".into(), "Answer".into()));
        // Every streamed piece is a plain suffix: nothing is taken back.
        let mut s = ReasoningStream::default();
        let mut answer = String::new();
        for p in ["Hel", "lo <", "think> there"] {
            answer += &s.push(p).answer;
        }
        answer += &s.finish().answer;
        assert_eq!(answer, "Hello <think> there");
    }

    #[test]
    fn nested_looking_text_inside_reasoning_is_kept() {
        let (r, a) = stream(&["<think>I could write <think> here", "</think>done"]);
        assert_eq!(
            (r.as_str(), a.as_str()),
            ("I could write <think> here", "done")
        );
    }

    #[test]
    fn a_plain_reply_streams_unchanged() {
        assert_eq!(
            stream(&["Hi", " there", "!"]),
            ("".into(), "Hi there!".into())
        );
        assert_eq!(stream(&["<", "b>bold"]), ("".into(), "<b>bold".into()));
        // A reply that ends looking like the start of a tag keeps its text.
        assert_eq!(stream(&["<th"]), ("".into(), "<th".into()));
    }

    #[test]
    fn a_finished_reply_splits_as_its_stream_does() {
        assert_eq!(reply_parts("", "plain"), (None, "plain".into()));
        assert_eq!(
            reply_parts("", "<think> a </think> b"),
            (Some("a".into()), "b".into())
        );
        assert_eq!(
            reply_parts("", "<think></think>b"),
            (Some("".into()), "b".into())
        );
        // Continued inside reasoning: only what the reply added.
        assert_eq!(
            reply_parts("<think>Let me", " see.</think>4"),
            (Some(" see.".into()), "4".into())
        );
        // Continued inside the answer: the given answer is not repeated.
        assert_eq!(
            reply_parts("<think>x</think>The sum", " is 4."),
            (Some("".into()), " is 4.".into())
        );
    }
}
