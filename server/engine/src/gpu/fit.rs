//! Whether the weights and the KV caches fit in the GPU memory we may use
//! (`--gpu-memory`), decided at load: a context or slot count that does
//! not fit is refused with the number of tokens that would, instead of
//! running out of memory in the middle of a chat.

use candle_core::quantized::gguf_file::{Content, TensorInfo};

use super::attention::QUERY_BLOCK;
use crate::model_port::{hyperparams::Hyperparams, EngineError};

/// Bytes per attention score a forward holds at once (see [`Footprint`]).
const SCORE_BYTES: usize = 4 + 4 + 2;

const GIB: f64 = (1u64 << 30) as f64;

/// Memory besides weights and caches: candle's workspace and the CUDA
/// context, a rough allowance.
const OVERHEAD: usize = 512 << 20;

/// What a load will take, in bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Footprint {
    pub weights: usize,
    /// One token of one slot, every layer, keys and values.
    pub kv_per_token: usize,
    /// One token of one slot in one layer, keys and values: what a decode
    /// step gathers at once when its slots are not consecutive.
    pub gathered_per_token: usize,
    /// What grows with the context besides the caches, per position: one
    /// block of query rows' attention scores and probabilities (f32, and
    /// the probabilities again in the activation type), a prompt chunk's
    /// masks (f32, one plan per kind of layer) and the rope tables (cos
    /// and sin, for keys and for queries, per kind of layer).
    pub scores_per_token: usize,
    /// A forward's activations at its most rows (a prompt chunk): the
    /// residual stream, its normed copy, q/k/v, the attention output, the
    /// feed-forward's gate, up and product, in the activation type.
    pub forward: usize,
}

impl Footprint {
    /// `cache_type_size`: bytes of one value in the activation type, which
    /// the caches and the dense weights are kept in.
    pub fn of(content: &Content, config: &Hyperparams, cache_type_size: usize) -> Self {
        let weights = content
            .tensor_infos
            .iter()
            .map(|(name, t)| resident_bytes(name, t, cache_type_size))
            .sum();
        Self {
            weights,
            kv_per_token: config.kv_values_per_token() * cache_type_size,
            gathered_per_token: config.kv_values_per_token() / config.blocks.max(1)
                * cache_type_size,
            scores_per_token: config.heads * QUERY_BLOCK * SCORE_BYTES
                + per_position(config, cache_type_size),
            forward: forward_bytes(content, config, cache_type_size),
        }
    }

    /// Bytes a load may spend on caches and transient buffers.
    fn available(&self, limit: usize) -> usize {
        limit.saturating_sub(self.weights + OVERHEAD)
    }

    /// Bytes per token of one slot's context: its cache, and its share of
    /// a decode step's gathered keys and values.
    fn per_slot_token(&self) -> usize {
        self.kv_per_token + self.gathered_per_token
    }

    /// Bytes `slots` caches of `context` positions need, with a forward's
    /// transient buffers at that context.
    fn needed(&self, context: usize, slots: usize) -> usize {
        (slots * self.per_slot_token() + self.scores_per_token) * context + self.forward
    }

    /// Bytes a load takes in all: weights, the allowance, and `slots`
    /// caches of `context` positions with a forward's transients.
    pub fn total(&self, context: usize, slots: usize) -> usize {
        self.weights + OVERHEAD + self.needed(context, slots)
    }

    /// Tokens of KV cache (all slots together) that fit in `limit` bytes
    /// next to the weights, with `context` the longest a slot may grow.
    pub fn tokens_that_fit(&self, limit: usize, context: usize) -> usize {
        self.available(limit)
            .saturating_sub(self.scores_per_token * context + self.forward)
            / self.per_slot_token().max(1)
    }

    /// The longest context `slots` slots may have within `limit`.
    pub fn max_context(&self, limit: usize, slots: usize) -> usize {
        self.available(limit).saturating_sub(self.forward)
            / (slots * self.per_slot_token() + self.scores_per_token).max(1)
    }

    /// Checks `slots` caches of `context` positions against `limit`.
    pub fn check(&self, limit: usize, context: usize, slots: usize) -> Result<(), EngineError> {
        if self.needed(context, slots) <= self.available(limit) {
            return Ok(());
        }
        let fit = self.tokens_that_fit(limit, context);
        let fitting_slots = fit / context.max(1);
        let longest = self.max_context(limit, slots);
        let advice = match (fitting_slots, longest) {
            (0, 0..16) => "the weights leave no room for a cache".to_string(),
            (0, _) => format!("use --ctx-size {longest}"),
            _ => format!("use --parallel {fitting_slots}, or --ctx-size {longest}"),
        };
        Err(EngineError::OutOfMemory {
            device: format!("the GPU (--gpu-memory {:.1} GiB)", limit as f64 / GIB),
            reason: format!(
                "{:.1} GiB of weights leave room for {fit} tokens of KV cache at a context of {context}, and {slots} slot(s) need {}: {advice}",
                self.weights as f64 / GIB,
                slots * context,
            ),
        })
    }
}

/// Bytes per position of a chunk's masks and the rope tables: sliding-
/// window models keep a second of each.
fn per_position(config: &Hyperparams, activation_size: usize) -> usize {
    let kinds = 1 + usize::from(config.sliding.is_some());
    let masks = super::MAX_ROWS * 4;
    let rope = 4 * (config.head_dim / 2) * activation_size;
    kinds * (masks + rope)
}

/// Bytes of a forward's activations at its most rows (see
/// [`Footprint::forward`]); the feed-forward's width is read from the
/// first block's down matrix (an expert's, for a mixture).
fn forward_bytes(content: &Content, config: &Hyperparams, activation_size: usize) -> usize {
    let ff = ["blk.0.ffn_down.weight", "blk.0.ffn_down_exps.weight"]
        .iter()
        .find_map(|name| content.tensor_infos.get(*name))
        .and_then(|t| t.shape.dims().last().copied())
        .unwrap_or(4 * config.dim);
    let (q, kv) = (
        config.heads * config.head_dim,
        config.kv_heads * config.head_dim,
    );
    super::MAX_ROWS * (3 * config.dim + 2 * q + 2 * kv + 3 * ff) * activation_size
}

/// Bytes tensor `name` takes once loaded: quantized ones as in the file;
/// dense ones in the activation type, except the two ends of the model
/// and a mixture's router, which stay f32 (logits and routing in f32).
fn resident_bytes(name: &str, t: &TensorInfo, activation_size: usize) -> usize {
    use candle_core::quantized::GgmlDType;
    let elements = t.shape.elem_count();
    match t.ggml_dtype {
        GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16 => {
            let stays_f32 = matches!(name, "token_embd.weight" | "output.weight")
                || name.ends_with(".ffn_gate_inp.weight");
            elements * if stays_f32 { 4 } else { activation_size }
        }
        q => elements / q.block_size() * q.type_size(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Qwen2.5-32B Q4_K_M: 19.9 GB of weights, 64 layers × 8 KV heads × 128.
    fn qwen_32b() -> Footprint {
        Footprint {
            weights: 19_850_000_000,
            kv_per_token: 64 * 2 * 8 * 128 * 2,
            gathered_per_token: 2 * 8 * 128 * 2,
            // One block's scores, a chunk's masks, the rope tables.
            scores_per_token: 40 * QUERY_BLOCK * SCORE_BYTES + 512 * 4 + 4 * 64 * 2,
            // 512 rows × (3·5120 + 2·5120 + 2·1024 + 3·27648) × 2 bytes.
            forward: 512 * (3 * 5120 + 2 * 5120 + 2 * 1024 + 3 * 27648) * 2,
        }
    }

    #[test]
    fn a_24_gib_card_holds_an_8k_context_for_the_32b_model() {
        let limit = 24 << 30;
        let fit = qwen_32b().tokens_that_fit(limit, 8192);
        assert!(fit >= 8192, "{fit}");
        assert!(qwen_32b().check(limit, 8192, 1).is_ok());
        // The target: two chats of 8k each, transients included.
        assert!(qwen_32b().check(limit, 8192, 2).is_ok());
        assert!(qwen_32b().total(8192, 2) < limit);
        // Query blocks keep the transient scores small: one slot of 16k fits.
        assert!(qwen_32b().max_context(limit, 1) >= 16_384);
    }

    #[test]
    fn too_many_slots_are_refused_with_a_context_that_fits() {
        let (limit, model) = (24 << 30, qwen_32b());
        let err = model.check(limit, 32768, 4).unwrap_err().to_string();
        let longest = model.max_context(limit, 4);
        assert!(err.contains(&format!("--ctx-size {longest}")), "{err}");
        assert!((1024..32768).contains(&longest), "{longest}");
        assert!(model.check(limit, longest, 4).is_ok());
        assert!(model.check(limit, longest + 1, 4).is_err());
    }
}
