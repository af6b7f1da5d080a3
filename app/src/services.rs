//! What the server functions need from the server, as traits the server
//! crate implements and puts into the Leptos context. The UI crate never
//! names a server type, so it keeps compiling to wasm and every server piece
//! stays testable without a browser.

use std::{future::Future, pin::Pin, sync::Arc};

use futures::Stream;

use crate::types::{
    AppError, AttachmentPreview, Caller, CardImport, Character, CharacterInfo, ChatEdit,
    ChatFolder, ChatKey, ChatLog, ChatSummary, CompletionRequest, DownloadStatus, GenerationParams,
    LoadChoice, ModelFile, ModelPanel, ModelStatus, PresetInfo, RemoteModelFile, ReplyRequest,
    StreamEvent, ToolCatalog, UserSettings,
};

/// A reply as it is generated; dropping it cancels the generation (what was
/// generated so far is still saved).
pub type EventStream = Pin<Box<dyn Stream<Item = StreamEvent> + Send>>;

/// Generation and the model.
pub trait ChatService: Send + Sync + 'static {
    /// Applies the action to the caller's saved chat and streams the reply.
    fn start_reply(
        &self,
        caller: &Caller,
        request: ReplyRequest,
    ) -> Pin<Box<dyn Future<Output = Result<EventStream, AppError>> + Send>>;
    /// Streams the model's continuation of raw text (the Notebook tab).
    fn start_completion(
        &self,
        caller: &Caller,
        request: CompletionRequest,
    ) -> Result<EventStream, AppError>;
    /// Ends the caller's named generation at its next token; false if it
    /// was not running.
    fn stop_reply(&self, caller: &Caller, request_id: &str) -> bool;
    fn model_status(&self) -> ModelStatus;
    /// The loaded model's own chat template, for display.
    fn model_template(&self) -> Option<String>;
    /// Reads a file for the message box: its text and its token count.
    fn read_attachment(
        &self,
        name: String,
        bytes: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Result<AttachmentPreview, AppError>> + Send>>;
    /// The tools chats may offer, and the MCP servers that failed.
    fn tool_catalog(&self) -> Pin<Box<dyn Future<Output = ToolCatalog> + Send>>;
}

/// Saved chats: each caller's own (see [`Caller`]).
pub trait ChatLogService: Send + Sync + 'static {
    /// Chats of a folder, newest first; with a query, those containing it.
    fn list(
        &self,
        caller: &Caller,
        folder: &ChatFolder,
        query: Option<&str>,
    ) -> Result<Vec<ChatSummary>, AppError>;
    fn load(&self, caller: &Caller, key: &ChatKey) -> Result<ChatLog, AppError>;
    /// A new chat; a character's starts with its greetings, which name the
    /// user `user_name`.
    fn create(
        &self,
        caller: &Caller,
        folder: &ChatFolder,
        user_name: &str,
    ) -> Result<ChatLog, AppError>;
    fn edit(
        &self,
        caller: &Caller,
        key: &ChatKey,
        base_revision: u64,
        edit: ChatEdit,
    ) -> Result<ChatLog, AppError>;
    /// Renames or deletes the chat if `base_revision` is still current.
    fn rename(
        &self,
        caller: &Caller,
        key: &ChatKey,
        base_revision: u64,
        new_id: &str,
    ) -> Result<ChatKey, AppError>;
    fn delete(&self, caller: &Caller, key: &ChatKey, base_revision: u64) -> Result<(), AppError>;
    /// A new chat with the messages up to and including `upto`.
    fn branch(&self, caller: &Caller, key: &ChatKey, upto: usize) -> Result<ChatLog, AppError>;
    /// The chat as a text-generation-webui chat file.
    fn export(&self, caller: &Caller, key: &ChatKey) -> Result<String, AppError>;
    /// A new chat in `folder` from a text-generation-webui chat file.
    fn import(
        &self,
        caller: &Caller,
        folder: &ChatFolder,
        file: &[u8],
    ) -> Result<ChatLog, AppError>;
}

/// Characters, presets and instruction templates.
pub trait LibraryService: Send + Sync + 'static {
    fn characters(&self) -> Result<Vec<String>, AppError>;
    fn character(&self, name: &str) -> Result<CharacterInfo, AppError>;
    /// Saves; with `copy_from` (Save as) the other character's extra fields
    /// and picture come along.
    fn save_character(
        &self,
        character: Character,
        copy_from: Option<String>,
    ) -> Result<(), AppError>;
    fn delete_character(&self, name: &str) -> Result<(), AppError>;
    fn set_picture(&self, name: &str, image: &[u8]) -> Result<(), AppError>;
    fn import_card(&self, png: &[u8]) -> Result<CardImport, AppError>;
    fn presets(&self) -> Result<Vec<String>, AppError>;
    fn preset(&self, name: &str) -> Result<PresetInfo, AppError>;
    fn save_preset(&self, name: &str, params: &GenerationParams) -> Result<(), AppError>;
    fn delete_preset(&self, name: &str) -> Result<(), AppError>;
    fn templates(&self) -> Result<Vec<String>, AppError>;
    fn template(&self, name: &str) -> Result<String, AppError>;
    fn save_template(&self, name: &str, source: &str) -> Result<(), AppError>;
    fn delete_template(&self, name: &str) -> Result<(), AppError>;
}

/// The Model tab: the model folder, loading, downloads.
/// Each caller's settings (the Chat tab's, the samplers, the preset),
/// kept by the server so they follow the user to another device.
pub trait SettingsService: Send + Sync + 'static {
    /// `None` before the caller first saved any.
    fn load(&self, caller: &Caller) -> Result<Option<UserSettings>, AppError>;
    fn save(&self, caller: &Caller, settings: UserSettings) -> Result<(), AppError>;
}

pub trait ModelService: Send + Sync + 'static {
    fn files(&self) -> Vec<ModelFile>;
    fn panel(&self) -> ModelPanel;
    /// Starts loading a model from the folder; [`ModelService::panel`] shows progress.
    fn load(&self, name: &str, choice: LoadChoice) -> Result<(), AppError>;
    fn unload(&self) -> Result<(), AppError>;
    /// The GGUF files of a Hugging Face repository.
    fn remote_files(
        &self,
        repo: String,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<RemoteModelFile>, AppError>> + Send>>;
    /// Starts a download into the model folder.
    fn download(&self, repo: &str, file: &str) -> Result<u64, AppError>;
    fn downloads(&self) -> Vec<DownloadStatus>;
}

/// The services server functions find in their context.
#[derive(Clone)]
pub struct Services {
    pub chat: Arc<dyn ChatService>,
    pub logs: Arc<dyn ChatLogService>,
    pub library: Arc<dyn LibraryService>,
    pub models: Arc<dyn ModelService>,
    pub settings: Arc<dyn SettingsService>,
    /// Who made the current request (filled in by [`services`]).
    pub caller: Caller,
}

/// The services of the current request, with its caller (which the
/// server's access guard puts into the request's extensions), or a clear
/// error if the server forgot to provide them.
pub fn services() -> Result<Services, AppError> {
    use leptos::prelude::use_context;
    let mut services = use_context::<Services>()
        .ok_or_else(|| AppError::Misconfigured("the services are not in the context".into()))?;
    services.caller = use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>().cloned())
        .unwrap_or_default();
    Ok(services)
}
