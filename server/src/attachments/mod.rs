//! Files attached to a chat message: their text, taken out of text,
//! Markdown, source code, CSV/JSON, PDF and docx files, with the limits
//! and errors a user can act on. Images are refused (no vision model).
//!
//! PDF and docx are parsed in a worker process ([`crate::isolation`]): a
//! small file can unpack to gigabytes or trip a parser's bug, and that
//! must cost a worker, never the server. [`install`] turns this on (the
//! server's `main`); without it, unit tests parse in-process.

mod docx;
mod error;
mod kind;
mod pdf;
mod text;
mod worker;

use std::{path::PathBuf, sync::OnceLock, time::Duration};

use domain::{check_file_size, size_text, Attachment, MAX_ATTACHMENT_TEXT_BYTES};

pub use error::AttachmentError;
use kind::DocumentKind;
pub use worker::serve_stdio;
use worker::{DocumentReply, DocumentRequest};

use crate::isolation::{Lost, Pool};

/// The subcommand of the candlelight binary that runs a document worker.
pub const WORKER_SUBCOMMAND: &str = "document-worker";
/// The memory one document may take to parse, on top of the worker's own.
pub const HEAP_LIMIT_BYTES: u64 = 512 << 20;
/// A document that takes longer than this to read is refused.
pub const READ_TIMEOUT: Duration = Duration::from_secs(20);

static WORKERS: OnceLock<Pool> = OnceLock::new();

/// Parses documents of this process in workers started from `exe`, at
/// most `workers` at once. Later calls keep the first setting.
pub fn install(exe: PathBuf, workers: usize) {
    let _ = WORKERS.set(Pool::new(exe, WORKER_SUBCOMMAND, workers, READ_TIMEOUT));
}

/// Reads a file the user attached: its name (any folder in it is dropped)
/// and its bytes. Blocks while a document is parsed.
pub fn read(name: &str, bytes: &[u8]) -> Result<Attachment, AttachmentError> {
    let name = file_name(name);
    check_file_size(&name, bytes.len()).map_err(AttachmentError::TooLarge)?;
    let kind = DocumentKind::of_name(&name);
    let content = match kind {
        DocumentKind::Image => return Err(AttachmentError::Image { name }),
        DocumentKind::Text => text::extract(&name, bytes)?,
        DocumentKind::Pdf | DocumentKind::Docx => parse_document(&name, kind, bytes)?,
    };
    if content.trim().is_empty() {
        return Err(AttachmentError::NoText {
            name,
            why: String::new(),
        });
    }
    if content.len() > MAX_ATTACHMENT_TEXT_BYTES {
        return Err(AttachmentError::TooExpensive {
            why: format!(
                "its text is {}; a message can carry at most {}",
                size_text(content.len()),
                size_text(MAX_ATTACHMENT_TEXT_BYTES)
            ),
            name,
        });
    }
    Ok(Attachment {
        name,
        kind: kind.mime().to_string(),
        content,
    })
}

/// The last part of a path, as browsers mostly send already; never empty.
fn file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name).trim();
    let base: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if base.is_empty() {
        "file".into()
    } else {
        base
    }
}

/// A PDF's or docx's text, from a worker where one is installed.
fn parse_document(name: &str, kind: DocumentKind, bytes: &[u8]) -> Result<String, AttachmentError> {
    let Some(pool) = WORKERS.get() else {
        return worker::parse(name, kind, bytes);
    };
    let request = DocumentRequest::new(name, kind, bytes);
    match pool.call::<_, DocumentReply>(&request) {
        Ok(reply) => reply,
        Err(Lost::Died) => Err(AttachmentError::TooExpensive {
            name: name.to_string(),
            why: format!(
                "reading it needed more than {} MB of memory",
                HEAP_LIMIT_BYTES >> 20
            ),
        }),
        Err(Lost::TimedOut) => Err(AttachmentError::TooExpensive {
            name: name.to_string(),
            why: format!("reading it took longer than {} s", READ_TIMEOUT.as_secs()),
        }),
        Err(Lost::Unreadable(_) | Lost::Unstartable) => Err(AttachmentError::Failed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_read_and_named() {
        let txt = read("C:\\Users\\me\\notes.txt", b"The heron flies at dawn.").unwrap();
        assert_eq!(txt.name, "notes.txt");
        assert_eq!(txt.kind, "text/plain");
        let pdf = read("memo.pdf", &pdf::tests::pdf_saying("Code 4417")).unwrap();
        assert_eq!(
            (pdf.kind.as_str(), pdf.content.as_str()),
            ("application/pdf", "Code 4417")
        );
    }

    #[test]
    fn images_too_large_and_empty_files_are_refused_with_reasons() {
        let e = read("cat.png", b"\x89PNG").unwrap_err();
        assert!(e.to_string().contains("cannot see images"), "{e}");
        let e = read("big.txt", &vec![b'a'; domain::MAX_ATTACHMENT_BYTES + 1]).unwrap_err();
        assert_eq!(e.to_string(), "big.txt is 8 MB; a file can be at most 8 MB");
        assert_eq!(e.class(), domain::ErrorClass::TooLarge);
        let e = read("empty.txt", b"  \n").unwrap_err();
        assert_eq!(e.to_string(), "empty.txt has no text to read");
        let e = read("huge.txt", &vec![b'a'; MAX_ATTACHMENT_TEXT_BYTES + 1]).unwrap_err();
        assert!(e.to_string().contains("at most 2 MB"), "{e}");
    }
}
