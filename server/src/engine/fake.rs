//! A fake model for unit tests of the loop and the queue: it "predicts"
//! a fixed token sequence and can be slowed down to make timing visible.

use std::{thread, time::Duration};

use super::{detokenize::TokenDecoder, EngineError, LanguageModel};

/// Predicts `script[n]` after `n` generated tokens, then token 0 (EOS).
pub struct FakeModel {
    pub script: Vec<u32>,
    pub delay: Duration,
    pub prompt_len: usize,
}

impl LanguageModel for FakeModel {
    fn forward(&mut self, tokens: &[u32], start_pos: usize) -> Result<Vec<f32>, EngineError> {
        thread::sleep(self.delay);
        if start_pos == 0 {
            self.prompt_len = tokens.len();
        }
        let generated = start_pos + tokens.len() - self.prompt_len;
        let next = self.script.get(generated).copied().unwrap_or(0);
        let mut logits = vec![0.0; 64];
        logits[next as usize] = 10.0;
        Ok(logits)
    }

    fn context_length(&self) -> usize {
        1024
    }
}

/// Token `n` is the character `'a' + n - 1`; token 0 is EOS (no text).
pub struct FakeDecoder;

impl TokenDecoder for FakeDecoder {
    fn decode(&self, ids: &[u32]) -> Result<String, EngineError> {
        Ok(ids
            .iter()
            .filter(|&&id| id > 0)
            .map(|&id| char::from(b'a' + (id as u8 - 1)))
            .collect())
    }
}
