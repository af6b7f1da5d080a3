//! What a file is, by its name and then by its first bytes: the name says
//! what the user meant, the bytes whether the file is that.

/// How a file's text is taken out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentKind {
    /// UTF-8 text: prose, Markdown, source code, CSV, JSON...
    Text,
    Pdf,
    Docx,
    /// Refused: no vision model reads it.
    Image,
}

impl DocumentKind {
    /// The kind a file's name claims. Names the list does not know are
    /// read as text (code has many extensions); its bytes decide.
    pub fn of_name(name: &str) -> Self {
        let ext = name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "pdf" => DocumentKind::Pdf,
            "docx" => DocumentKind::Docx,
            "png" | "jpg" | "jpeg" | "gif" | "webp" | "bmp" | "tif" | "tiff" | "heic" | "heif"
            | "avif" | "ico" => DocumentKind::Image,
            _ => DocumentKind::Text,
        }
    }

    /// The type recorded with the text (text-generation-webui's names).
    pub fn mime(self) -> &'static str {
        match self {
            DocumentKind::Text => "text/plain",
            DocumentKind::Pdf => "application/pdf",
            DocumentKind::Docx => "application/docx",
            DocumentKind::Image => "image",
        }
    }
}

/// What well-known binary formats' first bytes say they are, for a file
/// whose name claims text.
pub fn sniff_binary(bytes: &[u8]) -> Option<&'static str> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"%PDF-", "a PDF"),
        (b"PK\x03\x04", "a zip archive (a docx, xlsx or similar)"),
        (b"\x89PNG\r\n\x1a\n", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"\x7fELF", "a program"),
        (b"MZ", "a Windows program"),
        (b"\x1f\x8b", "gzip-compressed data"),
    ];
    SIGNATURES
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
        .map(|(_, what)| *what)
}

/// Whether a PDF header is where the format puts it (within the first
/// kilobyte).
pub fn looks_like_pdf(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(1024)]
        .windows(5)
        .any(|w| w == b"%PDF-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_claim_a_kind() {
        assert_eq!(DocumentKind::of_name("Report.PDF"), DocumentKind::Pdf);
        assert_eq!(DocumentKind::of_name("a.docx"), DocumentKind::Docx);
        assert_eq!(DocumentKind::of_name("cat.JPG"), DocumentKind::Image);
        assert_eq!(DocumentKind::of_name("main.rs"), DocumentKind::Text);
        assert_eq!(DocumentKind::of_name("Makefile"), DocumentKind::Text);
        assert_eq!(DocumentKind::of_name("data.csv"), DocumentKind::Text);
    }

    #[test]
    fn binary_formats_are_recognised_by_their_first_bytes() {
        assert_eq!(sniff_binary(b"%PDF-1.4 ..."), Some("a PDF"));
        assert_eq!(sniff_binary(b"\x89PNG\r\n\x1a\n...."), Some("a PNG image"));
        assert_eq!(sniff_binary(b"hello"), None);
        assert!(looks_like_pdf(b"\n\n%PDF-1.7"));
        assert!(!looks_like_pdf(b"hello world"));
    }
}
