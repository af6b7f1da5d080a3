//! The port between the engine's scheduler and a model backend (our CPU
//! kernels in `crate::cpu`, our candle-tensor model for CUDA in
//! `crate::gpu`, candle's own models in `engine::candle`): a
//! batch of sequence chunks in, the logits the chunks asked for out. A
//! backend owns the KV memory of its sequence slots; it knows nothing of
//! requests, sampling or streaming, and nothing here is async.
//!
//! It sits below both the engine and the backends (with the one error
//! enum they share, and the hyperparameters read from a file), so the
//! arrows point down: `engine` → `cpu` or `gpu` → `model_port`.

pub mod arch;
mod error;
pub mod experts;
pub mod hyperparams;

pub use arch::{architecture, Architecture};
pub use error::{candle_reason, first_line, load_error, shown_file, EngineError};

/// Positions a backend's cache may take beyond those it holds (it grows
/// this many at a time): the scheduler's memory budget allows for it.
pub const CACHE_GROWTH: usize = 256;

/// One sequence's part of a batch.
#[derive(Clone, Copy, Debug)]
pub struct SeqChunk<'a> {
    /// The KV-cache slot the sequence owns (one chunk per slot per batch).
    pub slot: usize,
    /// Tokens at positions `start..start + tokens.len()`. The slot's cache
    /// is first cut back to `start` positions, which reuses a shared prefix.
    pub tokens: &'a [u32],
    pub start: usize,
    /// Whether the logits after the chunk's last token are wanted.
    pub logits: bool,
    /// With `logits`: the logits after every token of the chunk, one
    /// vector of `tokens.len() × vocab` (speculative decoding checks each
    /// drafted token). Only where [`ModelShape::all_logits`].
    pub all_logits: bool,
    /// Compute this chunk on the backend's prompt path (matrix products:
    /// the CPU's 8-bit prompt kernel, or f32 products), if it has one (see
    /// [`ModelShape::exact_from`]). The scheduler sets it for every chunk
    /// of a long enough prompt, so a sequence's numbers never depend on how
    /// its prompt was split or what it was batched with.
    pub exact: bool,
}

/// What a backend can do, read once by the scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelShape {
    /// Sequences that can be in flight at once, each with its own cache.
    pub slots: usize,
    /// Longest sequence (prompt plus reply) one slot holds.
    pub context_length: usize,
    /// Most tokens one forward takes, summed over its chunks.
    pub max_rows: usize,
    /// A slot's cache may be cut back to any position, so a new prompt
    /// reuses the prefix it shares with what the slot holds. Without it a
    /// new prompt starts at position 0 (chunks still continue one another).
    pub prefix_reuse: bool,
    /// Prompts of at least this many tokens run on the prompt path (see
    /// [`SeqChunk::exact`]); shorter ones and single decode tokens use the
    /// per-row one. `None`: one path for everything.
    pub exact_from: Option<usize>,
    /// Logits per token.
    pub vocab: usize,
    /// The backend can return the logits after every token of a chunk
    /// ([`SeqChunk::all_logits`]).
    pub all_logits: bool,
    /// Bytes of keys and values one token takes in a slot's cache, in the
    /// backend's own element type.
    pub kv_bytes_per_token: usize,
    /// Caches the backend keeps (at least `slots`): the ones no sequence
    /// runs in hold earlier prompts for later requests to copy from.
    pub cache_slots: usize,
    /// [`BatchModel::copy_prefix`] works: a request reuses a prefix cached
    /// in any slot, not only in the one it runs in.
    pub prefix_copy: bool,
}

/// A causal language model that runs batches of sequences.
pub trait BatchModel: Send {
    fn shape(&self) -> ModelShape;

    /// Runs every chunk (distinct slots) and returns, in batch order, the
    /// logits of each chunk that asked for them.
    fn forward(&mut self, batch: &[SeqChunk]) -> Result<Vec<Vec<f32>>, EngineError>;

    /// Memory the KV caches hold now, for the Model tab and `/metrics`
    /// (0 where the backend cannot tell).
    fn cache_bytes(&self) -> usize {
        0
    }

    /// Makes slot `to` hold slot `from`'s first `len` positions, exactly
    /// as they are there; `from` is only read (a sequence may be running
    /// in it). Only where [`ModelShape::prefix_copy`].
    fn copy_prefix(&mut self, from: usize, to: usize, len: usize) -> Result<(), EngineError> {
        let _ = (from, to, len);
        Err(EngineError::Unsupported(
            "this backend cannot copy a cached prefix between slots".into(),
        ))
    }

    /// Frees the memory slot `slot`'s cache takes (the prefix cache
    /// evicts an unused prompt this way).
    fn clear_slot(&mut self, slot: usize) {
        let _ = slot;
    }

    /// Tokens of KV cache the load's memory plan found room for next to
    /// the weights (the GPU path), for the Model tab; `None` where no
    /// plan was made.
    fn kv_tokens_that_fit(&self) -> Option<usize> {
        None
    }

    /// Threads the backend's own CPU kernels run on; `None` for backends
    /// that choose their own (candle's, the GPU).
    fn cpu_threads(&self) -> Option<usize> {
        None
    }

    /// Runs `f(i)` for every `i` in `0..n`, on the backend's own worker
    /// threads where it has them (idle between forwards: the scheduler
    /// samples several replies' next tokens at once on them), else one
    /// after another on the caller.
    fn spread(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        (0..n).for_each(f);
    }

    /// One sequence alone (tools and tests): `tokens` at `start..` of
    /// `slot`, split as the scheduler would and on the same path, returning
    /// the logits after the last token.
    fn forward_one(
        &mut self,
        slot: usize,
        tokens: &[u32],
        start: usize,
    ) -> Result<Vec<f32>, EngineError> {
        let shape = self.shape();
        let exact = shape.exact_from.is_some_and(|e| tokens.len() >= e);
        let step = shape.max_rows.max(1);
        let mut logits = Vec::new();
        for (i, chunk) in tokens.chunks(step).enumerate() {
            let last = (i + 1) * step >= tokens.len();
            let mut out = self.forward(&[SeqChunk {
                slot,
                tokens: chunk,
                start: start + i * step,
                logits: last,
                all_logits: false,
                exact,
            }])?;
            if last {
                logits = out.pop().unwrap_or_default();
            }
        }
        Ok(logits)
    }
}
