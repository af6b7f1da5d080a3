use std::path::Path;

use domain::ErrorClass;
use thiserror::Error;

/// Errors of the user data folder (characters, presets, templates, chats).
/// Messages name a file by its place in the folder (`characters/Ann.yaml`),
/// never by its absolute path, and never quote its contents: they reach
/// browsers and API clients.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{kind} `{name}` does not exist")]
    NotFound { kind: &'static str, name: String },
    #[error("`{name}` is not a valid name: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("{file} is damaged: {reason}")]
    Malformed { file: String, reason: String },
    #[error("could not read or write {file}: {reason}")]
    Io { file: String, reason: String },
    #[error("{0}")]
    Invalid(String),
    #[error("the chat was changed elsewhere since it was loaded")]
    Stale,
    #[error("a reply is being generated in this chat")]
    Busy,
}

impl StoreError {
    /// What kind of failure this is, for every place that shows it.
    pub fn class(&self) -> ErrorClass {
        match self {
            StoreError::NotFound { .. } => ErrorClass::NotFound,
            StoreError::InvalidName { .. } | StoreError::Invalid(_) => ErrorClass::BadInput,
            StoreError::Malformed { .. } => ErrorClass::Unprocessable,
            StoreError::Io { .. } => ErrorClass::Internal,
            StoreError::Stale | StoreError::Busy => ErrorClass::Conflict,
        }
    }

    pub fn io(path: &Path, e: impl std::fmt::Display) -> Self {
        tracing::warn!(path = %path.display(), error = %e, "user data file not readable or writable");
        StoreError::Io {
            file: shown_name(path),
            reason: first_line(&e.to_string()),
        }
    }

    pub fn malformed(path: &Path, e: impl std::fmt::Display) -> Self {
        tracing::warn!(path = %path.display(), error = %e, "user data file damaged");
        StoreError::Malformed {
            file: shown_name(path),
            reason: first_line(&e.to_string()),
        }
    }
}

/// The file's folder and name (`characters/Ann.yaml`): enough to find it
/// in the user data folder, nothing about where that folder is.
fn shown_name(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .rev()
        .take(2)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}

/// The first line of a parser's message, without the quoted source lines
/// some parsers add, and cut to a readable length.
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or("").trim();
    let mut shown: String = line.chars().take(160).collect();
    if line.chars().count() > 160 {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file_not_its_absolute_path_or_contents() {
        let e = StoreError::malformed(
            Path::new("/home/ann/secret/user_data/characters/Ann.yaml"),
            "invalid indentation at line 3\n  3 | context: my password is hunter2",
        );
        let text = e.to_string();
        assert_eq!(
            text,
            "characters/Ann.yaml is damaged: invalid indentation at line 3"
        );
    }
}
