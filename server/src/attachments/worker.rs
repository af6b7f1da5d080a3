//! The document worker: a child process that takes text out of PDF and
//! docx files and nothing else, with a capped heap (see the module above).

use std::io;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::{docx, kind::DocumentKind, pdf, AttachmentError, HEAP_LIMIT_BYTES};
use crate::isolation::serve_lines;

/// A document to read, as the server sends it.
#[derive(Serialize, Deserialize)]
pub(super) struct DocumentRequest {
    name: String,
    pdf: bool,
    /// The file, base64 (a JSON array of numbers would be four times larger).
    data: String,
}

impl DocumentRequest {
    pub(super) fn new(name: &str, kind: DocumentKind, bytes: &[u8]) -> Self {
        Self {
            name: name.to_string(),
            pdf: kind == DocumentKind::Pdf,
            data: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }
}

pub(super) type DocumentReply = Result<String, AttachmentError>;

/// Serves documents on standard input and output until the server closes
/// the pipe.
pub fn serve_stdio() -> io::Result<()> {
    // A parser's panic is answered as an unreadable file; the message it
    // would print goes nowhere.
    std::panic::set_hook(Box::new(|_| {}));
    serve_lines(
        HEAP_LIMIT_BYTES,
        |request: Result<DocumentRequest, String>| {
            let request = request.map_err(|_| AttachmentError::Failed)?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&request.data)
                .map_err(|_| AttachmentError::Failed)?;
            let kind = if request.pdf {
                DocumentKind::Pdf
            } else {
                DocumentKind::Docx
            };
            parse(&request.name, kind, &bytes)
        },
    )
}

/// Takes the text out, turning a parser's panic into an error.
pub(super) fn parse(name: &str, kind: DocumentKind, bytes: &[u8]) -> DocumentReply {
    std::panic::catch_unwind(|| match kind {
        DocumentKind::Pdf => pdf::extract(name, bytes),
        _ => docx::extract(name, bytes),
    })
    .unwrap_or_else(|_| {
        Err(AttachmentError::Unreadable {
            name: name.to_string(),
            why: "its structure is damaged or uses features the reader does not support".into(),
        })
    })
}
