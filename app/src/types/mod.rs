//! Types shared by the browser and the server: they cross the server-function
//! boundary as JSON, so they stay plain serde structs that compile to wasm.

mod chat;
mod error;
mod events;
mod model;
mod params;
mod persona;

pub use chat::{ChatMessage, ReplyRequest, Role};
pub use error::AppError;
pub use events::{EventLineDecoder, FinishReason, GenerationStats, StreamEvent};
pub use model::ModelStatus;
pub use params::{GenerationParams, ParamError};
pub use persona::{Character, Mode, UserProfile, DEFAULT_CHAT_INSTRUCT_COMMAND};
