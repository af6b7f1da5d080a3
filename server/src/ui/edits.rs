//! Applying the Chat tab's edits to a chat's messages.

use domain::{ChatEdit, LoggedMessage, Role};

use crate::store::StoreError;

fn message(messages: &mut [LoggedMessage], index: usize) -> Result<&mut LoggedMessage, StoreError> {
    messages
        .get_mut(index)
        .ok_or_else(|| StoreError::Invalid(format!("message {index} does not exist")))
}

pub fn apply(messages: &mut Vec<LoggedMessage>, edit: ChatEdit) -> Result<(), StoreError> {
    match edit {
        ChatEdit::EditMessage { index, text } => *message(messages, index)?.text_mut() = text,
        ChatEdit::SelectVersion { index, version } => {
            let m = message(messages, index)?;
            if version >= m.versions.len() {
                return Err(StoreError::Invalid(format!(
                    "message {index} has no version {version}"
                )));
            }
            m.current = version;
        }
        ChatEdit::RemoveLast => {
            // The last exchange: from the last user message on.
            let from = messages
                .iter()
                .rposition(|m| m.role == Role::User)
                .unwrap_or(messages.len().saturating_sub(1));
            messages.truncate(from);
        }
        ChatEdit::DummyMessage { text } => messages.push(LoggedMessage::new(Role::User, text)),
        ChatEdit::DummyReply { text } => messages.push(LoggedMessage::new(Role::Assistant, text)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat() -> Vec<LoggedMessage> {
        vec![
            LoggedMessage::new(Role::Assistant, "Hi"),
            LoggedMessage::new(Role::User, "Q1"),
            LoggedMessage::new(Role::Assistant, "A1"),
            LoggedMessage::new(Role::User, "Q2"),
            LoggedMessage::new(Role::Assistant, "A2"),
        ]
    }

    #[test]
    fn remove_last_drops_the_last_exchange() {
        let mut m = chat();
        apply(&mut m, ChatEdit::RemoveLast).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[2].text(), "A1");
    }

    #[test]
    fn edit_and_versions_are_checked() {
        let mut m = chat();
        apply(
            &mut m,
            ChatEdit::EditMessage {
                index: 2,
                text: "A1'".into(),
            },
        )
        .unwrap();
        assert_eq!(m[2].text(), "A1'");
        assert!(apply(
            &mut m,
            ChatEdit::EditMessage {
                index: 9,
                text: String::new()
            }
        )
        .is_err());
        m[4].versions.push("A2b".into());
        apply(
            &mut m,
            ChatEdit::SelectVersion {
                index: 4,
                version: 1,
            },
        )
        .unwrap();
        assert_eq!(m[4].text(), "A2b");
        assert!(apply(
            &mut m,
            ChatEdit::SelectVersion {
                index: 4,
                version: 2
            }
        )
        .is_err());
    }

    #[test]
    fn dummy_messages_are_added_as_written() {
        let mut m = Vec::new();
        apply(&mut m, ChatEdit::DummyMessage { text: "me".into() }).unwrap();
        apply(&mut m, ChatEdit::DummyReply { text: "you".into() }).unwrap();
        assert_eq!((m[0].role, m[1].role), (Role::User, Role::Assistant));
    }
}
