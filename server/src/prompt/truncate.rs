//! Fitting a conversation into the context: the oldest turns are dropped
//! first, whole turns at a time; the character's context, the system message
//! and the message being answered never are.

use domain::{ChatMessage, Mode, Role};

use engine::TEXT_BYTES_PER_CONTEXT_TOKEN;

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
    let all_starts = turn_starts(history);
    // A long chat's file may hold far more text than any prompt sends:
    // turns beyond what the budget could hold at
    // TEXT_BYTES_PER_CONTEXT_TOKEN bytes a token are never rendered.
    let within = first_start_within(
        history,
        &all_starts,
        budget.saturating_mul(TEXT_BYTES_PER_CONTEXT_TOKEN),
    );
    let candidates = &all_starts[within..];
    let attempt = |start: usize| -> Result<(String, Vec<u32>), PromptError> {
        let text = render_prompt(settings, template, &history[start..], continuation)?;
        let tokens = encode(&text)?;
        Ok((text, tokens))
    };
    let fits = |r: &(String, Vec<u32>)| r.1.len() <= budget;

    // Most prompts fit whole: one render.
    let mut best_start = candidates[0];
    let mut best = attempt(best_start)?;
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
                    Some(&last) if last > best_start => attempt(last)?.1.len(),
                    _ => best.1.len(),
                };
                return Err(PromptError::ContextTooLong {
                    prompt_tokens: shortest,
                    budget,
                });
            }
        }
    }
    let mut stop_strings = settings.stop_strings();
    if settings.mode != Mode::Chat {
        // The instruction template's own end of turn: a model that writes
        // it as text has finished.
        stop_strings.extend(template.turn_end_strings().iter().cloned());
    }
    Ok(BuiltPrompt {
        text: best.0,
        tokens: best.1,
        dropped_messages: best_start,
        stop_strings,
    })
}

/// The index in `starts` of the oldest start whose messages hold at most
/// `max_bytes` of text (the last start if none does).
fn first_start_within(history: &[ChatMessage], starts: &[usize], max_bytes: usize) -> usize {
    let mut suffix_bytes = 0usize;
    let mut next = history.len();
    for (i, &start) in starts.iter().enumerate().rev() {
        suffix_bytes += history[start..next]
            .iter()
            .map(|m| m.content.len())
            .sum::<usize>();
        next = start;
        if suffix_bytes > max_bytes {
            return (i + 1).min(starts.len() - 1);
        }
    }
    0
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
    use domain::{Character, Mode, UserProfile, DEFAULT_CHAT_INSTRUCT_COMMAND};

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

    /// A chat of 5,000 long turns is fitted by rendering only its newest
    /// few: the rest could never fit the budget.
    #[test]
    fn turns_far_beyond_the_budget_are_never_rendered() {
        let (c, u, t, _) = setup();
        let s = PromptSettings {
            mode: Mode::Chat,
            character: &c,
            user: &u,
            system_message: None,
            chat_instruct_command: DEFAULT_CHAT_INSTRUCT_COMMAND,
            enable_thinking: None,
            tools: None,
        };
        let history: Vec<ChatMessage> = (0..5000)
            .map(|i| {
                let role = if i % 2 == 0 {
                    Role::User
                } else {
                    Role::Assistant
                };
                ChatMessage::new(role, format!("turn{i} ").repeat(150))
            })
            .collect();
        let longest_render = std::cell::Cell::new(0);
        let p = build_prompt(&s, &t, &history, Continuation::Reply, 400, |text| {
            longest_render.set(longest_render.get().max(text.len()));
            words(text)
        })
        .unwrap();
        assert!(p.text.contains("turn4998"), "the newest turn is kept");
        assert!(p.dropped_messages >= 4990, "{}", p.dropped_messages);
        assert!(
            longest_render.get() <= 400 * TEXT_BYTES_PER_CONTEXT_TOKEN + 1024,
            "rendered {} bytes",
            longest_render.get()
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
