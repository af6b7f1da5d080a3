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
    /// The model file the template was chosen for: another model starts
    /// with its own template.
    pub template_model: Option<String>,
    /// text-generation-webui's "Start reply with": new replies begin with
    /// this text and the model goes on from it.
    pub start_reply_with: String,
    /// The Chat tab's "Thinking" switch, given to templates that read
    /// `enable_thinking` (Qwen3's).
    pub thinking: bool,
    /// How the messages look.
    pub chat_style: ChatStyle,
}

/// How the Chat tab draws messages, as text-generation-webui's chat
/// styles do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChatStyle {
    /// Bubbles: the user's on the right.
    #[default]
    Default,
    /// TGW's cai-chat: every message full width under a picture and a
    /// name, as Character.AI showed them.
    CaiChat,
    /// Dense lines without bubbles or pictures, for long chats on small
    /// screens.
    Compact,
}

impl ChatStyle {
    pub const ALL: [ChatStyle; 3] = [ChatStyle::Default, ChatStyle::CaiChat, ChatStyle::Compact];

    /// The name TGW's settings and the page's class use.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatStyle::Default => "default",
            ChatStyle::CaiChat => "cai-chat",
            ChatStyle::Compact => "compact",
        }
    }

    /// A style by name; TGW's other styles read as the default.
    pub fn from_name(name: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .unwrap_or_default()
    }
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
            template_model: None,
            start_reply_with: String::new(),
            thinking: true,
            chat_style: ChatStyle::Default,
        }
    }
}

impl ChatSettings {
    /// Uses `template` (a saved one's name, or `None` for the model's own)
    /// for `model`, the file loaded now.
    pub fn choose_template(&mut self, template: Option<String>, model: Option<String>) {
        self.template_model = template.as_ref().and(model);
        self.instruction_template = template;
    }

    /// `model` is the file loaded now: a template chosen for another model
    /// gives way to this model's own (the name of the one dropped is
    /// returned, to say so). A choice made before the model was known is
    /// taken as this model's.
    pub fn follow_model(&mut self, model: &str) -> Option<String> {
        self.instruction_template.as_ref()?;
        match self.template_model.as_deref() {
            Some(chosen_for) if chosen_for != model => {
                self.template_model = None;
                self.instruction_template.take()
            }
            Some(_) => None,
            None => {
                self.template_model = Some(model.to_string());
                None
            }
        }
    }

    /// The folder the current mode's chats are kept in.
    pub fn folder(&self) -> super::ChatFolder {
        match self.mode {
            Mode::Instruct => super::ChatFolder::Instruct,
            Mode::Chat | Mode::ChatInstruct => super::ChatFolder::Character(self.character.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_belongs_to_the_model_it_was_chosen_for() {
        let mut s = ChatSettings::default();
        s.choose_template(Some("ChatML".into()), Some("smol.gguf".into()));
        assert_eq!(s.follow_model("smol.gguf"), None);
        assert_eq!(s.instruction_template.as_deref(), Some("ChatML"));
        // Another model: its own template, and the dropped one is named.
        assert_eq!(s.follow_model("gemma.gguf"), Some("ChatML".into()));
        assert_eq!(s.instruction_template, None);
        assert_eq!(s.template_model, None);
        // Nothing chosen: nothing to follow.
        assert_eq!(s.follow_model("smol.gguf"), None);
        // A choice saved before this field existed is the current model's.
        let mut old = ChatSettings {
            instruction_template: Some("Alpaca".into()),
            ..ChatSettings::default()
        };
        assert_eq!(old.follow_model("qwen.gguf"), None);
        assert_eq!(old.template_model.as_deref(), Some("qwen.gguf"));
        // The model's own template is no choice to keep.
        old.choose_template(None, Some("qwen.gguf".into()));
        assert_eq!(old.template_model, None);
    }
}

/// What follows a user from device to device: the Chat tab's settings,
/// the samplers and the preset they came from. Kept by the server in
/// `settings.yaml` (text-generation-webui's file and keys); the browser
/// only caches it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserSettings {
    pub settings: ChatSettings,
    pub params: super::GenerationParams,
    /// The preset the samplers were last loaded from or saved as.
    pub preset: Option<String>,
}
