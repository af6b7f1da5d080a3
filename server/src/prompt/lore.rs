//! Keyword-triggered lorebook entries (character cards' `character_book`,
//! SillyTavern's world info): an entry joins the character's context while
//! one of its keys appears in the latest messages, so a large book costs
//! prompt tokens only when the conversation touches it.

use domain::{ChatMessage, LoreEntry};

/// Messages searched when the card names no `scan_depth` (SillyTavern's
/// default).
pub const DEFAULT_SCAN_DEPTH: usize = 2;

/// The contents of the entries in `lore` that the last `depth` messages of
/// `history` trigger, in the book's order.
pub fn triggered<'a>(lore: &'a [LoreEntry], history: &[ChatMessage], depth: usize) -> Vec<&'a str> {
    if lore.is_empty() {
        return Vec::new();
    }
    let recent = &history[history.len().saturating_sub(depth)..];
    let text: String = recent
        .iter()
        .map(|m| m.content.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let lowered = text.to_lowercase();
    let mentions = |keys: &[String], case_sensitive: bool| {
        keys.iter().any(|key| {
            if case_sensitive {
                text.contains(key.as_str())
            } else {
                lowered.contains(&key.to_lowercase())
            }
        })
    };
    lore.iter()
        .filter(|e| {
            mentions(&e.keys, e.case_sensitive)
                && (!e.selective
                    || e.secondary_keys.is_empty()
                    || mentions(&e.secondary_keys, e.case_sensitive))
        })
        .map(|e| e.content.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::Role;

    fn entry(keys: &[&str], content: &str) -> LoreEntry {
        LoreEntry {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            content: content.into(),
            ..Default::default()
        }
    }

    fn chat(lines: &[&str]) -> Vec<ChatMessage> {
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let role = if i % 2 == 0 {
                    Role::User
                } else {
                    Role::Assistant
                };
                ChatMessage::new(role, *l)
            })
            .collect()
    }

    #[test]
    fn keys_in_the_latest_messages_trigger_entries() {
        let lore = vec![
            entry(&["river"], "The river is cold."),
            entry(&["castle", "keep"], "The castle is empty."),
        ];
        let history = chat(&[
            "Tell me of the Castle.",
            "It stands alone.",
            "And the river?",
        ]);
        assert_eq!(triggered(&lore, &history, 2), vec!["The river is cold."]);
        assert_eq!(
            triggered(&lore, &history, 3),
            vec!["The river is cold.", "The castle is empty."]
        );
        assert!(triggered(&lore, &history[..2], 1).is_empty());
    }

    #[test]
    fn case_and_secondary_keys_are_respected() {
        let mut strict = entry(&["Ash"], "Ash is a person.");
        strict.case_sensitive = true;
        let mut both = entry(&["bridge"], "The bridge is broken.");
        both.selective = true;
        both.secondary_keys = vec!["cross".into()];
        let lore = vec![strict, both];
        assert!(triggered(&lore, &chat(&["the ash fell near the bridge"]), 2).is_empty());
        assert_eq!(
            triggered(&lore, &chat(&["Ash wants to cross the bridge"]), 2),
            vec!["Ash is a person.", "The bridge is broken."]
        );
    }
}
