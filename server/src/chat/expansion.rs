//! How large a request's placeholders can make its prompt text, checked
//! before anything is built. `{{user}}`, `{{char}}`, `<BOT>` and `<USER>`
//! in a character's texts become names, and chat-instruct's command holds
//! the whole transcript at each `<|prompt|>`: a command with many of them,
//! or a long name behind many placeholders, would multiply the request's
//! text in memory long before the prompt is tokenized and found too long.

use domain::Mode;

use super::{ChatError, ChatRequest};

/// The most text one request may expand to: as much as a template render
/// may write (`prompt::MAX_RENDER_BYTES`), far beyond any model's context.
pub const MAX_EXPANDED_BYTES: usize = crate::prompt::MAX_RENDER_BYTES;

/// The shortest name placeholder (`<BOT>`): each of its bytes can become
/// this share of the longest name.
const SHORTEST_NAME_PLACEHOLDER: usize = 5;

impl ChatRequest {
    /// Refuses a request whose placeholders could expand past
    /// [`MAX_EXPANDED_BYTES`], naming the field that multiplies it. An upper
    /// bound, so it never allocates what it guards against.
    pub fn check_expansion(&self) -> Result<(), ChatError> {
        let longest_name = self
            .user
            .shown_name()
            .len()
            .max(self.character.shown_name().len());
        let growth = longest_name.div_ceil(SHORTEST_NAME_PLACEHOLDER).max(1);
        let character = &self.character;
        let persona_text = character.context.len()
            + character.post_history_instructions.len()
            + character
                .lore
                .iter()
                .map(|l| l.content.len())
                .sum::<usize>()
            + self.user.bio.len()
            + self.system_message.as_ref().map_or(0, String::len);
        let history: usize = self
            .history
            .iter()
            .map(|m| m.content.len() + longest_name + 3)
            .sum();
        let transcript = persona_text.saturating_mul(growth).saturating_add(history);
        let too_large = |param: &'static str, bytes: usize| ChatError::InvalidParameter {
            message: format!(
                "{param} would expand the prompt to about {} MB of text (the limit is {} MB)",
                bytes >> 20,
                MAX_EXPANDED_BYTES >> 20
            ),
            param,
        };
        if transcript > MAX_EXPANDED_BYTES {
            let param = if longest_name > 256 {
                "name"
            } else {
                "context"
            };
            return Err(too_large(param, transcript));
        }
        if self.mode == Mode::ChatInstruct {
            let command = &self.chat_instruct_command;
            let transcripts = command.matches("<|prompt|>").count();
            let names = command.matches("<|character|>").count();
            let expanded = transcripts
                .saturating_mul(transcript)
                .saturating_add(names.saturating_mul(longest_name))
                .saturating_add(command.len());
            if expanded > MAX_EXPANDED_BYTES {
                return Err(too_large("chat_instruct_command", expanded));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use domain::{Character, ChatMessage, GenerationParams, Role, UserProfile};

    use super::*;
    use crate::prompt::Continuation;

    fn request(mode: Mode, command: &str, user_name: &str, context: &str) -> ChatRequest {
        ChatRequest {
            history: vec![ChatMessage::new(Role::User, "x".repeat(10_000))],
            mode,
            character: Character {
                name: "Aria".into(),
                context: context.into(),
                ..Default::default()
            },
            user: UserProfile {
                name: user_name.into(),
                bio: String::new(),
            },
            system_message: None,
            chat_instruct_command: command.into(),
            instruction_template: None,
            continuation: Continuation::Reply,
            params: GenerationParams::default().validate().unwrap(),
            enable_thinking: None,
            tools: Vec::new(),
            grammar: None,
            logprobs: None,
            pass_through: Default::default(),
        }
    }

    fn refused_param(r: &ChatRequest) -> Option<&'static str> {
        match r.check_expansion() {
            Err(ChatError::InvalidParameter { param, .. }) => Some(param),
            _ => None,
        }
    }

    #[test]
    fn ordinary_requests_pass() {
        let r = request(
            Mode::ChatInstruct,
            domain::DEFAULT_CHAT_INSTRUCT_COMMAND,
            "You",
            "{{user}} sails.",
        );
        assert_eq!(refused_param(&r), None);
    }

    #[test]
    fn a_command_that_repeats_the_transcript_is_refused() {
        let command = "<|prompt|>".repeat(5_000);
        let r = request(Mode::ChatInstruct, &command, "You", "");
        assert_eq!(refused_param(&r), Some("chat_instruct_command"));
        // The same command does nothing outside chat-instruct.
        assert_eq!(
            refused_param(&request(Mode::Chat, &command, "You", "")),
            None
        );
    }

    #[test]
    fn a_long_name_behind_many_placeholders_is_refused() {
        let context = "{{user}}".repeat(200_000);
        let long = "N".repeat(2_000);
        assert_eq!(
            refused_param(&request(Mode::Chat, "", &long, &context)),
            Some("name")
        );
        assert_eq!(
            refused_param(&request(Mode::Chat, "", "Sam", &context)),
            None
        );
    }
}
