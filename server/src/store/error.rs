use thiserror::Error;

/// Errors of the user data folder (characters, presets, templates, chats).
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{kind} `{name}` does not exist")]
    NotFound { kind: &'static str, name: String },
    #[error("`{0}` is not a valid name: use letters, digits, spaces, '-', '_' or '.', not starting with '.'")]
    InvalidName(String),
    #[error("{path} is not valid: {reason}")]
    Malformed { path: String, reason: String },
    #[error("could not read or write {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("{0}")]
    Invalid(String),
    #[error("the chat was changed elsewhere since it was loaded")]
    Stale,
    #[error("a reply is being generated in this chat")]
    Busy,
}

impl StoreError {
    pub fn io(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        StoreError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }

    pub fn malformed(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        StoreError::Malformed {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}
