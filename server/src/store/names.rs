//! File names from user-chosen names (character names like "AI助理"): any
//! letters are fine, but nothing that could climb out of the folder.

use super::StoreError;

pub fn check_name(name: &str) -> Result<&str, StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name.trim() == name
        && name.chars().all(|c| {
            c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | '(' | ')' | '\'' | '!' | ',')
        });
    if ok {
        Ok(name)
    } else {
        Err(StoreError::InvalidName(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_names_pass_paths_do_not() {
        assert!(check_name("AI助理").is_ok());
        assert!(check_name("Captain Mara (pirate)").is_ok());
        for bad in ["", "../x", "a/b", ".hidden", "a\\b", " padded", "nul\0"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
