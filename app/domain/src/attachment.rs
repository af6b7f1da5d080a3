//! Files attached to a user message: their text enters the prompt in a
//! delimited block after the message (the way text-generation-webui
//! formats attachments), and is saved with the message so a reloaded or
//! regenerated chat reads the same files.

use serde::{Deserialize, Serialize};

/// The largest file the chat reads (before its text is taken out).
pub const MAX_ATTACHMENT_BYTES: usize = 8 << 20;
/// The most files one message carries.
pub const MAX_ATTACHMENTS_PER_MESSAGE: usize = 10;
/// The most text all of one message's files may add (in bytes of UTF-8):
/// far more than any model's context, so only the token count limits a
/// message in practice, while a bad client cannot send a huge one.
pub const MAX_ATTACHMENT_TEXT_BYTES: usize = 2 << 20;

/// The text of one attached file. Field names follow text-generation-
/// webui's chat files (`metadata.user_N.attachments`), so its chats with
/// attachments read here and ours read there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The file's name as the user's computer gave it (no folder).
    pub name: String,
    /// What the file was: `text/plain`, `application/pdf`, `application/docx`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The text the model reads.
    pub content: String,
}

/// A file read for the message box: its text and what it costs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentPreview {
    pub attachment: Attachment,
    /// Tokens in the loaded model's vocabulary; `None` with no model loaded.
    pub tokens: Option<usize>,
}

/// The user's message as the model reads it: the text, then each file
/// between `=====` lines under its name.
pub fn with_attachments(text: &str, attachments: &[Attachment]) -> String {
    if attachments.is_empty() {
        return text.to_string();
    }
    let mut out = String::from(text);
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    out.push_str("ATTACHMENTS:\n");
    for a in attachments {
        out.push_str("\nName: ");
        out.push_str(&a.name);
        out.push_str("\nContents:\n\n=====\n");
        out.push_str(a.content.trim_end());
        out.push_str("\n=====\n");
    }
    out
}

/// Why a file of `bytes` cannot be attached (too large), in the words the
/// browser shows before sending it and the server answers with.
pub fn check_file_size(name: &str, bytes: usize) -> Result<(), String> {
    if bytes > MAX_ATTACHMENT_BYTES {
        return Err(format!(
            "{name} is {}; a file can be at most {}",
            size_text(bytes),
            size_text(MAX_ATTACHMENT_BYTES)
        ));
    }
    Ok(())
}

/// Why a message's files are refused (checked by the browser before it
/// sends and by the server again).
pub fn check_attachments(attachments: &[Attachment]) -> Result<(), String> {
    if attachments.len() > MAX_ATTACHMENTS_PER_MESSAGE {
        return Err(format!(
            "a message can carry at most {MAX_ATTACHMENTS_PER_MESSAGE} files ({} attached)",
            attachments.len()
        ));
    }
    let total: usize = attachments.iter().map(|a| a.content.len()).sum();
    if total > MAX_ATTACHMENT_TEXT_BYTES {
        return Err(format!(
            "the attached files hold {} of text; a message can carry at most {}",
            size_text(total),
            size_text(MAX_ATTACHMENT_TEXT_BYTES)
        ));
    }
    Ok(())
}

/// A byte count as people read it: `512 B`, `3.4 KB`, `8 MB`.
pub fn size_text(bytes: usize) -> String {
    const KB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KB {
        format!("{bytes} B")
    } else if b < KB * KB {
        trimmed(b / KB, "KB")
    } else {
        trimmed(b / (KB * KB), "MB")
    }
}

fn trimmed(value: f64, unit: &str) -> String {
    let text = format!("{value:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, content: &str) -> Attachment {
        Attachment {
            name: name.into(),
            kind: "text/plain".into(),
            content: content.into(),
        }
    }

    #[test]
    fn the_message_is_followed_by_each_file_between_delimiters() {
        let text = with_attachments(
            "What do these say?",
            &[file("a.txt", "alpha\n\n"), file("b.md", "# beta")],
        );
        assert_eq!(
            text,
            "What do these say?\n\nATTACHMENTS:\n\
             \nName: a.txt\nContents:\n\n=====\nalpha\n=====\n\
             \nName: b.md\nContents:\n\n=====\n# beta\n=====\n"
        );
    }

    #[test]
    fn a_message_of_files_only_starts_with_the_block() {
        let text = with_attachments("", &[file("a.txt", "alpha")]);
        assert!(text.starts_with("ATTACHMENTS:\n\nName: a.txt"), "{text}");
    }

    #[test]
    fn a_message_without_files_is_unchanged() {
        assert_eq!(with_attachments("hi", &[]), "hi");
    }

    #[test]
    fn too_many_files_or_too_much_text_is_refused_with_the_limit() {
        let many = vec![file("a.txt", "x"); MAX_ATTACHMENTS_PER_MESSAGE + 1];
        let e = check_attachments(&many).unwrap_err();
        assert!(e.contains("at most 10 files (11 attached)"), "{e}");
        let big = vec![file("a.txt", &"x".repeat(MAX_ATTACHMENT_TEXT_BYTES + 1))];
        let e = check_attachments(&big).unwrap_err();
        assert!(e.contains("2 MB"), "{e}");
        assert!(check_attachments(&vec![file("a.txt", "x"); 10]).is_ok());
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size_text(512), "512 B");
        assert_eq!(size_text(3 * 1024 + 400), "3.4 KB");
        assert_eq!(size_text(MAX_ATTACHMENT_BYTES), "8 MB");
    }

    #[test]
    fn the_file_fields_are_named_as_text_generation_webui_names_them() {
        let json = serde_json::to_value(file("a.txt", "alpha")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name": "a.txt", "type": "text/plain", "content": "alpha"})
        );
    }
}
