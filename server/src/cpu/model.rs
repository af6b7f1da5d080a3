//! The llama / qwen2 transformer on the CPU path: weights in place in the
//! mapped file, activations quantized to 8 bits for the integer kernels, a
//! growing f32 KV cache that remembers which tokens it holds so a prompt
//! sharing a prefix with the last one only computes the rest.

use std::path::Path;

use candle_core::quantized::gguf_file::Content;

use super::{
    attention::{attend, LayerCache, Shape},
    gemm,
    matmul::{matmul, Product},
    ops::{add, add_bias, rms_norm, silu_mul, RopeStyle, RopeTable},
    quant::{dequantize_row, QuantizedActs},
    team::Team,
    weights::{Matrix, WeightFile},
};
use crate::engine::{EngineError, LanguageModel};

struct Layer {
    attn_norm: Vec<f32>,
    wq: Matrix,
    wk: Matrix,
    wv: Matrix,
    bq: Option<Vec<f32>>,
    bk: Option<Vec<f32>>,
    bv: Option<Vec<f32>>,
    wo: Matrix,
    ffn_norm: Vec<f32>,
    gate: Matrix,
    up: Matrix,
    down: Matrix,
}

/// Reused buffers, sized for the largest chunk seen.
#[derive(Default)]
struct Scratch {
    x: Vec<f32>,
    h: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    attn: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    out: Vec<f32>,
    acts: QuantizedActs,
}

pub struct CpuModel {
    file: WeightFile,
    layers: Vec<Layer>,
    embed: Matrix,
    output: Matrix,
    output_norm: Vec<f32>,
    dim: usize,
    shape: Shape,
    eps: f32,
    rope: RopeTable,
    rope_style: RopeStyle,
    context_length: usize,
    cache: Vec<LayerCache>,
    /// The tokens whose keys and values are in `cache`, in order.
    cached: Vec<u32>,
    scratch: Scratch,
    /// The threads every step runs on.
    team: Team,
}

fn meta_u32(content: &Content, key: &str) -> Result<usize, EngineError> {
    content
        .metadata
        .get(key)
        .and_then(|v| v.to_u32().ok())
        .map(|v| v as usize)
        .ok_or_else(|| EngineError::CorruptModel {
            file: "the model file".into(),
            reason: format!("{key} is missing"),
        })
}

fn meta_f32(content: &Content, key: &str) -> Option<f32> {
    content.metadata.get(key).and_then(|v| v.to_f32().ok())
}

impl CpuModel {
    /// Maps the file and checks every tensor; fails (so the caller can use
    /// candle instead) if a format is not one this path handles.
    pub fn load(
        path: &Path,
        content: Content,
        ctx_size: Option<usize>,
    ) -> Result<Self, EngineError> {
        let arch = content
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        let rope_style = match arch.as_str() {
            "llama" => RopeStyle::Interleaved,
            "qwen2" => RopeStyle::Halves,
            other => return Err(EngineError::UnsupportedArchitecture(other.to_string())),
        };
        let dim = meta_u32(&content, &format!("{arch}.embedding_length"))?;
        let heads = meta_u32(&content, &format!("{arch}.attention.head_count"))?;
        let kv_heads =
            meta_u32(&content, &format!("{arch}.attention.head_count_kv")).unwrap_or(heads);
        let blocks = meta_u32(&content, &format!("{arch}.block_count"))?;
        let head_dim = dim / heads;
        let rope_dim =
            meta_u32(&content, &format!("{arch}.rope.dimension_count")).unwrap_or(head_dim);
        let eps = meta_f32(
            &content,
            &format!("{arch}.attention.layer_norm_rms_epsilon"),
        )
        .unwrap_or(1e-5);
        let base = meta_f32(&content, &format!("{arch}.rope.freq_base")).unwrap_or(10_000.0);
        let trained = meta_u32(&content, &format!("{arch}.context_length")).unwrap_or(4096);
        let context_length = ctx_size.map_or(trained, |c| c.clamp(16, trained));

        let file = WeightFile::open(path, content)?;
        let layers = (0..blocks)
            .map(|i| {
                let t = |name: &str| format!("blk.{i}.{name}");
                Ok(Layer {
                    attn_norm: file.vector(&t("attn_norm.weight"))?,
                    wq: file.matrix(&t("attn_q.weight"))?,
                    wk: file.matrix(&t("attn_k.weight"))?,
                    wv: file.matrix(&t("attn_v.weight"))?,
                    bq: file.optional_vector(&t("attn_q.bias"))?,
                    bk: file.optional_vector(&t("attn_k.bias"))?,
                    bv: file.optional_vector(&t("attn_v.bias"))?,
                    wo: file.matrix(&t("attn_output.weight"))?,
                    ffn_norm: file.vector(&t("ffn_norm.weight"))?,
                    gate: file.matrix(&t("ffn_gate.weight"))?,
                    up: file.matrix(&t("ffn_up.weight"))?,
                    down: file.matrix(&t("ffn_down.weight"))?,
                })
            })
            .collect::<Result<Vec<_>, EngineError>>()?;
        let embed = file.matrix("token_embd.weight")?;
        // Tied embeddings: the output projection is the embedding matrix.
        let output = if file.has("output.weight") {
            file.matrix("output.weight")?
        } else {
            embed
        };
        let output_norm = file.vector("output_norm.weight")?;
        Ok(Self {
            layers,
            embed,
            output,
            output_norm,
            dim,
            shape: Shape {
                heads,
                kv_heads,
                head_dim,
            },
            eps,
            rope: RopeTable::new(rope_dim, base),
            rope_style,
            context_length,
            cache: (0..blocks).map(|_| LayerCache::default()).collect(),
            cached: Vec::new(),
            scratch: Scratch::default(),
            team: Team::new(rayon::current_num_threads()),
            file,
        })
    }

    /// Runs `tokens` at positions `start..` through every layer; returns the
    /// logits of the last one.
    fn run(&mut self, tokens: &[u32], start: usize) -> Result<Vec<f32>, EngineError> {
        let n = tokens.len();
        let (dim, heads, kv_heads, hd) = (
            self.dim,
            self.shape.heads,
            self.shape.kv_heads,
            self.shape.head_dim,
        );
        let (q_dim, kv_dim) = (heads * hd, kv_heads * hd);
        if tokens.iter().any(|&t| t as usize >= self.embed.rows) {
            return Err(EngineError::Compute(
                "a token id is outside the vocabulary".into(),
            ));
        }
        for layer in &mut self.cache {
            layer.truncate(start, kv_dim);
        }
        self.cached.truncate(start);
        self.cached.extend_from_slice(tokens);

        let s = &mut self.scratch;
        let ff = self.layers.first().map_or(0, |l| l.gate.rows);
        for (buf, len) in [
            (&mut s.x, n * dim),
            (&mut s.h, n * dim),
            (&mut s.q, n * q_dim),
            (&mut s.k, n * kv_dim),
            (&mut s.v, n * kv_dim),
            (&mut s.attn, n * q_dim),
            (&mut s.gate, n * ff),
            (&mut s.up, n * ff),
            (&mut s.out, n * dim.max(q_dim)),
        ] {
            buf.resize(len, 0.0);
        }
        let file = &self.file;
        let team = &self.team;
        for (t, &token) in tokens.iter().enumerate() {
            dequantize_row(
                self.embed.format,
                file.row(&self.embed, token as usize),
                &mut s.x[t * dim..(t + 1) * dim],
            );
        }

        for (layer, cache) in self.layers.iter().zip(self.cache.iter_mut()) {
            rms_norm(&s.x, &layer.attn_norm, self.eps, &mut s.h);
            project(
                team,
                file,
                &s.h,
                n,
                &mut s.acts,
                &mut [
                    (&layer.wq, &mut s.q),
                    (&layer.wk, &mut s.k),
                    (&layer.wv, &mut s.v),
                ],
            );
            for (buf, bias) in [
                (&mut s.q, &layer.bq),
                (&mut s.k, &layer.bk),
                (&mut s.v, &layer.bv),
            ] {
                if let Some(b) = bias {
                    add_bias(buf, b);
                }
            }
            self.rope.apply(&mut s.q, start, heads, hd, self.rope_style);
            self.rope
                .apply(&mut s.k, start, kv_heads, hd, self.rope_style);
            cache.append(&s.k, &s.v, kv_heads, hd);
            attend(team, &s.q, cache, start, &self.shape, &mut s.attn);

            project(
                team,
                file,
                &s.attn,
                n,
                &mut s.acts,
                &mut [(&layer.wo, &mut s.out)],
            );
            add(&mut s.x, &s.out[..n * dim]);

            rms_norm(&s.x, &layer.ffn_norm, self.eps, &mut s.h);
            project(
                team,
                file,
                &s.h,
                n,
                &mut s.acts,
                &mut [(&layer.gate, &mut s.gate), (&layer.up, &mut s.up)],
            );
            silu_mul(&mut s.gate, &s.up);
            project(
                team,
                file,
                &s.gate,
                n,
                &mut s.acts,
                &mut [(&layer.down, &mut s.out)],
            );
            add(&mut s.x, &s.out[..n * dim]);
        }

        // Only the last token's logits are needed.
        let last = &s.x[(n - 1) * dim..n * dim];
        let mut normed = vec![0f32; dim];
        rms_norm(last, &self.output_norm, self.eps, &mut normed);
        let mut logits = vec![0f32; self.output.rows];
        if n >= GEMM_MIN_TOKENS && gemm::suits(&self.output) {
            // A prompt's logits pick the reply's first token, which is often
            // a near tie on small models: keep them as exact as the prompt
            // itself (8-bit activations here moved SmolLM2's by up to 0.27).
            gemm::gemm(
                team,
                &self.output,
                file.bytes(&self.output),
                &normed,
                1,
                &mut logits,
            );
        } else {
            project(
                team,
                file,
                &normed,
                1,
                &mut s.acts,
                &mut [(&self.output, &mut logits)],
            );
        }
        Ok(logits)
    }
}

/// Prompts are processed in chunks of this many tokens, which bounds the
/// scratch memory whatever the prompt length (and dequantizes each weight
/// once per chunk).
const CHUNK: usize = 512;

/// From this many tokens on, a projection dequantizes its weights and runs
/// as an f32 matrix product; below, it runs on the integer kernels.
const GEMM_MIN_TOKENS: usize = 16;

/// `out = x · Wᵀ` for `n` tokens of `x` and every `(W, out)` in
/// `products` (matrices that read the same input), by whichever method
/// suits `n`: f32 matrix products for prompts, else one team step on the
/// integer kernels.
fn project(
    team: &Team,
    file: &WeightFile,
    x: &[f32],
    n: usize,
    acts: &mut QuantizedActs,
    products: &mut [(&Matrix, &mut [f32])],
) {
    let cols = products[0].0.cols;
    if n >= GEMM_MIN_TOKENS && products.iter().all(|(w, _)| gemm::suits(w)) {
        for (w, out) in products.iter_mut() {
            gemm::gemm(team, w, file.bytes(w), &x[..n * cols], n, out);
        }
    } else {
        acts.quantize(&x[..n * cols], cols);
        let mut fused: Vec<Product> = products
            .iter_mut()
            .map(|(w, out)| Product {
                w,
                bytes: file.bytes(w),
                out,
            })
            .collect();
        matmul(team, &mut fused, acts, n);
    }
}

impl LanguageModel for CpuModel {
    fn forward(&mut self, tokens: &[u32], start_pos: usize) -> Result<Vec<f32>, EngineError> {
        if tokens.is_empty() || start_pos + tokens.len() > self.context_length {
            return Err(EngineError::PromptTooLong {
                prompt_tokens: start_pos + tokens.len(),
                context_length: self.context_length,
            });
        }
        let start_pos = start_pos.min(self.cached.len());
        let mut logits = Vec::new();
        for (i, chunk) in tokens.chunks(CHUNK).enumerate() {
            logits = self.run(chunk, start_pos + i * CHUNK)?;
        }
        Ok(logits)
    }

    fn context_length(&self) -> usize {
        self.context_length
    }

    /// The shared prefix, less enough tail that the rest of the prompt
    /// still runs as one f32 matrix product: its logits (and so a greedy
    /// reply) are then the same whether or not the cache was hit.
    fn cached_prefix(&self, tokens: &[u32]) -> usize {
        let shared = self
            .cached
            .iter()
            .zip(tokens)
            .take_while(|(a, b)| a == b)
            .count();
        if gemm::suits(&self.output) {
            shared.min(tokens.len().saturating_sub(GEMM_MIN_TOKENS))
        } else {
            shared
        }
    }
}
