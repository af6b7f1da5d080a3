//! A model's hyperparameters as its GGUF metadata states them, read once
//! for every architecture in the table (`model_port::arch`).

use candle_core::quantized::gguf_file::Content;

use crate::model_port::{architecture, Architecture, EngineError};

#[derive(Clone, Debug)]
pub struct Hyperparams {
    pub arch: &'static Architecture,
    pub dim: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub blocks: usize,
    pub rope_dim: usize,
    pub eps: f32,
    /// Rope base of global layers (every layer of most models).
    pub rope_base: f32,
    /// Rope base of sliding-window layers.
    pub rope_base_local: f32,
    /// Linear rope scaling of global layers (1: none).
    pub rope_scale: f32,
    /// Sliding window size and which layers use it (`i % pattern != pattern - 1`).
    pub sliding: Option<(usize, usize)>,
    /// Scores are `q · k × attention_scale`.
    pub attention_scale: f32,
    /// Embeddings are multiplied by this (Gemma: √dim).
    pub embed_scale: Option<f32>,
    pub final_softcap: Option<f32>,
    /// Experts per token and whether their weights are renormalized.
    pub experts_used: usize,
    pub trained_context: usize,
}

impl Hyperparams {
    /// Keys and values one token leaves in every layer's cache: a backend
    /// multiplies by its element size for the bytes.
    pub fn kv_values_per_token(&self) -> usize {
        self.blocks * self.kv_heads * self.head_dim * 2
    }

    pub fn read(content: &Content) -> Result<Self, EngineError> {
        let get = |key: &str| content.metadata.get(key);
        let name = get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        let arch = architecture(&name)?;
        let key = |k: &str| format!("{name}.{k}");
        let int = |k: &str| {
            get(&key(k))
                .and_then(|v| v.to_u32().ok())
                .map(|v| v as usize)
        };
        let float = |k: &str| get(&key(k)).and_then(|v| v.to_f32().ok());
        let required = |k: &str| {
            int(k).ok_or_else(|| EngineError::CorruptModel {
                file: "the model file".into(),
                reason: format!("{} is missing", key(k)),
            })
        };
        let dim = required("embedding_length")?;
        let heads = required("attention.head_count")?.max(1);
        let kv_heads = int("attention.head_count_kv").unwrap_or(heads).max(1);
        let head_dim = int("attention.key_length").unwrap_or(dim / heads);
        let rope_base = float("rope.freq_base").unwrap_or(10_000.0);
        let linear = get(&key("rope.scaling.type"))
            .and_then(|v| v.to_string().ok())
            .is_some_and(|t| t == "linear");
        let sliding = match (arch.sliding_pattern, int("attention.sliding_window")) {
            (Some(default), Some(window)) if window > 0 => Some((
                window,
                int("attention.sliding_window_type")
                    .unwrap_or(default)
                    .max(1),
            )),
            _ => None,
        };
        if heads % kv_heads != 0 {
            return Err(EngineError::CorruptModel {
                file: "the model file".into(),
                reason: format!(
                    "{heads} query heads do not share {kv_heads} key/value heads evenly"
                ),
            });
        }
        let blocks = required("block_count")?;
        Ok(Self {
            arch,
            dim,
            heads,
            kv_heads,
            head_dim,
            blocks,
            rope_dim: int("rope.dimension_count").unwrap_or(head_dim),
            eps: float("attention.layer_norm_rms_epsilon").unwrap_or(1e-5),
            rope_base,
            rope_base_local: float("rope.local_freq_base").unwrap_or(10_000.0),
            rope_scale: if linear {
                float("rope.scaling.factor").unwrap_or(1.0).max(1e-3)
            } else {
                1.0
            },
            sliding,
            attention_scale: attention_scale(arch, dim, heads, head_dim, blocks),
            embed_scale: arch.gemma_norms.then(|| (dim as f32).sqrt()),
            final_softcap: float("final_logit_softcapping").filter(|c| *c > 0.0),
            experts_used: int("expert_used_count").unwrap_or(0),
            trained_context: int("context_length").unwrap_or(4096),
        })
    }

    /// Whether layer `i` is a sliding-window (local) layer.
    pub fn window(&self, layer: usize) -> Option<usize> {
        self.sliding
            .and_then(|(window, pattern)| (!(layer + 1).is_multiple_of(pattern)).then_some(window))
    }
}

/// Scores are scaled by 1/√head_dim, except Gemma 3 27B's (62 layers),
/// whose `query_pre_attn_scalar` is dim/heads; the GGUF does not carry it,
/// so this follows llama.cpp's rule.
fn attention_scale(
    arch: &Architecture,
    dim: usize,
    heads: usize,
    head_dim: usize,
    blocks: usize,
) -> f32 {
    let scalar = if arch.gemma_norms && blocks == 62 {
        dim / heads
    } else {
        head_dim
    };
    1.0 / (scalar as f32).sqrt()
}
