//! Server functions: one-line adapters from the browser onto [`crate::services`].

mod account;
mod chat;
mod library;
mod logs;
mod models;
mod settings;

pub use account::load_account;
pub use chat::{
    generate_completion, generate_reply, load_model_status, load_model_template, load_tool_catalog,
    read_attachment, stop_reply, GenerateReply, LoadModelStatus, LoadToolCatalog, ReadAttachment,
    StopReply,
};
pub use library::*;
pub use logs::*;
pub use models::*;
pub use settings::{load_settings, save_settings, LoadSettings, SaveSettings};

/// Uploaded files (pictures, cards, chat files) travel as base64 text
/// inside the JSON body.
#[cfg(feature = "ssr")]
fn decode_base64(data: &str) -> Result<Vec<u8>, crate::types::AppError> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| {
            crate::types::AppError::InvalidParameter(format!(
                "the uploaded file could not be read: {e}"
            ))
        })
}
