//! Helpers for unit tests.

use std::io::Write;

/// A test whose fast path this CPU lacks says so loudly and is counted
/// (never compares a path with itself): `make test` prints the list after
/// the cargo tests. Integration tests have their own copy in
/// `tests/common`.
pub fn skip(test: &str, reason: &str) {
    eprintln!("SKIPPED {test}: {reason}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tmp");
    let _ = std::fs::create_dir_all(&dir);
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("skipped-tests.txt"))
    {
        let _ = writeln!(f, "{test}: {reason}");
    }
}
