//! Speculative decoding (`--speculative`): whether replies draft tokens
//! ahead and check them in one forward. Off by default; `ngram` drafts
//! from the prompt and the reply so far (no second model); a `.gguf` path
//! drafts with that small model, which must share the model's vocabulary.
//! The output is what decoding one token at a time gives: every drafted
//! token is checked by sampling the model's own distribution at its
//! position (with the same random draws), and the first mismatch ends the
//! run. Drafts are greedy (a one-hot draft distribution), for which this
//! check is the standard acceptance rule: a drafted token is kept with the
//! probability the model gives it, and a rejected one is replaced by a
//! sample of the model's distribution without it.

use std::{fmt, path::PathBuf, str::FromStr};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Speculative {
    #[default]
    Off,
    Ngram,
    /// A draft model's file.
    Model(PathBuf),
}

/// Tokens drafted at most per step: with the last sampled token, one
/// 8-row tile of the integer kernels.
pub const MAX_DRAFT: usize = 7;

impl fmt::Display for Speculative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Speculative::Off => f.write_str("off"),
            Speculative::Ngram => f.write_str("ngram"),
            Speculative::Model(path) => f.write_str(&crate::shown_file(path)),
        }
    }
}

impl FromStr for Speculative {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        match trimmed.to_ascii_lowercase().as_str() {
            "off" | "none" => Ok(Speculative::Off),
            "ngram" | "n-gram" | "prompt-lookup" => Ok(Speculative::Ngram),
            other if other.ends_with(".gguf") => Ok(Speculative::Model(PathBuf::from(trimmed))),
            other => Err(format!(
                "unknown --speculative `{other}`: use off, ngram or a draft model's .gguf file"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gguf_path_names_a_draft_model() {
        assert_eq!("ngram".parse(), Ok(Speculative::Ngram));
        assert_eq!(" OFF ".parse(), Ok(Speculative::Off));
        assert_eq!(
            "models/Qwen-0.5B.GGUF".parse(),
            Ok(Speculative::Model("models/Qwen-0.5B.GGUF".into()))
        );
        let refused = "medusa".parse::<Speculative>().unwrap_err();
        assert!(refused.contains("draft model"), "{refused}");
    }
}
