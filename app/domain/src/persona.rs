use serde::{Deserialize, Serialize};

/// How the conversation is turned into a prompt, as text-generation-webui
/// users know it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// `Name: text` lines after the character's context; ends with `Char:`.
    Chat,
    /// The chat prompt wrapped in a command, sent as one instruction turn.
    ChatInstruct,
    /// The turns through the model's instruction template.
    #[default]
    Instruct,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Chat => "chat",
            Mode::ChatInstruct => "chat-instruct",
            Mode::Instruct => "instruct",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "chat" => Some(Mode::Chat),
            "chat-instruct" | "chat_instruct" => Some(Mode::ChatInstruct),
            "instruct" => Some(Mode::Instruct),
            _ => None,
        }
    }
}

/// A character card: who the model plays in chat modes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Character {
    pub name: String,
    /// The scene and personality; `{{char}}` and `{{user}}` are replaced.
    pub context: String,
    /// The character's first message in a new chat.
    pub greeting: String,
    /// Other first messages (from character cards); a new chat offers them
    /// as versions of the greeting.
    pub alternate_greetings: Vec<String>,
    /// Instructions placed after the conversation, just before the
    /// character's turn (character cards' `post_history_instructions`).
    pub post_history_instructions: String,
    /// Keyword-triggered lorebook entries (character cards'
    /// `character_book`), in insertion order. Read from the card kept in
    /// the character file, so editing the character never loses them.
    pub lore: Vec<LoreEntry>,
    /// How many of the latest messages are searched for lore keys
    /// (the card book's `scan_depth`); `None` uses the default.
    pub lore_scan_depth: Option<usize>,
}

/// A lorebook entry that joins the context while one of its keys appears
/// in the latest messages (SillyTavern's world info).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoreEntry {
    pub keys: Vec<String>,
    /// With `selective`, one of these must appear as well.
    pub secondary_keys: Vec<String>,
    pub selective: bool,
    pub case_sensitive: bool,
    pub content: String,
}

/// Who the user is in chat modes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProfile {
    pub name: String,
    pub bio: String,
}

impl Default for UserProfile {
    fn default() -> Self {
        Self {
            name: "You".into(),
            bio: String::new(),
        }
    }
}

/// text-generation-webui's default chat-instruct command.
pub const DEFAULT_CHAT_INSTRUCT_COMMAND: &str =
    "Continue the chat dialogue below. Write a single reply for the character \"<|character|>\".\n\n<|prompt|>";

impl Character {
    /// The name prompts and greetings show ("Assistant" when unnamed).
    pub fn shown_name(&self) -> &str {
        if self.name.is_empty() {
            "Assistant"
        } else {
            &self.name
        }
    }
}

impl UserProfile {
    /// The name prompts and greetings show ("You" when unnamed).
    pub fn shown_name(&self) -> &str {
        if self.name.is_empty() {
            "You"
        } else {
            &self.name
        }
    }
}

/// A card's `{{char}}` and `{{user}}` (and the older `<BOT>`, `<USER>`)
/// replaced by the names, as character cards expect: in the context, the
/// greetings, lore entries and system prompts alike.
pub fn substitute_names(text: &str, bot: &str, user: &str) -> String {
    text.replace("{{char}}", bot)
        .replace("{{Char}}", bot)
        .replace("<BOT>", bot)
        .replace("{{user}}", user)
        .replace("{{User}}", user)
        .replace("<USER>", user)
}
