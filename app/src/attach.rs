//! Files for the next message: picked, dropped or pasted into the message
//! box, read by the server (which takes the text out of PDF and docx files
//! and counts tokens), and kept here until the message is sent.

use leptos::{prelude::*, task::spawn_local};

use crate::api::read_attachment;
use crate::files::read_file;
use crate::state::ChatState;
use crate::types::{check_file_size, Attachment, MAX_ATTACHMENTS_PER_MESSAGE};

/// Reads each file and adds it to the message box's files; a file that
/// cannot be attached is named in the error line, with the reason.
pub fn attach_files(state: ChatState, files: Vec<web_sys::File>) {
    for file in files {
        let name = file.name();
        // Checked here too, so a large file is refused before it is sent.
        if let Err(e) = check_file_size(&name, file.size() as usize) {
            state.error.set(Some(e));
            continue;
        }
        let held =
            state.pending_files.with_untracked(Vec::len) + state.reading_files.get_untracked();
        if held >= MAX_ATTACHMENTS_PER_MESSAGE {
            state.error.set(Some(format!(
                "{name} is not attached: a message can carry at most {MAX_ATTACHMENTS_PER_MESSAGE} files"
            )));
            continue;
        }
        state.reading_files.update(|n| *n += 1);
        read_file(file, move |name, data| {
            spawn_local(async move {
                let result = if data.is_empty() {
                    Err(format!("{name} could not be read by the browser"))
                } else {
                    read_attachment(name, data).await.map_err(|e| e.to_string())
                };
                state.reading_files.update(|n| *n = n.saturating_sub(1));
                match result {
                    Ok(preview) => state.pending_files.update(|f| f.push(preview)),
                    Err(e) => state.error.set(Some(e)),
                }
            });
        });
    }
}

/// Puts a refused message's files back into the message box.
pub fn restore_files(state: ChatState, files: Vec<Attachment>) {
    if files.is_empty() {
        return;
    }
    state.pending_files.update(|pending| {
        let again = files
            .into_iter()
            .map(|attachment| crate::types::AttachmentPreview {
                attachment,
                tokens: None,
            });
        pending.splice(0..0, again);
    });
}
