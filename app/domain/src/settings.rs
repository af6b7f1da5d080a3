use serde::{Deserialize, Serialize};

use super::{Mode, UserProfile, DEFAULT_CHAT_INSTRUCT_COMMAND};

/// How the Chat tab builds prompts: chosen on the Parameters tab and the
/// mode switch, remembered by the browser.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatSettings {
    pub mode: Mode,
    /// The character for chat and chat-instruct modes.
    pub character: String,
    pub user: UserProfile,
    /// Instruct mode's system message; empty keeps the template's default.
    pub system_message: String,
    pub chat_instruct_command: String,
    /// A saved instruction template by name; `None` uses the model's own.
    pub instruction_template: Option<String>,
    /// text-generation-webui's "Start reply with": new replies begin with
    /// this text and the model goes on from it.
    pub start_reply_with: String,
    /// The Chat tab's "Thinking" switch, given to templates that read
    /// `enable_thinking` (Qwen3's).
    pub thinking: bool,
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self {
            mode: Mode::Instruct,
            character: "Assistant".into(),
            user: UserProfile::default(),
            system_message: String::new(),
            chat_instruct_command: DEFAULT_CHAT_INSTRUCT_COMMAND.into(),
            instruction_template: None,
            start_reply_with: String::new(),
            thinking: true,
        }
    }
}

impl ChatSettings {
    /// The folder the current mode's chats are kept in.
    pub fn folder(&self) -> super::ChatFolder {
        match self.mode {
            Mode::Instruct => super::ChatFolder::Instruct,
            Mode::Chat | Mode::ChatInstruct => super::ChatFolder::Character(self.character.clone()),
        }
    }
}
