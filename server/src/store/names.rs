//! File names from user-chosen names (character names like "AI助理"): any
//! letters are fine, but nothing that could climb out of the folder, and
//! nothing Windows refuses, so the folder keeps working in
//! text-generation-webui on Windows.

use super::StoreError;

/// Device names Windows reserves in every folder, with or without an
/// extension (`CON`, `nul.txt`), in any case.
const WINDOWS_RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Why `name` cannot be a file name, if it cannot.
fn problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("it is empty");
    }
    if name.len() > 200 {
        return Some("it is longer than 200 bytes");
    }
    if name.starts_with('.') {
        return Some("it starts with '.'");
    }
    if name.trim() != name {
        return Some("it starts or ends with a space");
    }
    if name.ends_with('.') {
        return Some("it ends with '.' (Windows drops it)");
    }
    let allowed = |c: char| {
        c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | '(' | ')' | '\'' | '!' | ',')
    };
    if !name.chars().all(allowed) {
        return Some("use letters, digits, spaces and - _ . ( ) ' ! , only");
    }
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    if WINDOWS_RESERVED
        .iter()
        .any(|r| r.eq_ignore_ascii_case(stem))
    {
        return Some("Windows reserves it for a device");
    }
    None
}

pub fn check_name(name: &str) -> Result<&str, StoreError> {
    match problem(name) {
        None => Ok(name),
        Some(reason) => Err(StoreError::InvalidName {
            name: name.chars().take(80).collect(),
            reason,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_names_pass_paths_do_not() {
        assert!(check_name("AI助理").is_ok());
        assert!(check_name("Captain Mara (pirate)").is_ok());
        assert!(check_name("Mr. Smith").is_ok());
        for bad in ["", "../x", "a/b", ".hidden", "a\\b", " padded", "nul\0"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_windows_reserves_are_refused_with_the_reason() {
        for bad in [
            "CON", "nul", "Com1", "LPT9", "aux.txt", "PRN.yaml", "name.", "CON .x",
        ] {
            let err = check_name(bad).unwrap_err().to_string();
            assert!(err.contains("Windows"), "{bad:?}: {err}");
        }
        for fine in ["Conan", "console", "COM10", "nullable", "LPT", "a.b"] {
            assert!(check_name(fine).is_ok(), "{fine:?}");
        }
    }
}
