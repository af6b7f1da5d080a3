//! Speculative decoding (`--speculative`): whether replies draft tokens
//! ahead and check them in one forward. Off by default; `ngram` drafts
//! from the prompt and the reply so far (no second model). The output is
//! what decoding one token at a time gives: every drafted token is checked
//! by sampling the model's own distribution at its position (with the
//! same random draws), and the first mismatch ends the run.

use std::{fmt, str::FromStr};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Speculative {
    #[default]
    Off,
    Ngram,
}

/// Tokens drafted at most per step: with the last sampled token, one
/// 8-row tile of the integer kernels.
pub const MAX_DRAFT: usize = 7;

impl fmt::Display for Speculative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Speculative::Off => "off",
            Speculative::Ngram => "ngram",
        })
    }
}

impl FromStr for Speculative {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "off" | "none" => Ok(Speculative::Off),
            "ngram" | "n-gram" | "prompt-lookup" => Ok(Speculative::Ngram),
            other if other.ends_with(".gguf") => Err(
                "a draft model is not supported yet: use --speculative ngram (drafts from the \
                 prompt and the reply) or off"
                    .into(),
            ),
            other => Err(format!("unknown --speculative `{other}`: use off or ngram")),
        }
    }
}
