//! The start of a chat-mode reply, cleaned as text-generation-webui cleans
//! it: leading white space goes, and so does a `Name:` the model writes
//! although the prompt already ended with the character's name (small
//! models do, and a saved `Name:` teaches the next turn to repeat it).
//! Text is held back only while it could still be such a prefix.

/// Strips leading white space and one leading `Name:` (then spaces) from
/// a streamed reply.
pub struct LeadTrimmer {
    /// `Name:` for each name; empty: the trimmer passes text through.
    prefixes: Vec<String>,
    state: State,
    /// Text held back while it could still start a prefix.
    pending: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing but white space or part of a prefix has come yet.
    Leading,
    /// A prefix was removed; spaces after it go too.
    AfterName,
    /// The reply proper has begun: everything passes.
    Done,
}

impl LeadTrimmer {
    pub fn new(names: &[String]) -> Self {
        let prefixes: Vec<String> = names
            .iter()
            .filter(|n| !n.is_empty())
            .map(|n| format!("{n}:"))
            .collect();
        let state = if names.is_empty() {
            State::Done
        } else {
            State::Leading
        };
        Self {
            prefixes,
            state,
            pending: String::new(),
        }
    }

    /// The part of `text` that can be shown now.
    pub fn push(&mut self, text: &str) -> String {
        match self.state {
            State::Done => text.to_string(),
            State::AfterName => self.after_name(text),
            State::Leading => {
                self.pending.push_str(text);
                let start = self.pending.trim_start();
                if start.is_empty() {
                    return String::new();
                }
                if let Some(rest) = self.prefixes.iter().find_map(|p| start.strip_prefix(p)) {
                    let rest = rest.to_string();
                    self.pending.clear();
                    self.state = State::AfterName;
                    return self.after_name(&rest);
                }
                if self.prefixes.iter().any(|p| p.starts_with(start)) {
                    return String::new(); // could still become `Name:`
                }
                self.state = State::Done;
                let shown = start.to_string();
                self.pending.clear();
                shown
            }
        }
    }

    fn after_name(&mut self, text: &str) -> String {
        let rest = text.trim_start_matches(' ');
        if !rest.is_empty() {
            self.state = State::Done;
        }
        rest.to_string()
    }

    /// What is still held back when the reply ends (a reply that is only
    /// the start of a name is shown as it is).
    pub fn finish(&mut self) -> String {
        self.state = State::Done;
        std::mem::take(&mut self.pending).trim_start().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(names: &[&str], pieces: &[&str]) -> String {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut t = LeadTrimmer::new(&names);
        let mut out: String = pieces.iter().map(|p| t.push(p)).collect();
        out.push_str(&t.finish());
        out
    }

    #[test]
    fn a_leading_name_is_stripped_even_when_split_across_tokens() {
        assert_eq!(
            run(&["AI助理", "You"], &[" AI", "助", "理:", " 你好"]),
            "你好"
        );
        assert_eq!(run(&["Aria", "Sam"], &["Sam: Hi"]), "Hi");
        assert_eq!(
            run(&["Aria"], &["\n", "Aria", ":", " ", " ", "Ahoy"]),
            "Ahoy"
        );
    }

    #[test]
    fn only_a_leading_name_goes() {
        assert_eq!(run(&["Aria"], &[" Ahoy, Aria: hi"]), "Ahoy, Aria: hi");
        assert_eq!(run(&["Aria"], &["Ari", "el is here"]), "Ariel is here");
        assert_eq!(
            run(&["Aria"], &["Aria: Aria: twice"]),
            "Aria: twice",
            "one prefix, as text-generation-webui strips"
        );
        assert_eq!(run(&["Aria"], &["Ari"]), "Ari", "held text is not lost");
        assert_eq!(run(&[], &["  Aria: kept"]), "  Aria: kept", "off");
    }

    #[test]
    fn text_passes_as_soon_as_it_cannot_be_a_name() {
        let mut t = LeadTrimmer::new(&["Aria".to_string()]);
        assert_eq!(t.push(" A"), "");
        assert_eq!(t.push("h"), "Ah");
        assert_eq!(t.push("oy"), "oy");
    }
}
