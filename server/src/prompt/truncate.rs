//! Fitting a conversation into the context: the oldest turns are dropped
//! first, whole turns at a time; the character's context, the system message
//! and the message being answered never are.

use app::types::{ChatMessage, Role};

use super::{modes::render_prompt, ChatTemplate, Continuation, PromptError, PromptSettings};

/// The prompt as it will be sent, with what it took to make it fit.
#[derive(Clone, Debug, PartialEq)]
pub struct BuiltPrompt {
    pub text: String,
    pub tokens: Vec<u32>,
    /// How many of the oldest messages were left out to fit.
    pub dropped_messages: usize,
    pub stop_strings: Vec<String>,
}

/// Renders and tokenizes the longest suffix of `history` (starting at a user
/// turn) whose prompt is at most `budget` tokens.
pub fn build_prompt(
    settings: &PromptSettings,
    template: &ChatTemplate,
    history: &[ChatMessage],
    continuation: Continuation,
    budget: usize,
    encode: impl Fn(&str) -> Result<Vec<u32>, PromptError>,
) -> Result<BuiltPrompt, PromptError> {
    let candidates = turn_starts(history);
    let attempt = |start: usize| -> Result<(String, Vec<u32>), PromptError> {
        let text = render_prompt(settings, template, &history[start..], continuation)?;
        let tokens = encode(&text)?;
        Ok((text, tokens))
    };
    let fits = |r: &(String, Vec<u32>)| r.1.len() <= budget;

    // Most prompts fit whole: one render.
    let mut best = attempt(0)?;
    let mut best_start = 0;
    if !fits(&best) {
        let (mut lo, mut hi) = (1, candidates.len());
        // Invariant: candidates[..lo] do not fit.
        let mut found = None;
        while lo < hi {
            let mid = (lo + hi) / 2;
            let r = attempt(candidates[mid])?;
            if fits(&r) {
                found = Some((candidates[mid], r));
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        match found {
            Some((start, r)) => {
                best_start = start;
                best = r;
            }
            None => {
                let shortest = match candidates.last() {
                    Some(&last) if last > 0 => attempt(last)?.1.len(),
                    _ => best.1.len(),
                };
                return Err(PromptError::ContextTooLong {
                    prompt_tokens: shortest,
                    budget,
                });
            }
        }
    }
    Ok(BuiltPrompt {
        text: best.0,
        tokens: best.1,
        dropped_messages: best_start,
        stop_strings: settings.stop_strings(),
    })
}

/// Where the history may start: the beginning, or any user message up to
/// (and including) the last one, which is never dropped.
fn turn_starts(history: &[ChatMessage]) -> Vec<usize> {
    let last_user = history
        .iter()
        .rposition(|m| m.role == Role::User)
        .unwrap_or(0);
    let mut starts = vec![0];
    starts.extend(
        history
            .iter()
            .enumerate()
            .skip(1)
            .take(last_user)
            .filter(|(_, m)| m.role == Role::User)
            .map(|(i, _)| i),
    );
    starts
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::types::{Character, Mode, UserProfile, DEFAULT_CHAT_INSTRUCT_COMMAND};

    /// One "token" per whitespace-separated word: easy to reason about.
    fn words(text: &str) -> Result<Vec<u32>, PromptError> {
        Ok(text.split_whitespace().map(|_| 0).collect())
    }

    fn setup() -> (Character, UserProfile, ChatTemplate, Vec<ChatMessage>) {
        let character = Character {
            name: "Bot".into(),
            context: "Context words stay here always.".into(), // 5 words
            greeting: String::new(),
            ..Default::default()
        };
        let history = vec![
            ChatMessage::new(Role::User, "one one one"),
            ChatMessage::new(Role::Assistant, "two two two"),
            ChatMessage::new(Role::User, "three three three"),
            ChatMessage::new(Role::Assistant, "four four four"),
            ChatMessage::new(Role::User, "five five five"),
        ];
        (
            character,
            UserProfile::default(),
            ChatTemplate::compile("{{ messages }}", None, None).unwrap(),
            history,
        )
    }

    fn build(budget: usize) -> Result<BuiltPrompt, PromptError> {
        let (c, u, t, h) = setup();
        let s = PromptSettings {
            mode: Mode::Chat,
            character: &c,
            user: &u,
            system_message: None,
            chat_instruct_command: DEFAULT_CHAT_INSTRUCT_COMMAND,
            enable_thinking: None,
            tools: None,
        };
        build_prompt(&s, &t, &h, Continuation::Reply, budget, words)
    }

    #[test]
    fn whole_history_when_it_fits() {
        // 5 context words + 5 lines of 4 words + "Bot:" = 26.
        let p = build(26).unwrap();
        assert_eq!(p.dropped_messages, 0);
        assert_eq!(p.tokens.len(), 26);
        assert_eq!(
            p.stop_strings,
            vec!["\nYou:".to_string(), "\nBot:".to_string()]
        );
    }

    #[test]
    fn oldest_turns_go_first_context_stays() {
        let p = build(25).unwrap();
        assert_eq!(p.dropped_messages, 2);
        assert!(
            p.text
                .starts_with("Context words stay here always.\n\nYou: three"),
            "{}",
            p.text
        );
        let p = build(10).unwrap();
        assert_eq!(p.dropped_messages, 4);
        assert_eq!(
            p.text,
            "Context words stay here always.\n\nYou: five five five\nBot:"
        );
    }

    #[test]
    fn too_long_even_alone_is_an_error() {
        assert!(matches!(
            build(9),
            Err(PromptError::ContextTooLong {
                prompt_tokens: 10,
                budget: 9
            })
        ));
    }
}
