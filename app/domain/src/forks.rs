//! Versions of a user message, as the llama.cpp web UI and ChatGPT keep
//! them: editing an earlier message and sending it again starts a new
//! version of it, and the chat after it (the replies and turns that
//! followed the old version) is kept with the old version. `<` `>` on the
//! message switch versions, each with the rest of the chat it had.

use serde::{Deserialize, Serialize};

use super::{LoggedMessage, Role};

/// The rest of the chat that followed another version of a user message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fork {
    pub version: usize,
    pub tail: Vec<LoggedMessage>,
}

/// Makes `text` a new version of user message `index`; the messages after
/// it are kept with the version they followed. The chat then ends with the
/// new version, waiting for a reply.
pub fn fork_user_message(
    messages: &mut Vec<LoggedMessage>,
    index: usize,
    text: String,
) -> Result<(), String> {
    check_user_message(messages, index)?;
    let tail = messages.split_off(index + 1);
    let message = &mut messages[index];
    stash(message, tail);
    message.versions.push(text);
    message.current = message.versions.len() - 1;
    Ok(())
}

/// Shows version `version` of user message `index`, with the rest of the
/// chat it had (the shown one is kept with its own version).
pub fn select_user_version(
    messages: &mut Vec<LoggedMessage>,
    index: usize,
    version: usize,
) -> Result<(), String> {
    check_user_message(messages, index)?;
    if version >= messages[index].versions.len() {
        return Err(format!("message {index} has no version {version}"));
    }
    let tail = messages.split_off(index + 1);
    let message = &mut messages[index];
    stash(message, tail);
    message.current = version;
    let restored = message
        .forks
        .iter()
        .position(|f| f.version == version)
        .map(|at| message.forks.remove(at).tail)
        .unwrap_or_default();
    messages.extend(restored);
    Ok(())
}

fn check_user_message(messages: &[LoggedMessage], index: usize) -> Result<(), String> {
    match messages.get(index) {
        Some(m) if m.role == Role::User => Ok(()),
        Some(_) => Err(format!("message {index} is not a user message")),
        None => Err(format!("message {index} does not exist")),
    }
}

/// Keeps `tail` as the rest of the chat after `message`'s shown version.
fn stash(message: &mut LoggedMessage, tail: Vec<LoggedMessage>) {
    let version = message.current;
    message.forks.retain(|f| f.version != version);
    if !tail.is_empty() {
        message.forks.push(Fork { version, tail });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat() -> Vec<LoggedMessage> {
        vec![
            LoggedMessage::new(Role::User, "A"),
            LoggedMessage::new(Role::Assistant, "reply to A"),
            LoggedMessage::new(Role::User, "B"),
            LoggedMessage::new(Role::Assistant, "reply to B"),
        ]
    }

    fn texts(messages: &[LoggedMessage]) -> Vec<&str> {
        messages.iter().map(LoggedMessage::text).collect()
    }

    #[test]
    fn an_edited_earlier_message_keeps_the_old_chat_with_its_old_version() {
        let mut m = chat();
        fork_user_message(&mut m, 0, "A2".into()).unwrap();
        assert_eq!(texts(&m), ["A2"]);
        assert_eq!((m[0].current, m[0].versions.len()), (1, 2));
        m.push(LoggedMessage::new(Role::Assistant, "reply to A2"));

        select_user_version(&mut m, 0, 0).unwrap();
        assert_eq!(texts(&m), ["A", "reply to A", "B", "reply to B"]);
        select_user_version(&mut m, 0, 1).unwrap();
        assert_eq!(texts(&m), ["A2", "reply to A2"]);
        // Showing the shown version again changes nothing.
        select_user_version(&mut m, 0, 1).unwrap();
        assert_eq!(texts(&m), ["A2", "reply to A2"]);
    }

    #[test]
    fn forks_nest_and_bad_targets_are_refused() {
        let mut m = chat();
        fork_user_message(&mut m, 2, "B2".into()).unwrap();
        assert_eq!(texts(&m), ["A", "reply to A", "B2"]);
        fork_user_message(&mut m, 0, "A2".into()).unwrap();
        select_user_version(&mut m, 0, 0).unwrap();
        assert_eq!(texts(&m), ["A", "reply to A", "B2"]);
        select_user_version(&mut m, 2, 0).unwrap();
        assert_eq!(texts(&m), ["A", "reply to A", "B", "reply to B"]);
        assert!(fork_user_message(&mut m, 1, "x".into()).is_err());
        assert!(select_user_version(&mut m, 0, 5).is_err());
        assert!(select_user_version(&mut m, 9, 0).is_err());
    }
}
