//! Where a generated reply goes in the chat: decided once, by
//! [`Placement::decide`], and applied by [`Placement::apply`] on both
//! sides of the wire (the server saves with it; the browser shows the
//! stream with it, as the server announces it in the reply's first event).

use serde::{Deserialize, Serialize};

use super::{ChatAction, LoggedMessage, Role};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// A new assistant message after the last one.
    NewReply,
    /// A new version of the last assistant message (Regenerate).
    NewVersion,
    /// Appended to the last assistant message (Continue).
    Extend,
    /// The message box, not the chat (Impersonate).
    Composer,
}

impl Placement {
    /// Where `action`'s reply goes in a chat whose last message is by
    /// `last_role`; `None` where the action has nothing to work on
    /// (Continue without a reply).
    pub fn decide(action: &ChatAction, last_role: Option<Role>) -> Option<Self> {
        let last_is_reply = last_role == Some(Role::Assistant);
        Some(match action {
            ChatAction::Send { .. } => Placement::NewReply,
            ChatAction::Regenerate if last_is_reply => Placement::NewVersion,
            ChatAction::Regenerate => Placement::NewReply,
            ChatAction::Continue if last_is_reply => Placement::Extend,
            ChatAction::Continue => return None,
            ChatAction::Impersonate { .. } => Placement::Composer,
            ChatAction::Resend { .. } => Placement::NewReply,
            ChatAction::RunTools if last_is_reply => Placement::Extend,
            ChatAction::RunTools => return None,
        })
    }

    /// Puts `text` where it goes in `messages`; a placement whose message
    /// is gone (the chat changed) makes a new reply instead.
    pub fn apply(self, messages: &mut Vec<LoggedMessage>, text: &str) {
        if !text.is_empty() {
            self.apply_even_empty(messages, text);
        }
    }

    /// [`Self::apply`] for a reply that may have no text (one that only
    /// called tools): its message or version is made all the same.
    pub fn apply_even_empty(self, messages: &mut Vec<LoggedMessage>, text: &str) {
        if self == Placement::Composer {
            return;
        }
        let last = messages.last_mut().filter(|m| m.role == Role::Assistant);
        match (self, last) {
            (Placement::NewVersion, Some(last)) => {
                last.versions.push(text.to_string());
                last.current = last.versions.len() - 1;
            }
            (Placement::Extend, Some(last)) => last.text_mut().push_str(text),
            _ => messages.push(LoggedMessage::new(Role::Assistant, text)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_action_goes_where_it_belongs() {
        let send = ChatAction::Send {
            text: "hi".into(),
            attachments: Vec::new(),
        };
        assert_eq!(Placement::decide(&send, None), Some(Placement::NewReply));
        assert_eq!(
            Placement::decide(&ChatAction::Regenerate, Some(Role::Assistant)),
            Some(Placement::NewVersion)
        );
        assert_eq!(
            Placement::decide(&ChatAction::Regenerate, Some(Role::User)),
            Some(Placement::NewReply)
        );
        assert_eq!(
            Placement::decide(&ChatAction::Continue, Some(Role::User)),
            None
        );

        let mut m = vec![
            LoggedMessage::new(Role::User, "q"),
            LoggedMessage::new(Role::Assistant, "a"),
        ];
        Placement::NewVersion.apply(&mut m, "b");
        assert_eq!((m[1].versions.len(), m[1].text()), (2, "b"));
        Placement::Extend.apply(&mut m, "c");
        assert_eq!(m[1].text(), "bc");
        Placement::Composer.apply(&mut m, "ignored");
        Placement::NewReply.apply(&mut m, "d");
        assert_eq!(m.len(), 3);
        // A version of a reply that is no longer last becomes a new reply.
        let mut only_user = vec![LoggedMessage::new(Role::User, "q")];
        Placement::NewVersion.apply(&mut only_user, "x");
        assert_eq!(only_user.len(), 2);
    }
}
