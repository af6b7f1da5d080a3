//! Types shared by the browser (the `app` crate, compiled to wasm) and the
//! server: they cross the server-function boundary as JSON, so they stay
//! plain serde structs. Nothing here names leptos, axum or the engine.

mod attachment;
mod cache_type;
mod caller;
mod chat;
mod chat_log;
mod error_class;
mod events;
mod forks;
mod library;
mod model;
mod param_ranges;
mod params;
mod persona;
mod placement;
pub mod reasoning;
mod requests;
mod sampler_priority;
mod settings;
mod tool_use;

pub use attachment::{
    check_attachments, check_file_size, size_text, with_attachments, Attachment, AttachmentPreview,
    MAX_ATTACHMENTS_PER_MESSAGE, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENT_TEXT_BYTES,
};
pub use cache_type::{CacheType, Q8_GROUP};
pub use caller::Caller;
pub use chat::{ChatMessage, FunctionCall, Role, ToolCall};
pub use chat_log::{
    ChatAction, ChatEdit, ChatFolder, ChatKey, ChatLog, ChatSummary, LoggedMessage, PromptRead,
    ReplyInfo, SentInfo,
};
pub use error_class::ErrorClass;
pub use events::{EventLineDecoder, FinishReason, GenerationStats, StreamEvent};
pub use forks::{fork_user_message, select_user_version, Fork};
pub use library::{CardImport, CharacterInfo, PresetInfo};
pub use model::{
    Batching, DownloadState, DownloadStatus, LoadChoice, ModelFile, ModelPanel, ModelStatus,
    RemoteModelFile, MAX_PARALLEL, MAX_THREADS,
};
pub use param_ranges::{NumericParam, MAX_NEW_TOKENS_LIMIT, MIN_TEMPERATURE, NUMERIC_PARAMS};
pub use params::{
    parse_breakers, GenerationParams, ParamError, ValidParams, DEFAULT_DRY_SEQUENCE_BREAKERS,
};
pub use persona::{
    substitute_names, Character, LoreEntry, Mode, UserProfile, DEFAULT_CHAT_INSTRUCT_COMMAND,
};
pub use placement::Placement;
pub use requests::{CompletionRequest, ReplyRequest};
pub use sampler_priority::{parse_sampler_priority, SamplerStage, DEFAULT_SAMPLER_PRIORITY};
pub use settings::{ChatSettings, ChatStyle, UserSettings};
pub use tool_use::{
    split_at_calls, ChatTools, ToolCatalog, ToolInfo, ToolSourceProblem, ToolState, ToolUse,
    MAX_TOOL_ROUNDS, REJECTED_RESULT,
};
