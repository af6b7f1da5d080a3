//! Word documents: the text of `word/document.xml` inside the zip, one
//! line per paragraph.

use std::io::Read;

use quick_xml::{events::Event, Reader};

use super::AttachmentError;

/// The most the document's XML may unpack to: a docx of 8 MB holds far
/// less text, and a zip bomb stops here.
const MAX_XML_BYTES: u64 = 64 << 20;

pub fn extract(name: &str, bytes: &[u8]) -> Result<String, AttachmentError> {
    let mismatch = |why: &str| AttachmentError::Mismatch {
        name: name.to_string(),
        expected: "a Word document (docx)".into(),
        why: why.to_string(),
    };
    if !bytes.starts_with(b"PK\x03\x04") {
        return Err(mismatch("its content is not a zip archive, as a docx is"));
    }
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|_| mismatch("its zip archive is damaged"))?;
    let entry = archive
        .by_name("word/document.xml")
        .map_err(|_| mismatch("the archive holds no word/document.xml"))?;
    let mut xml = Vec::new();
    entry
        .take(MAX_XML_BYTES + 1)
        .read_to_end(&mut xml)
        .map_err(|_| mismatch("its zip archive is damaged"))?;
    if xml.len() as u64 > MAX_XML_BYTES {
        return Err(AttachmentError::TooExpensive {
            name: name.to_string(),
            why: format!("its text unpacks to more than {} MB", MAX_XML_BYTES >> 20),
        });
    }
    paragraphs(&xml).map_err(|why| AttachmentError::Unreadable {
        name: name.to_string(),
        why,
    })
}

/// The text runs (`w:t`) of WordprocessingML, with tabs, breaks and a
/// newline after each paragraph.
fn paragraphs(xml: &[u8]) -> Result<String, String> {
    let mut reader = Reader::from_reader(xml);
    let mut out = String::new();
    let mut in_text = false;
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("its XML is damaged ({e})"))?;
        match event {
            Event::Start(e) if e.name().as_ref() == "w:t" => in_text = true,
            Event::End(e) => match e.name().as_ref() {
                "w:t" => in_text = false,
                "w:p" => out.push('\n'),
                _ => {}
            },
            Event::Empty(e) => match e.name().as_ref() {
                "w:tab" => out.push('\t'),
                "w:br" | "w:cr" => out.push('\n'),
                "w:p" => out.push('\n'),
                _ => {}
            },
            Event::Text(t) if in_text => out.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if in_text => match r.resolve_char_ref() {
                Ok(Some(c)) => out.push(c),
                _ => {
                    let name: &str = &r;
                    out.push_str(
                        entity(name).ok_or(format!("its XML has an unknown entity &{name};"))?,
                    );
                }
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

fn entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A minimal docx: a zip holding `word/document.xml`.
    pub(crate) fn docx(body: &str) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("word/document.xml", options).unwrap();
        write!(
            zip,
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>"#
        )
        .unwrap();
        zip.finish().unwrap();
        out.into_inner()
    }

    #[test]
    fn paragraphs_runs_tabs_and_entities_are_read() {
        let bytes = docx(
            r#"<w:p><w:r><w:t>Fish &amp; chips</w:t></w:r><w:r><w:tab/><w:t xml:space="preserve"> cost 5</w:t></w:r></w:p><w:p><w:r><w:t>Line two</w:t><w:br/><w:t>三</w:t></w:r></w:p>"#,
        );
        assert_eq!(
            extract("menu.docx", &bytes).unwrap(),
            "Fish & chips\t cost 5\nLine two\n三\n"
        );
    }

    #[test]
    fn a_file_that_is_not_a_docx_is_named_in_the_error() {
        let e = extract("menu.docx", b"hello").unwrap_err();
        assert_eq!(
            e.to_string(),
            "menu.docx is not a Word document (docx): its content is not a zip archive, as a docx is"
        );
        let mut other = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut other);
        zip.start_file("other.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.finish().unwrap();
        let e = extract("menu.docx", &other.into_inner()).unwrap_err();
        assert!(e.to_string().contains("no word/document.xml"), "{e}");
    }
}
