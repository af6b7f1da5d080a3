//! PDF files: the text layer, page by page, through `pdf-extract`.

use super::{kind::looks_like_pdf, AttachmentError};

pub fn extract(name: &str, bytes: &[u8]) -> Result<String, AttachmentError> {
    if !looks_like_pdf(bytes) {
        return Err(AttachmentError::Mismatch {
            name: name.to_string(),
            expected: "a PDF".into(),
            why: "its content has no %PDF header".into(),
        });
    }
    let pages = pdf_extract::extract_text_from_mem_by_pages(bytes).map_err(|e| {
        tracing::info!(error = %e, "a PDF could not be read");
        AttachmentError::Unreadable {
            name: name.to_string(),
            why: reason(&e),
        }
    })?;
    let text = pages
        .iter()
        .map(|page| tidy(page))
        .filter(|page| !page.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    if text.is_empty() {
        return Err(AttachmentError::NoText {
            name: name.to_string(),
            why: " (a scanned PDF has only pictures of text, which this engine cannot read)".into(),
        });
    }
    Ok(text)
}

/// What went wrong, in words that do not depend on the library's.
fn reason(e: &pdf_extract::OutputError) -> String {
    let text = e.to_string().to_ascii_lowercase();
    if text.contains("encrypt") || text.contains("password") || text.contains("decrypt") {
        "it is encrypted (save it without a password)".into()
    } else {
        "its structure is damaged or uses features the reader does not support".into()
    }
}

/// One page's text with trailing spaces gone and runs of blank lines
/// folded to one.
fn tidy(page: &str) -> String {
    let mut out = String::new();
    let mut blank = 0;
    for line in page.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A one-page PDF whose text layer says `line` (Helvetica, one text
    /// object), with a correct cross-reference table.
    pub(crate) fn pdf_saying(line: &str) -> Vec<u8> {
        let stream = format!("BT /F1 12 Tf 72 720 Td ({line}) Tj ET");
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_string(),
            format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
                .to_string(),
        ];
        let mut out = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (i, body) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
        }
        let xref = out.len();
        out.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
        );
        for offset in offsets {
            out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        out
    }

    #[test]
    fn the_text_layer_is_read() {
        let text = extract("memo.pdf", &pdf_saying("The vault code is 4417.")).unwrap();
        assert_eq!(text, "The vault code is 4417.");
    }

    #[test]
    fn a_file_named_pdf_that_is_not_one_is_refused() {
        let e = extract("memo.pdf", b"just text").unwrap_err();
        assert_eq!(
            e.to_string(),
            "memo.pdf is not a PDF: its content has no %PDF header"
        );
        let e = extract("memo.pdf", b"%PDF-1.4\ngarbage that is no PDF").unwrap_err();
        assert!(
            e.to_string().starts_with("memo.pdf could not be read"),
            "{e}"
        );
    }

    #[test]
    fn blank_runs_fold() {
        assert_eq!(tidy("a  \n\n\n\nb\nc\n\n"), "a\n\nb\nc");
    }
}
