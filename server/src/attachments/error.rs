use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a file cannot be attached. Every message names the file and says
/// what to do; none carries a path or an internal detail.
#[derive(Clone, Debug, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum AttachmentError {
    /// The message says the file's size and the limit.
    #[error("{0}")]
    TooLarge(String),
    #[error("{name} is an image: the loaded engine cannot see images (it has no vision model), so attach text, Markdown, source code, CSV/JSON, PDF or docx files")]
    Image { name: String },
    #[error("{name} is not {expected}: {why}")]
    Mismatch {
        name: String,
        expected: String,
        why: String,
    },
    #[error("{name} could not be read: {why}")]
    Unreadable { name: String, why: String },
    #[error("{name} has no text to read{why}")]
    NoText { name: String, why: String },
    #[error("{name} is refused: {why}")]
    TooExpensive { name: String, why: String },
    #[error("reading attachments failed on the server; see its log")]
    Failed,
}

impl AttachmentError {
    /// The user's file is at fault, except where the server failed.
    pub fn class(&self) -> domain::ErrorClass {
        match self {
            AttachmentError::TooLarge(_) => domain::ErrorClass::TooLarge,
            AttachmentError::Failed => domain::ErrorClass::Internal,
            _ => domain::ErrorClass::BadInput,
        }
    }
}
