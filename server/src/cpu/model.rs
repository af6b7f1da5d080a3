//! The llama / qwen2 transformer on the CPU path, for a batch of
//! sequences at once: every chunk's tokens are rows of one activation
//! matrix, so each weight is read once per layer for all of them, while
//! attention reads each sequence's own slot of the f16 KV cache. Rows of
//! long prompts run as f32 matrix products (exact), all other rows (decode
//! steps, short prompts) on the 8-bit integer kernels; each row's numbers
//! depend only on its own sequence, never on what it was batched with.

use std::path::Path;

use candle_core::quantized::gguf_file::Content;

use super::{
    attention::{attend_batch, AttendSeg, LayerCache, Shape},
    ops::{add, add_bias, rms_norm, silu_mul, RopeStyle, RopeTable},
    project::project,
    quant::{dequantize_row, QuantizedActs},
    team::Team,
    weights::{Matrix, WeightFile},
};
use crate::model_port::{BatchModel, EngineError, ModelShape, SeqChunk};

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

/// Reused buffers, sized for the largest batch seen.
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

/// One chunk's rows in the batch's activation matrix.
struct Segment {
    slot: usize,
    start: usize,
    row: usize,
    len: usize,
    logits: bool,
    /// Where the chunk was in the batch (outputs keep that order).
    order: usize,
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
    /// `[slot][layer]`: each sequence slot's keys and values.
    caches: Vec<Vec<LayerCache>>,
    scratch: Scratch,
    /// The threads every step runs on.
    team: Team,
}

/// Rows one forward takes: bounds the scratch memory whatever the batch.
const MAX_ROWS: usize = 512;

/// Prompt chunks of this many tokens or more run as f32 matrix products
/// (exact, and faster than the integer kernels from about 100 tokens on;
/// measured on Qwen2.5-0.5B, 2 cores: 64 tokens 143 vs 113 tok/s on the
/// integer kernels, 128 tokens 124 vs 161).
pub const EXACT_FROM: usize = 128;

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
    /// candle instead) if a format is not one this path handles. `slots`
    /// sequences can be in flight at once, each up to the context length.
    pub fn load(
        path: &Path,
        content: Content,
        ctx_size: Option<usize>,
        slots: usize,
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
            caches: (0..slots.max(1))
                .map(|_| (0..blocks).map(|_| LayerCache::default()).collect())
                .collect(),
            scratch: Scratch::default(),
            team: Team::new(rayon::current_num_threads()),
            file,
        })
    }

    /// Checks the batch and lays its chunks out as rows: the integer-path
    /// chunks first, then the exact ones. Returns the segments and where
    /// the exact rows begin.
    fn layout(&self, batch: &[SeqChunk]) -> Result<(Vec<Segment>, usize), EngineError> {
        let mut used = vec![false; self.caches.len()];
        for c in batch {
            let held = self
                .caches
                .get(c.slot)
                .map(|l| l.first().map_or(0, LayerCache::positions));
            let Some(held) = held else {
                return Err(EngineError::Compute(format!("no sequence slot {}", c.slot)));
            };
            if std::mem::replace(&mut used[c.slot], true) {
                return Err(EngineError::Compute(format!(
                    "slot {} twice in a batch",
                    c.slot
                )));
            }
            if c.tokens.is_empty() || c.start > held {
                return Err(EngineError::Compute(format!(
                    "slot {} holds {held} positions; a chunk cannot start at {}",
                    c.slot, c.start
                )));
            }
            if c.start + c.tokens.len() > self.context_length {
                return Err(EngineError::PromptTooLong {
                    prompt_tokens: c.start + c.tokens.len(),
                    context_length: self.context_length,
                });
            }
            if c.tokens.iter().any(|&t| t as usize >= self.embed.rows) {
                return Err(EngineError::Compute(
                    "a token id is outside the vocabulary".into(),
                ));
            }
        }
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_by_key(|&i| batch[i].exact);
        let mut row = 0;
        let mut exact_from = None;
        let segments = order
            .into_iter()
            .map(|i| {
                let c = &batch[i];
                if c.exact && exact_from.is_none() {
                    exact_from = Some(row);
                }
                let seg = Segment {
                    slot: c.slot,
                    start: c.start,
                    row,
                    len: c.tokens.len(),
                    logits: c.logits,
                    order: i,
                };
                row += c.tokens.len();
                seg
            })
            .collect();
        Ok((segments, exact_from.unwrap_or(row)))
    }

    /// Runs the batch (at most `MAX_ROWS` rows) through every layer and
    /// returns the logits the chunks asked for, in batch order.
    fn run(&mut self, batch: &[SeqChunk]) -> Result<Vec<Vec<f32>>, EngineError> {
        let (segments, split) = self.layout(batch)?;
        let n: usize = segments.iter().map(|s| s.len).sum();
        let (dim, heads, kv_heads, hd) = (
            self.dim,
            self.shape.heads,
            self.shape.kv_heads,
            self.shape.head_dim,
        );
        let (q_dim, kv_dim) = (heads * hd, kv_heads * hd);
        for seg in &segments {
            for layer in &mut self.caches[seg.slot] {
                layer.truncate(seg.start, kv_dim);
            }
        }
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
        let mut tokens = vec![0u32; n];
        for seg in &segments {
            tokens[seg.row..seg.row + seg.len].copy_from_slice(batch[seg.order].tokens);
        }
        for (t, &token) in tokens.iter().enumerate() {
            dequantize_row(
                self.embed.format,
                file.row(&self.embed, token as usize),
                &mut s.x[t * dim..(t + 1) * dim],
            );
        }
        let groups = [(0..split, false), (split..n, true)];

        for (l, layer) in self.layers.iter().enumerate() {
            rms_norm(&s.x, &layer.attn_norm, self.eps, &mut s.h);
            for (rows, exact) in groups.clone() {
                project(
                    team,
                    file,
                    &s.h,
                    rows,
                    exact,
                    &mut s.acts,
                    &mut [
                        (&layer.wq, &mut s.q),
                        (&layer.wk, &mut s.k),
                        (&layer.wv, &mut s.v),
                    ],
                );
            }
            for (buf, bias) in [
                (&mut s.q, &layer.bq),
                (&mut s.k, &layer.bk),
                (&mut s.v, &layer.bv),
            ] {
                if let Some(b) = bias {
                    add_bias(buf, b);
                }
            }
            for seg in &segments {
                let (r0, r1) = (seg.row, seg.row + seg.len);
                self.rope.apply(
                    &mut s.q[r0 * q_dim..r1 * q_dim],
                    seg.start,
                    heads,
                    hd,
                    self.rope_style,
                );
                self.rope.apply(
                    &mut s.k[r0 * kv_dim..r1 * kv_dim],
                    seg.start,
                    kv_heads,
                    hd,
                    self.rope_style,
                );
                self.caches[seg.slot][l].append(
                    &s.k[r0 * kv_dim..r1 * kv_dim],
                    &s.v[r0 * kv_dim..r1 * kv_dim],
                    kv_heads,
                    hd,
                );
            }
            let attend: Vec<AttendSeg> = segments
                .iter()
                .map(|seg| AttendSeg {
                    cache: &self.caches[seg.slot][l],
                    start: seg.start,
                    row: seg.row,
                    len: seg.len,
                })
                .collect();
            attend_batch(team, &s.q, &attend, &self.shape, &mut s.attn);

            for (rows, exact) in groups.clone() {
                project(
                    team,
                    file,
                    &s.attn,
                    rows,
                    exact,
                    &mut s.acts,
                    &mut [(&layer.wo, &mut s.out)],
                );
            }
            add(&mut s.x, &s.out[..n * dim]);

            rms_norm(&s.x, &layer.ffn_norm, self.eps, &mut s.h);
            for (rows, exact) in groups.clone() {
                project(
                    team,
                    file,
                    &s.h,
                    rows,
                    exact,
                    &mut s.acts,
                    &mut [(&layer.gate, &mut s.gate), (&layer.up, &mut s.up)],
                );
            }
            silu_mul(&mut s.gate, &s.up);
            for (rows, exact) in groups.clone() {
                project(
                    team,
                    file,
                    &s.gate,
                    rows,
                    exact,
                    &mut s.acts,
                    &mut [(&layer.down, &mut s.out)],
                );
            }
            add(&mut s.x, &s.out[..n * dim]);
        }

        // Only each chunk's last row gives logits, and only when asked. A
        // prompt's logits pick the reply's first token, often a near tie on
        // small models, so exact chunks keep them exact too (8-bit
        // activations moved SmolLM2's by up to 0.27).
        let wanted: Vec<&Segment> = segments.iter().filter(|s| s.logits).collect();
        let mut last = vec![0f32; wanted.len() * dim];
        for (i, seg) in wanted.iter().enumerate() {
            let row = seg.row + seg.len - 1;
            rms_norm(
                &s.x[row * dim..(row + 1) * dim],
                &self.output_norm,
                self.eps,
                &mut last[i * dim..(i + 1) * dim],
            );
        }
        let vocab = self.output.rows;
        let mut logits = vec![0f32; wanted.len() * vocab];
        let split = wanted.iter().take_while(|s| s.row < split).count();
        for (rows, exact) in [(0..split, false), (split..wanted.len(), true)] {
            project(
                team,
                file,
                &last,
                rows,
                exact,
                &mut s.acts,
                &mut [(&self.output, &mut logits)],
            );
        }
        let mut out: Vec<(usize, Vec<f32>)> = wanted
            .iter()
            .zip(logits.chunks_exact(vocab))
            .map(|(seg, l)| (seg.order, l.to_vec()))
            .collect();
        out.sort_by_key(|(order, _)| *order);
        Ok(out.into_iter().map(|(_, l)| l).collect())
    }
}

impl BatchModel for CpuModel {
    fn shape(&self) -> ModelShape {
        ModelShape {
            slots: self.caches.len(),
            context_length: self.context_length,
            max_rows: MAX_ROWS,
            prefix_reuse: true,
            exact_from: Some(EXACT_FROM),
            vocab: self.output.rows,
        }
    }

    fn forward(&mut self, batch: &[SeqChunk]) -> Result<Vec<Vec<f32>>, EngineError> {
        let rows: usize = batch.iter().map(|c| c.tokens.len()).sum();
        if rows > MAX_ROWS {
            return Err(EngineError::Compute(format!(
                "a batch of {rows} rows; at most {MAX_ROWS} fit"
            )));
        }
        self.run(batch)
    }

    fn cache_bytes(&self) -> usize {
        self.caches.iter().flatten().map(LayerCache::bytes).sum()
    }
}
