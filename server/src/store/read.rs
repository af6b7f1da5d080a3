//! Reading a user data file as text, within a size limit: a file someone
//! dropped into the folder (or a damaged one) is refused with a message
//! naming it, never read whole into memory or passed on as a server error.

use std::{fs, io::Read, path::Path};

use super::StoreError;

/// Characters, presets and instruction templates: far more than any
/// card's text (pictures are separate files).
pub const MAX_DATA_FILE_BYTES: u64 = 8 << 20;

/// Chat logs: thousands of long turns.
pub const MAX_CHAT_FILE_BYTES: u64 = 64 << 20;

/// The file's text; `Ok(None)` when it does not exist.
pub fn read_text(path: &Path, limit: u64) -> Result<Option<String>, StoreError> {
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io(path, e)),
    };
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| StoreError::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(StoreError::malformed(
            path,
            format!("it is larger than {} MB", limit >> 20),
        ));
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| StoreError::malformed(path, format!("it is not UTF-8 text ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_and_non_utf8_files_are_damaged_not_io_errors() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.yaml");
        fs::write(&big, vec![b'a'; 2048]).unwrap();
        let e = read_text(&big, 1024).unwrap_err();
        assert!(matches!(e, StoreError::Malformed { .. }), "{e}");
        assert!(e.to_string().contains("larger than"), "{e}");

        let latin1 = dir.path().join("latin1.yaml");
        fs::write(&latin1, b"name: Jos\xe9\n").unwrap();
        let e = read_text(&latin1, 1024).unwrap_err();
        assert_eq!(
            e.to_string().split(" (").next().unwrap(),
            format!(
                "{}/latin1.yaml is damaged: it is not UTF-8 text",
                dir.path().file_name().unwrap().to_string_lossy()
            )
        );
        assert!(read_text(&dir.path().join("none"), 10).unwrap().is_none());
    }
}
