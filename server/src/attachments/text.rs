//! Plain text files: UTF-8, with a byte-order mark dropped.

use super::{kind::sniff_binary, AttachmentError};

pub fn extract(name: &str, bytes: &[u8]) -> Result<String, AttachmentError> {
    let mismatch = |why: String| AttachmentError::Mismatch {
        name: name.to_string(),
        expected: "a text file".into(),
        why,
    };
    if let Some(what) = sniff_binary(bytes) {
        return Err(mismatch(format!("its content is {what}")));
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if bytes.starts_with(b"\xff\xfe") || bytes.starts_with(b"\xfe\xff") {
        return Err(mismatch(
            "it is UTF-16 text; save it as UTF-8 and attach it again".into(),
        ));
    }
    if bytes.contains(&0) {
        return Err(mismatch("it holds binary data".into()));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        mismatch(format!(
            "it is not UTF-8 (the first bad byte is at offset {}); save it as UTF-8",
            e.valid_up_to()
        ))
    })?;
    Ok(text.replace("\r\n", "\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_text_is_read_and_binary_is_refused_by_name() {
        assert_eq!(
            extract("a.txt", "\u{feff}héllo\r\n世界".as_bytes()).unwrap(),
            "héllo\n世界"
        );
        let e = extract("a.txt", b"\x89PNG\r\n\x1a\nrest").unwrap_err();
        assert_eq!(
            e.to_string(),
            "a.txt is not a text file: its content is a PNG image"
        );
        let e = extract("data.csv", b"a,b\x00,c").unwrap_err();
        assert!(e.to_string().contains("binary data"), "{e}");
        let e = extract("notes.md", b"caf\xe9").unwrap_err();
        assert!(
            e.to_string()
                .contains("not UTF-8 (the first bad byte is at offset 3)"),
            "{e}"
        );
    }
}
