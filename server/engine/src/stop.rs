//! Stop strings in streamed text: text that might be the start of a stop
//! string is held back until it is clearly not, so a stop string never
//! reaches the user, even split across tokens.

pub struct StopMatcher {
    stops: Vec<String>,
    pending: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum StopOutcome {
    /// Text that is safe to show; generation goes on.
    Continue(String),
    /// A stop string appeared: show this text (what came before it) and end.
    Stopped(String),
}

impl StopMatcher {
    pub fn new(stops: Vec<String>) -> Self {
        Self {
            stops: stops.into_iter().filter(|s| !s.is_empty()).collect(),
            pending: String::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> StopOutcome {
        self.pending.push_str(text);
        let earliest = self
            .stops
            .iter()
            .filter_map(|s| self.pending.find(s.as_str()))
            .min();
        if let Some(at) = earliest {
            let before = self.pending[..at].to_string();
            self.pending.clear();
            return StopOutcome::Stopped(before);
        }
        let keep_from = self.partial_match_start();
        let ready = self.pending[..keep_from].to_string();
        self.pending.drain(..keep_from);
        StopOutcome::Continue(ready)
    }

    /// Whatever was held back, once generation has ended for another reason.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.pending)
    }

    /// Byte index where the longest suffix of `pending` that begins some stop
    /// string starts (`pending.len()` when there is none).
    fn partial_match_start(&self) -> usize {
        self.pending
            .char_indices()
            .map(|(i, _)| i)
            .find(|&i| {
                let tail = &self.pending[i..];
                self.stops.iter().any(|s| s.starts_with(tail))
            })
            .unwrap_or(self.pending.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let mut m = StopMatcher::new(stops.iter().map(|s| s.to_string()).collect());
        let mut out = String::new();
        for p in pieces {
            match m.push(p) {
                StopOutcome::Continue(t) => out.push_str(&t),
                StopOutcome::Stopped(t) => {
                    out.push_str(&t);
                    return (out, true);
                }
            }
        }
        out.push_str(&m.finish());
        (out, false)
    }

    #[test]
    fn stop_string_split_across_pieces_is_never_shown() {
        assert_eq!(
            run(&["\nYou:"], &["Hi there", "\nY", "ou", ": more"]),
            ("Hi there".into(), true)
        );
    }

    #[test]
    fn held_back_text_is_released_when_it_stops_matching() {
        assert_eq!(run(&["\nYou:"], &["a\nY", "es"]), ("a\nYes".into(), false));
    }

    #[test]
    fn earliest_of_several_stops_wins_and_multibyte_is_safe() {
        assert_eq!(
            run(&["。", "END"], &["你好END世界。"]),
            ("你好".into(), true)
        );
        assert_eq!(run(&["。"], &["你好", "世界"]), ("你好世界".into(), false));
    }

    #[test]
    fn no_stops_passes_everything() {
        assert_eq!(run(&[], &["a", "b"]), ("ab".into(), false));
    }
}
