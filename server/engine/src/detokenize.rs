//! Turning generated tokens into text one token at a time without ever
//! emitting half a UTF-8 character.
//!
//! Byte-level tokenizers split rare characters (much of Chinese) across
//! several tokens; decoding such a prefix yields U+FFFD. We decode a small
//! window of recent tokens and only release text once the window decodes
//! cleanly, as text-generation-inference does.

use super::{EngineError, TextTokenizer};

/// Decoding ids to text; the real tokenizer, or a fake in tests.
pub trait TokenDecoder {
    fn decode(&self, ids: &[u32]) -> Result<String, EngineError>;
}

impl TokenDecoder for TextTokenizer {
    fn decode(&self, ids: &[u32]) -> Result<String, EngineError> {
        TextTokenizer::decode(self, ids)
    }
}

#[derive(Default)]
pub struct IncrementalDecoder {
    tokens: Vec<u32>,
    /// Start of the window that gives context to the next decode.
    prefix_offset: usize,
    /// Tokens before this index have been released as text.
    read_offset: usize,
}

impl IncrementalDecoder {
    /// Adds one token and returns the text it completed (possibly empty).
    pub fn push(
        &mut self,
        tokenizer: &dyn TokenDecoder,
        token: u32,
    ) -> Result<String, EngineError> {
        self.tokens.push(token);
        let prefix = tokenizer.decode(&self.tokens[self.prefix_offset..self.read_offset])?;
        let full = tokenizer.decode(&self.tokens[self.prefix_offset..])?;
        if full.len() > prefix.len()
            && !full.ends_with('\u{FFFD}')
            && full.is_char_boundary(prefix.len())
        {
            let text = full[prefix.len()..].to_string();
            self.prefix_offset = self.read_offset;
            self.read_offset = self.tokens.len();
            Ok(text)
        } else {
            Ok(String::new())
        }
    }

    /// Text still held back at the end of generation, minus any incomplete
    /// trailing character (which could only be shown as U+FFFD).
    pub fn finish(&mut self, tokenizer: &dyn TokenDecoder) -> Result<String, EngineError> {
        let prefix = tokenizer.decode(&self.tokens[self.prefix_offset..self.read_offset])?;
        let full = tokenizer.decode(&self.tokens[self.prefix_offset..])?;
        self.prefix_offset = self.tokens.len();
        self.read_offset = self.tokens.len();
        if full.len() > prefix.len() && full.is_char_boundary(prefix.len()) {
            Ok(full[prefix.len()..]
                .trim_end_matches('\u{FFFD}')
                .to_string())
        } else {
            Ok(String::new())
        }
    }
}
