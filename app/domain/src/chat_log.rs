use serde::{Deserialize, Serialize};

use super::{with_attachments, Attachment, ChatMessage, ChatTools, Fork, Role, ToolUse};

/// Where a chat is kept: text-generation-webui keeps instruct chats in one
/// list and chat-mode chats per character.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChatFolder {
    Instruct,
    Character(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChatKey {
    pub folder: ChatFolder,
    /// The file name without `.json`, e.g. `20261127-14-03-09`.
    pub id: String,
}

/// One message with every version the user kept (Regenerate adds one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedMessage {
    pub role: Role,
    pub versions: Vec<String>,
    /// Which version is shown and sent to the model.
    pub current: usize,
    /// Files the user attached (user messages only); every version reads them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// How the last generated version came to be (replies only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_info: Option<ReplyInfo>,
    /// The tools the reply's versions called (replies only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_uses: Vec<ToolUse>,
    /// The rest of the chat after the other versions (user messages only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forks: Vec<Fork>,
    /// When the last sent version was sent and what its prompt cost
    /// (user messages only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_info: Option<SentInfo>,
}

/// The numbers of one generated reply, shown when the pointer rests on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyInfo {
    /// The version these numbers belong to.
    pub version: usize,
    pub tokens: u32,
    /// Tenths of a token per second (an integer keeps the type `Eq`).
    pub decitokens_per_second: u32,
    pub first_token_ms: u32,
    /// When the reply ended, in milliseconds since 1970 (UTC).
    pub finished_at_ms: u64,
}

/// The numbers of one sent user message, shown when the pointer rests on
/// it: when it left, its own length, and the prompt its reply read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentInfo {
    /// The version these numbers belong to.
    pub version: usize,
    /// When it was sent, in milliseconds since 1970 (UTC).
    pub sent_at_ms: u64,
    /// Its tokens with its files (none where no tokenizer was at hand,
    /// or after it was edited in place).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u32>,
    /// The prompt its latest reply read (none until a reply finished).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptRead>,
}

/// How a reply's prompt was read: its length, the part reused from the
/// cache, and the reading speed of the rest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptRead {
    pub tokens: u32,
    pub reused: u32,
    /// Tenths of a token per second (an integer keeps the type `Eq`).
    pub decitokens_per_second: u32,
}

impl LoggedMessage {
    pub fn new(role: Role, text: impl Into<String>) -> Self {
        Self {
            role,
            versions: vec![text.into()],
            current: 0,
            attachments: Vec::new(),
            reply_info: None,
            tool_uses: Vec::new(),
            forks: Vec::new(),
            sent_info: None,
        }
    }

    /// The sent-message numbers of the shown version, if it has them.
    pub fn shown_sent_info(&self) -> Option<&SentInfo> {
        self.sent_info
            .as_ref()
            .filter(|i| i.version == self.current)
    }

    pub fn shown_sent_info_mut(&mut self) -> Option<&mut SentInfo> {
        let current = self.current;
        self.sent_info.as_mut().filter(|i| i.version == current)
    }

    /// The text the model reads: the shown version and the attached files.
    pub fn prompt_text(&self) -> String {
        with_attachments(self.text(), &self.attachments)
    }

    pub fn text(&self) -> &str {
        self.versions.get(self.current).map_or("", String::as_str)
    }

    /// The shown version, for editing in place.
    pub fn text_mut(&mut self) -> &mut String {
        if self.versions.is_empty() {
            self.versions.push(String::new());
        }
        self.current = self.current.min(self.versions.len() - 1);
        &mut self.versions[self.current]
    }
}

/// A saved conversation. `revision` grows with every save; a save based on
/// an older revision (a stale tab) is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatLog {
    pub key: ChatKey,
    pub revision: u64,
    pub messages: Vec<LoggedMessage>,
    /// Which tools this chat offers the model.
    #[serde(default)]
    pub tools: ChatTools,
}

impl ChatLog {
    /// The conversation as the model sees it: the shown version of each
    /// message, with the calls replies made and their results.
    pub fn history(&self) -> Vec<ChatMessage> {
        self.history_before(self.messages.len())
    }

    /// [`Self::history`] of the messages before `end` (Regenerate reads
    /// the chat without its last reply).
    pub fn history_before(&self, end: usize) -> Vec<ChatMessage> {
        self.messages[..end.min(self.messages.len())]
            .iter()
            .flat_map(LoggedMessage::prompt_messages)
            .collect()
    }
}

/// A line of the past-chats list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatSummary {
    pub key: ChatKey,
    /// The first user message, shortened.
    pub title: String,
    pub messages: usize,
}

/// Changes to a chat that need no generation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChatEdit {
    /// Replace the shown version of message `index`.
    EditMessage { index: usize, text: String },
    /// Show another version of message `index`.
    SelectVersion { index: usize, version: usize },
    /// Drop the last exchange (the last user message and what follows it).
    RemoveLast,
    /// Add a user message without asking for a reply.
    DummyMessage { text: String },
    /// Add an assistant message written by the user.
    DummyReply { text: String },
    /// Offer a tool to the model in this chat, or stop offering it.
    EnableTool { name: String, enabled: bool },
    /// Run a tool's calls in this chat without asking, or ask again.
    AlwaysAllowTool { name: String, allowed: bool },
    /// Approve or reject a pending call of the last reply.
    DecideToolCall { id: String, approve: bool },
}

/// What the model is asked to write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChatAction {
    /// Add the user's message (if it has text or files) and reply to it.
    Send {
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<Attachment>,
    },
    /// A new version of the last reply.
    Regenerate,
    /// More of the last reply.
    Continue,
    /// A message in the user's voice, returned for the message box. It
    /// starts with `text` (what the box held), as text-generation-webui's
    /// Impersonate does.
    Impersonate { text: String },
    /// Run the last reply's approved calls and let it go on with their
    /// results.
    RunTools,
    /// Send user message `index` again as `text`: a new version of it,
    /// the chat after it kept with the old version, and a new reply.
    Resend { index: usize, text: String },
}

impl ChatAction {
    /// The user's message this action adds to the chat: Send's text and
    /// files, unless both are empty (then Send only asks for a reply).
    pub fn new_user_message(&self) -> Option<LoggedMessage> {
        match self {
            ChatAction::Send { text, attachments }
                if !text.trim().is_empty() || !attachments.is_empty() =>
            {
                let mut message = LoggedMessage::new(Role::User, text.clone());
                message.attachments = attachments.clone();
                Some(message)
            }
            _ => None,
        }
    }
}
