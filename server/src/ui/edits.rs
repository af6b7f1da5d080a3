//! Applying the Chat tab's edits to a chat's messages.

use domain::{ChatEdit, ChatTools, LoggedMessage, Role, ToolState};

use crate::store::StoreError;

fn message(messages: &mut [LoggedMessage], index: usize) -> Result<&mut LoggedMessage, StoreError> {
    messages
        .get_mut(index)
        .ok_or_else(|| StoreError::Invalid(format!("message {index} does not exist")))
}

/// Longest tool name a chat keeps (MCP names are short identifiers).
const MAX_TOOL_NAME: usize = 128;

pub fn apply(
    messages: &mut Vec<LoggedMessage>,
    tools: &mut ChatTools,
    edit: ChatEdit,
) -> Result<(), StoreError> {
    match edit {
        ChatEdit::EditMessage { index, text } => {
            let m = message(messages, index)?;
            // An empty message of the user's would vanish from the file
            // (and its other versions with it).
            if m.role == Role::User && text.trim().is_empty() && m.attachments.is_empty() {
                return Err(StoreError::Invalid(
                    "a message of yours cannot be empty; use Remove last or Branch to drop messages"
                        .into(),
                ));
            }
            *m.text_mut() = text;
            // Its token count was of the text it was sent with.
            if let Some(info) = m.shown_sent_info_mut() {
                info.tokens = None;
            }
        }
        ChatEdit::SelectVersion { index, version }
            if messages.get(index).is_some_and(|m| m.role == Role::User) =>
        {
            // A user message's version comes with the chat that followed it.
            domain::select_user_version(messages, index, version).map_err(StoreError::Invalid)?
        }
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
        ChatEdit::EnableTool { name, enabled } => {
            ChatTools::set(&mut tools.enabled, check_tool_name(&name)?, enabled)
        }
        ChatEdit::AlwaysAllowTool { name, allowed } => {
            ChatTools::set(&mut tools.always_allow, check_tool_name(&name)?, allowed)
        }
        ChatEdit::DecideToolCall { id, approve } => decide(messages, &id, approve)?,
    }
    Ok(())
}

fn check_tool_name(name: &str) -> Result<&str, StoreError> {
    if name.is_empty() || name.len() > MAX_TOOL_NAME || name.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "a tool name has 1 to {MAX_TOOL_NAME} characters"
        )));
    }
    Ok(name)
}

/// Approves or rejects a call of the last reply that waits for the user.
fn decide(messages: &mut [LoggedMessage], id: &str, approve: bool) -> Result<(), StoreError> {
    let waiting = messages
        .last_mut()
        .filter(|m| m.role == Role::Assistant)
        .and_then(|m| {
            let version = m.current;
            m.tool_uses
                .iter_mut()
                .find(|u| u.id == id && u.version == version)
        })
        .filter(|u| u.state == ToolState::Pending)
        .ok_or_else(|| {
            StoreError::Invalid("that tool call is not waiting for a decision".into())
        })?;
    waiting.state = if approve {
        ToolState::Approved
    } else {
        ToolState::Rejected
    };
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

    fn apply(m: &mut Vec<LoggedMessage>, edit: ChatEdit) -> Result<(), StoreError> {
        super::apply(m, &mut ChatTools::default(), edit)
    }

    #[test]
    fn tool_switches_and_decisions() {
        let mut tools = ChatTools::default();
        let mut m = chat();
        let on = |name: &str| ChatEdit::EnableTool {
            name: name.into(),
            enabled: true,
        };
        super::apply(&mut m, &mut tools, on("clock")).unwrap();
        super::apply(&mut m, &mut tools, on("calculator")).unwrap();
        super::apply(&mut m, &mut tools, on("clock")).unwrap();
        assert_eq!(tools.enabled, ["calculator", "clock"]);
        assert!(super::apply(&mut m, &mut tools, on("")).is_err());
        m[4].tool_uses.push(domain::ToolUse {
            id: "call_1".into(),
            version: 0,
            at: 2,
            name: "clock".into(),
            arguments: "{}".into(),
            state: ToolState::Pending,
            result: String::new(),
            delivered: false,
            round: 1,
        });
        let decide = |approve| ChatEdit::DecideToolCall {
            id: "call_1".into(),
            approve,
        };
        super::apply(&mut m, &mut tools, decide(false)).unwrap();
        assert_eq!(m[4].tool_uses[0].state, ToolState::Rejected);
        // Decided once: a second click (another tab) is refused.
        assert!(super::apply(&mut m, &mut tools, decide(true)).is_err());
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
        // A message of the user's cannot become empty (it would vanish).
        let empty = ChatEdit::EditMessage {
            index: 1,
            text: " ".into(),
        };
        assert!(apply(&mut m, empty).is_err());
        assert_eq!(m[1].text(), "Q1");
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
