//! A fake batch model for unit tests of the scheduler and the queue. Its
//! "prediction" depends only on the sequence itself (the token after `k`
//! is `k + 1`, after 63 comes 0, the end; a draft model that guesses
//! wrong predicts `k + stride`), so a reply is the same whether it ran
//! alone or batched. It checks that chunks continue what each slot
//! holds, can be slowed down, and logs every batch it ran.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    thread,
    time::Duration,
};

use super::{detokenize::TokenDecoder, BatchModel, EngineError, ModelShape, SeqChunk};

pub const FAKE_VOCAB: usize = 64;

/// One forward call: (slot, start, tokens, exact) of each chunk.
pub type BatchLog = Arc<Mutex<Vec<Vec<(usize, usize, usize, bool)>>>>;

pub struct FakeModel {
    pub slots: usize,
    pub max_rows: usize,
    pub context_length: usize,
    pub exact_from: Option<usize>,
    /// Time one forward takes.
    pub delay: Duration,
    pub log: BatchLog,
    /// Copies between slots work, and every held token takes a byte.
    pub prefix_copy: bool,
    /// The most bytes the caches ever held (with `prefix_copy`).
    pub peak_bytes: Arc<AtomicUsize>,
    /// Returns the logits after every token of a chunk that asks (checks
    /// drafts).
    pub all_logits: bool,
    /// The token after `k` is `k + stride` (1 unless a test wants a model
    /// that disagrees).
    pub stride: usize,
    held: Vec<Vec<u32>>,
}

impl FakeModel {
    pub fn new(slots: usize) -> Self {
        Self {
            slots,
            max_rows: 512,
            context_length: 4096,
            exact_from: Some(16),
            delay: Duration::ZERO,
            log: BatchLog::default(),
            prefix_copy: false,
            peak_bytes: Arc::default(),
            all_logits: false,
            stride: 1,
            held: vec![Vec::new(); slots],
        }
    }

    /// With `extra` caches beside the running slots and copies between
    /// them (the CPU backend's prompt cache); a token takes one byte.
    pub fn with_prompt_cache(mut self, extra: usize) -> Self {
        self.prefix_copy = true;
        self.held = vec![Vec::new(); self.slots + extra];
        self
    }

    pub fn slow(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

impl BatchModel for FakeModel {
    fn shape(&self) -> ModelShape {
        ModelShape {
            slots: self.slots,
            context_length: self.context_length,
            max_rows: self.max_rows,
            prefix_reuse: true,
            exact_from: self.exact_from,
            vocab: FAKE_VOCAB,
            all_logits: self.all_logits,
            kv_bytes_per_token: usize::from(self.prefix_copy),
            cache_slots: self.held.len(),
            prefix_copy: self.prefix_copy,
        }
    }

    fn cache_bytes(&self) -> usize {
        if self.prefix_copy {
            self.held.iter().map(Vec::len).sum()
        } else {
            0
        }
    }

    fn copy_prefix(&mut self, from: usize, to: usize, len: usize) -> Result<(), EngineError> {
        assert!(self.prefix_copy, "copy_prefix without prefix_copy");
        assert_ne!(from, to, "a slot copied onto itself");
        assert!(
            len <= self.held[from].len(),
            "copied more than slot {from} holds"
        );
        self.held[to] = self.held[from][..len].to_vec();
        self.note_peak();
        Ok(())
    }

    fn clear_slot(&mut self, slot: usize) {
        self.held[slot] = Vec::new();
    }

    fn forward(&mut self, batch: &[SeqChunk]) -> Result<Vec<Vec<f32>>, EngineError> {
        thread::sleep(self.delay);
        let rows: usize = batch.iter().map(|c| c.tokens.len()).sum();
        assert!(rows <= self.max_rows, "{rows} rows > {}", self.max_rows);
        self.log.lock().unwrap().push(
            batch
                .iter()
                .map(|c| (c.slot, c.start, c.tokens.len(), c.exact))
                .collect(),
        );
        let mut out = Vec::new();
        for chunk in batch {
            let held = &mut self.held[chunk.slot];
            assert!(
                chunk.start <= held.len(),
                "slot {} holds {} tokens, chunk starts at {}",
                chunk.slot,
                held.len(),
                chunk.start
            );
            held.truncate(chunk.start);
            held.extend_from_slice(chunk.tokens);
            assert!(!chunk.tokens.is_empty(), "a chunk has tokens");
            self.note_peak();
            let predict = |token: u32| {
                let mut logits = vec![0.0; FAKE_VOCAB];
                logits[(token as usize + self.stride) % FAKE_VOCAB] = 10.0;
                logits
            };
            if chunk.logits && chunk.all_logits && self.all_logits {
                out.push(chunk.tokens.iter().flat_map(|&t| predict(t)).collect());
            } else if chunk.logits {
                out.push(predict(chunk.tokens[chunk.tokens.len() - 1]));
            }
        }
        Ok(out)
    }
}

impl FakeModel {
    fn note_peak(&self) {
        self.peak_bytes
            .fetch_max(self.cache_bytes(), Ordering::Relaxed);
    }
}

/// Token `n` is the character `'a' + n - 1`; token 0 is EOS (no text).
pub struct FakeDecoder;

impl TokenDecoder for FakeDecoder {
    fn decode(&self, ids: &[u32]) -> Result<String, EngineError> {
        Ok(ids
            .iter()
            .filter(|&&id| id > 0)
            .map(|&id| char::from_u32('a' as u32 + id - 1).unwrap_or('?'))
            .collect())
    }
}
