//! The browser-side state both tabs share, provided once as context.

use leptos::prelude::*;

use crate::types::{
    AttachmentPreview, ChatKey, ChatLog, ChatSettings, ChatSummary, FinishReason, GenerationParams,
    GenerationStats, Placement, ReplyInfo, Role, SentInfo, ToolCatalog, ToolUse,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Chat,
    Parameters,
    Notebook,
    Model,
}

impl Tab {
    pub fn label(self) -> &'static str {
        match self {
            Tab::Chat => "Chat",
            Tab::Parameters => "Parameters",
            Tab::Notebook => "Notebook",
            Tab::Model => "Model",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Streaming {
    pub request_id: String,
    /// Where the streamed text goes (the server's [`Placement`]).
    pub target: Placement,
    pub text: String,
}

/// The exact prompt of the last reply (prompt transparency).
#[derive(Clone, Debug, PartialEq)]
pub struct PromptInfo {
    pub text: String,
    pub tokens: u32,
    pub dropped_messages: u32,
}

/// A message as the Chat tab shows it: the saved chat plus the reply being
/// streamed.
#[derive(Clone, Debug, PartialEq)]
pub struct Shown {
    pub role: Role,
    pub text: String,
    /// (shown version, number of versions)
    pub version: (usize, usize),
    pub streaming: bool,
    /// The attached files' names and text sizes (not their text, which
    /// the view never shows and the memo would copy per frame).
    pub files: Vec<(String, usize)>,
    /// The shown version's numbers, where it was generated here.
    pub info: Option<ReplyInfo>,
    /// The shown version's numbers, where it is a message sent here.
    pub sent: Option<SentInfo>,
    /// The tools the shown version called.
    pub tools: Vec<ToolUse>,
}

#[derive(Clone, Copy)]
pub struct ChatState {
    pub tab: RwSignal<Tab>,
    pub params: RwSignal<GenerationParams>,
    pub settings: RwSignal<ChatSettings>,
    /// True once the saved settings were read (browser only).
    pub ready: RwSignal<bool>,
    pub chat: RwSignal<Option<ChatLog>>,
    pub chats: RwSignal<Vec<ChatSummary>>,
    pub chat_query: RwSignal<String>,
    pub streaming: RwSignal<Option<Streaming>>,
    /// What the streaming reply waits for before its first text: its place
    /// in the queue, or how much of the prompt has been read.
    pub progress: RwSignal<Option<String>>,
    pub error: RwSignal<Option<String>>,
    /// True when the error was a stale chat: the UI offers a reload.
    pub stale: RwSignal<bool>,
    pub notice: RwSignal<Option<String>>,
    pub last_stats: RwSignal<Option<GenerationStats>>,
    /// Why the last reply ended (Stop sets it at once).
    pub last_finish: RwSignal<Option<FinishReason>>,
    pub last_prompt: RwSignal<Option<PromptInfo>>,
    /// Text to put into the message box (Remove last, Impersonate).
    pub draft: RwSignal<Option<String>>,
    pub characters: RwSignal<Vec<String>>,
    /// Bumped when a character's picture changes, to reload it.
    pub picture_version: RwSignal<u32>,
    /// Bumped when the model changes, to refresh what shows it.
    pub model_version: RwSignal<u32>,
    /// The file of the model that answers, once known.
    pub model_name: RwSignal<Option<String>>,
    /// Files read for the next message, with their token counts.
    pub pending_files: RwSignal<Vec<AttachmentPreview>>,
    /// Files picked but not read yet (Send waits for them).
    pub reading_files: RwSignal<usize>,
    /// The tools chats may offer, once the Tools panel asked for them.
    pub tool_catalog: RwSignal<Option<ToolCatalog>>,
}

impl ChatState {
    pub fn new() -> Self {
        Self {
            tab: RwSignal::new(Tab::Chat),
            params: RwSignal::new(GenerationParams::default()),
            settings: RwSignal::new(ChatSettings::default()),
            ready: RwSignal::new(false),
            chat: RwSignal::new(None),
            chats: RwSignal::new(Vec::new()),
            chat_query: RwSignal::new(String::new()),
            streaming: RwSignal::new(None),
            progress: RwSignal::new(None),
            error: RwSignal::new(None),
            stale: RwSignal::new(false),
            notice: RwSignal::new(None),
            last_stats: RwSignal::new(None),
            last_finish: RwSignal::new(None),
            last_prompt: RwSignal::new(None),
            draft: RwSignal::new(None),
            characters: RwSignal::new(Vec::new()),
            picture_version: RwSignal::new(0),
            model_version: RwSignal::new(0),
            model_name: RwSignal::new(None),
            pending_files: RwSignal::new(Vec::new()),
            reading_files: RwSignal::new(0),
            tool_catalog: RwSignal::new(None),
        }
    }

    pub fn expect() -> Self {
        expect_context::<Self>()
    }

    /// The key of the chat that is open, if any.
    pub fn open_key(&self) -> Option<ChatKey> {
        self.chat
            .with_untracked(|c| c.as_ref().map(|c| c.key.clone()))
    }

    pub fn busy(&self) -> bool {
        self.streaming.with(Option::is_some)
    }

    /// Shows an error; a stale-chat error also offers a reload.
    pub fn fail(&self, error: crate::types::AppError) {
        self.stale
            .set(matches!(error, crate::types::AppError::StaleChat));
        self.error.set(Some(error.to_string()));
    }

    pub fn clear_messages(&self) {
        self.error.set(None);
        self.stale.set(false);
        self.notice.set(None);
    }

    /// The conversation as shown: the saved messages with the streaming
    /// reply placed where it will be saved.
    pub fn shown(&self) -> Vec<Shown> {
        let mut shown: Vec<Shown> = self.chat.with(|c| {
            c.as_ref()
                .map(|c| {
                    c.messages
                        .iter()
                        .map(|m| Shown {
                            role: m.role,
                            text: m.text().to_string(),
                            version: (m.current, m.versions.len()),
                            streaming: false,
                            files: m
                                .attachments
                                .iter()
                                .map(|a| (a.name.clone(), a.content.len()))
                                .collect(),
                            info: m.reply_info.clone().filter(|i| i.version == m.current),
                            sent: m.shown_sent_info().cloned(),
                            tools: m.shown_tool_uses().cloned().collect(),
                        })
                        .collect()
                })
                .unwrap_or_default()
        });
        self.streaming.with(|s| {
            let Some(s) = s else { return };
            let streaming_reply = |text: String, version| Shown {
                role: Role::Assistant,
                text,
                version,
                streaming: true,
                files: Vec::new(),
                info: None,
                sent: None,
                tools: Vec::new(),
            };
            match s.target {
                Placement::NewReply => shown.push(streaming_reply(s.text.clone(), (0, 1))),
                Placement::NewVersion => {
                    if let Some(last) = shown.last_mut() {
                        let total = last.version.1 + 1;
                        *last = streaming_reply(s.text.clone(), (total - 1, total));
                    }
                }
                Placement::Extend => {
                    if let Some(last) = shown.last_mut() {
                        last.text.push_str(&s.text);
                        last.streaming = true;
                    }
                }
                Placement::Composer => {}
            }
        });
        shown
    }
}
