//! The transformer of every architecture in `model_port::arch` on the CPU
//! path (llama, qwen2, qwen3, qwen3moe, gemma3, phi3), for a batch of
//! sequences at once: every chunk's tokens are rows of one activation
//! matrix, so each weight is read once per layer for all of them, while
//! attention reads each sequence's own slot of the KV cache (f16 or q8_0). Prompt
//! rows run as matrix products (the 8-bit prompt kernel, or f32 products
//! without VNNI), decode rows on the per-row 8-bit kernels; each row's
//! numbers depend only on its own sequence, never on what it was batched
//! with.

use std::path::Path;

use candle_core::quantized::gguf_file::Content;
use domain::{CacheType, Q8_GROUP};

use crate::model_port::hyperparams::Hyperparams;

use super::{
    attention::{attend_batch, AttendSeg, LayerCache, Shape},
    layer::{FeedForward, Layer},
    moe::{experts_forward, ExpertScratch},
    ops::{
        add, add_bias, gelu_mul, rms_norm, rms_norm_in_place, silu_mul, soft_cap, RopeStyle,
        RopeTable,
    },
    project::{project_groups, prompt_kernel_takes},
    quant::{dequantize_row, QuantizedActs},
    team::Team,
    weights::{Matrix, WeightFile},
};
use crate::model_port::{
    arch::{Activation, Architecture},
    BatchModel, EngineError, ModelShape, SeqChunk,
};

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
    experts: ExpertScratch,
}

/// One chunk's rows in the batch's activation matrix.
struct Segment {
    slot: usize,
    start: usize,
    row: usize,
    len: usize,
    logits: bool,
    /// Logits after every row, not only the last.
    all_logits: bool,
    /// Where the chunk was in the batch (outputs keep that order).
    order: usize,
}

pub struct CpuModel {
    file: WeightFile,
    arch: &'static Architecture,
    layers: Vec<Layer>,
    embed: Matrix,
    embed_scale: Option<f32>,
    output: Matrix,
    output_norm: Vec<f32>,
    final_softcap: Option<f32>,
    /// The widest dense feed-forward (0 when every layer has experts),
    /// for sizing the scratch buffers.
    dense_ff: usize,
    dim: usize,
    shape: Shape,
    eps: f32,
    /// Global layers' rope, and the sliding-window layers' own.
    rope: RopeTable,
    rope_local: RopeTable,
    rope_style: RopeStyle,
    context_length: usize,
    /// Cache bytes per token: keys and values in every layer.
    kv_bytes_per_token: usize,
    /// Sequences that run at once.
    running_slots: usize,
    /// `[slot][layer]`: each sequence slot's keys and values (the running
    /// slots' and the prompt cache's).
    caches: Vec<Vec<LayerCache>>,
    scratch: Scratch,
    /// The threads every step runs on.
    team: Team,
}

/// Caches kept beside the running slots for earlier prompts (a chat's
/// last turn while an Impersonate or another chat runs, a character card
/// a new chat starts from). An empty one takes no memory; the scheduler
/// keeps what they hold within the running slots' budget.
const PROMPT_CACHE_SLOTS: usize = 8;

/// Rows one forward takes: bounds the scratch memory whatever the batch.
const MAX_ROWS: usize = 512;

/// Prompts of this many tokens or more are read as matrix products (the
/// scheduler's "exact" path). With AVX-512 VNNI that is every prompt, on
/// the 8-bit prompt kernel (`prompt_gemm`): faster than the per-row
/// kernels from 16 tokens on (Qwen2.5-0.5B, 2 cores: 16 tokens 292 vs 175
/// tok/s, 64 tokens 483 vs 182; 1 token 49 vs 17 ms), and one kernel for
/// every prompt token keeps a sequence's numbers independent of how much
/// of its prompt was cached (a regenerated reply is the cold one). Without
/// VNNI, f32 products, which only pay from about 100 tokens on (64 tokens
/// 143 vs 113 tok/s on the per-row kernels, 128 tokens 124 vs 161).
pub fn exact_from() -> usize {
    if super::quant::has_fast_kernels() {
        1
    } else {
        128
    }
}

impl CpuModel {
    /// Maps the file and checks every tensor; fails (so the caller can use
    /// candle instead) if a format is not one this path handles. `slots`
    /// sequences can be in flight at once, each up to the context length.
    pub fn load(
        path: &Path,
        content: Content,
        config: &Hyperparams,
        ctx_size: Option<usize>,
        slots: usize,
        threads: Option<usize>,
        cache_type: CacheType,
    ) -> Result<Self, EngineError> {
        if cache_type == CacheType::Q8_0 && !config.head_dim.is_multiple_of(Q8_GROUP) {
            return Err(EngineError::Unsupported(format!(
                "the q8_0 cache needs a head size that is a multiple of {Q8_GROUP}, and this \
                 model's is {}: use --cache-type f16",
                config.head_dim
            )));
        }
        let trained = config.trained_context;
        let context_length = ctx_size.map_or(trained, |c| c.clamp(16, trained));
        let file = WeightFile::open(path, content)?;
        let layers = (0..config.blocks)
            .map(|i| Layer::load(&file, config, i))
            .collect::<Result<Vec<_>, EngineError>>()?;
        let embed = file.matrix("token_embd.weight")?;
        // Tied embeddings: the output projection is the embedding matrix.
        let output = if file.has("output.weight") {
            file.matrix("output.weight")?
        } else {
            embed
        };
        let output_norm = file.vector("output_norm.weight")?;
        if embed.cols != config.dim || output.cols != config.dim || output_norm.len() != config.dim
        {
            return Err(EngineError::CorruptModel {
                file: "the model file".into(),
                reason: format!("the embeddings are not {} wide", config.dim),
            });
        }
        let dense_ff = layers
            .iter()
            .map(|l| match &l.ffn {
                FeedForward::Dense { gate, .. } => gate.rows,
                FeedForward::Experts(_) => 0,
            })
            .max()
            .unwrap_or(0);
        Ok(Self {
            arch: config.arch,
            dense_ff,
            layers,
            embed,
            embed_scale: config.embed_scale,
            output,
            output_norm,
            final_softcap: config.final_softcap,
            dim: config.dim,
            shape: Shape {
                heads: config.heads,
                kv_heads: config.kv_heads,
                head_dim: config.head_dim,
                scale: config.attention_scale,
            },
            eps: config.eps,
            rope: RopeTable::new(config.rope_dim, config.rope_base, config.rope_scale),
            rope_local: RopeTable::new(config.rope_dim, config.rope_base_local, 1.0),
            rope_style: config.arch.rope,
            context_length,
            kv_bytes_per_token: cache_type.bytes_for(config.kv_values_per_token()),
            running_slots: slots.max(1),
            caches: (0..slots.max(1) + PROMPT_CACHE_SLOTS)
                .map(|_| {
                    (0..config.blocks)
                        .map(|_| LayerCache::new(cache_type))
                        .collect()
                })
                .collect(),
            scratch: Scratch::default(),
            team: Team::new(threads.unwrap_or_else(rayon::current_num_threads).max(1)),
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
                    all_logits: c.all_logits,
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
        let ff = self.dense_ff;
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
            let row = &mut s.x[t * dim..(t + 1) * dim];
            dequantize_row(
                self.embed.format,
                file.row(&self.embed, token as usize),
                row,
            );
            if let Some(scale) = self.embed_scale {
                row.iter_mut().for_each(|v| *v *= scale);
            }
        }
        let groups = [(0..split, false), (split..n, true)];

        for (l, layer) in self.layers.iter().enumerate() {
            rms_norm(&s.x, &layer.attn_norm, self.eps, &mut s.h);
            project_groups(
                team,
                file,
                &s.h,
                &groups,
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
            if let (Some(qn), Some(kn)) = (&layer.q_norm, &layer.k_norm) {
                rms_norm_in_place(&mut s.q[..n * q_dim], qn, self.eps);
                rms_norm_in_place(&mut s.k[..n * kv_dim], kn, self.eps);
            }
            let rope = if layer.window.is_some() {
                &mut self.rope_local
            } else {
                &mut self.rope
            };
            for seg in &segments {
                let (r0, r1) = (seg.row, seg.row + seg.len);
                rope.apply(
                    &mut s.q[r0 * q_dim..r1 * q_dim],
                    seg.start,
                    heads,
                    hd,
                    self.rope_style,
                );
                rope.apply(
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
            attend_batch(team, &s.q, &attend, &self.shape, layer.window, &mut s.attn);

            project_groups(
                team,
                file,
                &s.attn,
                &groups,
                &mut s.acts,
                &mut [(&layer.wo, &mut s.out)],
            );
            if let Some(w) = &layer.post_attn_norm {
                rms_norm_in_place(&mut s.out[..n * dim], w, self.eps);
            }
            add(&mut s.x, &s.out[..n * dim]);

            rms_norm(&s.x, &layer.ffn_norm, self.eps, &mut s.h);
            match &layer.ffn {
                FeedForward::Dense { gate, up, down } => {
                    project_groups(
                        team,
                        file,
                        &s.h,
                        &groups,
                        &mut s.acts,
                        &mut [(gate, &mut s.gate), (up, &mut s.up)],
                    );
                    let width = n * gate.rows;
                    match self.arch.activation {
                        Activation::Silu => silu_mul(&mut s.gate[..width], &s.up[..width]),
                        Activation::GeluTanh => gelu_mul(&mut s.gate[..width], &s.up[..width]),
                    }
                    project_groups(
                        team,
                        file,
                        &s.gate,
                        &groups,
                        &mut s.acts,
                        &mut [(down, &mut s.out)],
                    );
                }
                FeedForward::Experts(experts) => experts_forward(
                    team,
                    file,
                    experts,
                    &s.h,
                    dim,
                    n,
                    split,
                    &mut s.acts,
                    &mut s.experts,
                    &mut s.out,
                ),
            }
            if let Some(w) = &layer.post_ffn_norm {
                rms_norm_in_place(&mut s.out[..n * dim], w, self.eps);
            }
            add(&mut s.x, &s.out[..n * dim]);
        }

        // Only each chunk's last row gives logits, and only when asked (or
        // every row, for a chunk of drafted tokens). Where the prompt kernel
        // would take them, they run on the per-row kernels instead: a
        // prompt's one row would pay for unpacking the whole vocabulary's
        // matrix, and one kernel for every logits row keeps a regenerated
        // reply's first token the cold one's. On the f32 path, prompts keep
        // exact logits (8-bit activations moved SmolLM2's by up to 0.27).
        let wanted: Vec<(&Segment, std::ops::Range<usize>)> = segments
            .iter()
            .filter(|s| s.logits)
            .map(|s| {
                let end = s.row + s.len;
                (
                    s,
                    if s.all_logits {
                        s.row..end
                    } else {
                        end - 1..end
                    },
                )
            })
            .collect();
        let rows: Vec<usize> = wanted.iter().flat_map(|(_, r)| r.clone()).collect();
        let mut last = vec![0f32; rows.len() * dim];
        for (i, &row) in rows.iter().enumerate() {
            rms_norm(
                &s.x[row * dim..(row + 1) * dim],
                &self.output_norm,
                self.eps,
                &mut last[i * dim..(i + 1) * dim],
            );
        }
        let vocab = self.output.rows;
        let mut logits = vec![0f32; rows.len() * vocab];
        let split = if prompt_kernel_takes(&self.output) {
            rows.len()
        } else {
            rows.iter().take_while(|&&r| r < split).count()
        };
        project_groups(
            team,
            file,
            &last,
            &[(0..split, false), (split..rows.len(), true)],
            &mut s.acts,
            &mut [(&self.output, &mut logits)],
        );
        if let Some(cap) = self.final_softcap {
            soft_cap(&mut logits, cap);
        }
        let mut at = 0;
        let mut out: Vec<(usize, Vec<f32>)> = wanted
            .iter()
            .map(|(seg, r)| {
                let l = logits[at * vocab..(at + r.len()) * vocab].to_vec();
                at += r.len();
                (seg.order, l)
            })
            .collect();
        out.sort_by_key(|(order, _)| *order);
        Ok(out.into_iter().map(|(_, l)| l).collect())
    }
}

impl BatchModel for CpuModel {
    fn cpu_threads(&self) -> Option<usize> {
        Some(self.team.size())
    }

    fn spread(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        self.team
            .for_each_chunk(n, 1, &|start, end| (start..end).for_each(f));
    }

    fn shape(&self) -> ModelShape {
        ModelShape {
            slots: self.running_slots,
            context_length: self.context_length,
            max_rows: MAX_ROWS,
            prefix_reuse: true,
            exact_from: Some(exact_from()),
            vocab: self.output.rows,
            all_logits: true,
            kv_bytes_per_token: self.kv_bytes_per_token,
            cache_slots: self.caches.len(),
            prefix_copy: true,
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

    fn copy_prefix(&mut self, from: usize, to: usize, len: usize) -> Result<(), EngineError> {
        let slots = self.caches.len();
        let [source, target] = self.caches.get_disjoint_mut([from, to]).map_err(|_| {
            EngineError::Compute(format!(
                "cannot copy slot {from}'s prefix into slot {to} of {slots}"
            ))
        })?;
        let held = source.first().map_or(0, LayerCache::positions);
        if len > held {
            return Err(EngineError::Compute(format!(
                "slot {from} holds {held} positions, not the {len} to copy"
            )));
        }
        let kv_dim = self.shape.kv_heads * self.shape.head_dim;
        for (s, t) in source.iter().zip(target.iter_mut()) {
            t.copy_prefix(s, len, kv_dim);
        }
        Ok(())
    }

    fn clear_slot(&mut self, slot: usize) {
        if let Some(layers) = self.caches.get_mut(slot) {
            layers.iter_mut().for_each(LayerCache::clear);
        }
    }
}
