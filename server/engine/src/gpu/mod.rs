//! candlelight's own model on candle tensors, the CUDA path: one KV tensor
//! per layer for all sequence slots, allocated once and written in place by
//! one scatter per layer; grouped-query attention reads the shared
//! key/value heads without repeating them; one forward runs the chunks of
//! many sequences together, so decoding eight replies reads the weights
//! once, and their attention runs as one batched product with a length
//! mask, so a decode step issues as many kernels for eight replies as for
//! one (`launches` counts them). It runs on candle's CPU device
//! too, which is how `make test` checks it against candle's reference
//! models without a GPU. Every architecture in the table: llama, qwen2,
//! qwen3, qwen3moe (`experts`), gemma3 (sliding windows, GeGLU, its extra
//! norms) and phi3 (fused projections); files with a partial rotation use
//! `engine::candle` on CUDA.

mod attention;
mod experts;
mod feed_forward;
pub mod fit;
mod kv_cache;
pub mod launches;
mod layer;
mod rope;
mod stacked;

use std::path::Path;

use candle_core::{
    quantized::{gguf_file::Content, QMatMul},
    DType, Device, Module, Tensor,
};

use attention::ChunkPlan;
use fit::Footprint;
use kv_cache::{CacheShape, KvCache, SlotRows};
use launches::{contiguous, issued, op};
use layer::{Layer, Reader};
use rope::Rope;

use crate::model_port::{
    hyperparams::Hyperparams, load_error, BatchModel, EngineError, ModelShape, SeqChunk,
};

/// Most tokens one forward takes (prompts are read in chunks this long).
const MAX_ROWS: usize = 512;

pub struct GpuModel {
    embedding: QMatMul,
    layers: Vec<Layer>,
    norm: Tensor,
    output: QMatMul,
    /// The output matrix is the embedding table.
    tied: bool,
    rope: Rope,
    /// Sliding-window layers' rotation (their own base), where there are any.
    rope_local: Option<Rope>,
    cache: KvCache,
    config: Hyperparams,
    device: Device,
    dtype: DType,
    slots: usize,
    context_length: usize,
    vocab: usize,
    /// What the memory plan found room for, when one was made.
    kv_tokens_that_fit: Option<usize>,
    /// Operations each layer issued in the last forward.
    last_launches: Vec<usize>,
}

/// A forward's decode rows (chunks of one token), attended all at once.
struct DecodeRows {
    /// Their rows among the forward's tokens, when not all of them.
    rows: Option<Tensor>,
    /// Their slots' keys and values, as far as the longest sees.
    slots: SlotRows,
    /// Where their new keys and values go (one scatter per layer).
    targets: Tensor,
    /// (rows, 1, 1, len): −∞ past each row's own keys; none when all see `len`.
    mask: Option<Tensor>,
    /// The same for sliding-window layers, −∞ also before each row's
    /// window; none when no row's window hides a key.
    local_mask: Option<Tensor>,
}

impl DecodeRows {
    fn plan(
        batch: &[SeqChunk],
        cache: &KvCache,
        window: Option<usize>,
        device: &Device,
    ) -> candle_core::Result<Option<Self>> {
        let (mut rows, mut slots, mut seen) = (Vec::new(), Vec::new(), Vec::new());
        let mut placed = Vec::new();
        let mut row = 0;
        for chunk in batch {
            if chunk.tokens.len() == 1 {
                rows.push(row as u32);
                slots.push(chunk.slot);
                seen.push(chunk.start + 1);
                placed.push((chunk.slot, chunk.start));
            }
            row += chunk.tokens.len();
        }
        let Some(&len) = seen.iter().max() else {
            return Ok(None);
        };
        let mask = |window: Option<usize>| {
            let values: Vec<f32> = seen
                .iter()
                .flat_map(|&s| (0..len).map(move |j| attention::visibility(j, s, window)))
                .collect();
            Tensor::from_vec(values, (seen.len(), 1, 1, len), device)
        };
        let local_mask = window
            .filter(|&w| seen.iter().any(|&s| s > w))
            .map(|w| mask(Some(w)))
            .transpose()?;
        let mask = (!seen.iter().all(|&s| s == len))
            .then(|| mask(None))
            .transpose()?;
        Ok(Some(Self {
            rows: (rows.len() < row)
                .then(|| Tensor::new(rows.as_slice(), device))
                .transpose()?,
            slots: cache.slot_rows(&slots, len, device)?,
            targets: cache.targets(&placed, device)?,
            mask,
            local_mask,
        }))
    }
}

/// Why a file is not for this path (it then runs on `engine::candle`).
pub fn unsupported(config: &Hyperparams) -> Option<String> {
    (config.rope_dim != config.head_dim).then(|| {
        format!(
            "a partial rotation ({} of {} dimensions) is not ported yet",
            config.rope_dim, config.head_dim
        )
    })
}

/// The activations' type: bf16 on the GPU keeps f32's range (Qwen's
/// activations outgrow f16's); candle's CPU device computes in f32, as the
/// reference does, unless a test asks for another.
pub fn activation_dtype(on_cpu: bool, asked: Option<DType>) -> DType {
    asked.unwrap_or(if on_cpu { DType::F32 } else { DType::BF16 })
}

/// Positions per slot: `ctx_size` within the trained context (default).
pub fn context_length(ctx_size: Option<usize>, config: &Hyperparams) -> usize {
    // Not `clamp`: a file may claim a trained context under 16.
    ctx_size.map_or(config.trained_context, |c| {
        c.max(16).min(config.trained_context)
    })
}

/// How many sequences the model holds, how long, within what memory.
#[derive(Clone, Copy, Debug)]
pub struct Capacity {
    /// Positions per slot (default: the model's trained context).
    pub ctx_size: Option<usize>,
    pub slots: usize,
    /// Bytes the weights and caches may take (`--gpu-memory`).
    pub memory_limit: Option<usize>,
    /// The activations' type: by default bf16 on a GPU and f32 on candle's
    /// CPU device (as the reference computes); tests also run bf16 there,
    /// so a type mismatch shows without a card.
    pub activations: Option<DType>,
}

impl GpuModel {
    /// Loads the weights onto `device` and allocates `slots` caches of
    /// `ctx_size` positions (default: the model's trained context).
    /// With `memory_limit`, weights and caches that would not fit in it
    /// are refused before anything is allocated (see [`fit`]).
    pub fn load<R: std::io::Read + std::io::Seek>(
        path: &Path,
        content: Content,
        reader: &mut R,
        config: Hyperparams,
        device: &Device,
        capacity: Capacity,
    ) -> Result<Self, EngineError> {
        let Capacity {
            ctx_size,
            slots,
            memory_limit,
            activations,
        } = capacity;
        if let Some(reason) = unsupported(&config) {
            return Err(EngineError::Unsupported(reason));
        }
        let dtype = activation_dtype(device.is_cpu(), activations);
        let context_length = context_length(ctx_size, &config);
        let kv_tokens_that_fit = match memory_limit {
            Some(limit) => {
                let footprint = Footprint::of(&content, &config, dtype.size_in_bytes());
                footprint.check(limit, context_length, slots)?;
                let fit = footprint.tokens_that_fit(limit, context_length);
                tracing::info!(
                    kv_tokens_that_fit = fit,
                    slots,
                    context_length,
                    "GPU memory plan"
                );
                Some(fit)
            }
            None => None,
        };
        let loaded = (|| {
            let mut r = Reader {
                content: &content,
                reader,
                device,
                dtype,
            };
            // Logits in f32 (bf16 steps by 0.125 above 16): dense output
            // weights stay f32 and the rows are widened before the product.
            // Tied embeddings: one copy on the device serves both ends (a
            // dense table as one f32 tensor, which candle would make twice).
            let embedding = layer::in_dtype(r.tensor("token_embd.weight")?, DType::F32)?;
            let output = if r.has("output.weight") {
                layer::in_dtype(r.tensor("output.weight")?, DType::F32)?
            } else {
                embedding.clone()
            };
            let tied = !r.has("output.weight");
            let layers = (0..config.blocks)
                .map(|i| r.layer(i, &config))
                .collect::<candle_core::Result<Vec<_>>>()?;
            let norm = r.vector("output_norm.weight")?;
            let rope = Rope::new(
                config.arch.rope,
                config.head_dim,
                config.rope_base,
                config.rope_scale,
                config.attention_scale,
                context_length,
                dtype,
                device,
            )?;
            // Gemma's local layers turn at their own base, unscaled.
            let rope_local = config
                .sliding
                .map(|_| {
                    Rope::new(
                        config.arch.rope,
                        config.head_dim,
                        config.rope_base_local,
                        1.0,
                        config.attention_scale,
                        context_length,
                        dtype,
                        device,
                    )
                })
                .transpose()?;
            let cache = KvCache::new(
                CacheShape {
                    layers: config.blocks,
                    slots,
                    kv_heads: config.kv_heads,
                    context: context_length,
                    head_dim: config.head_dim,
                },
                dtype,
                device,
            )?;
            Ok::<_, candle_core::Error>((
                (embedding, output, tied),
                layers,
                norm,
                rope,
                rope_local,
                cache,
            ))
        })();
        let ((embedding, output, tied), layers, norm, rope, rope_local, cache) =
            loaded.map_err(|e| load_error(path, device, e))?;
        let vocab = content
            .tensor_infos
            .get("token_embd.weight")
            .map_or(0, |t| t.shape.dims()[0]);
        let mut model = Self {
            embedding,
            layers,
            norm,
            output,
            tied,
            rope,
            rope_local,
            cache,
            config,
            device: device.clone(),
            dtype,
            slots,
            context_length,
            vocab,
            kv_tokens_that_fit,
            last_launches: Vec::new(),
        };
        model.warm_up().map_err(|e| load_error(path, device, e))?;
        Ok(model)
    }

    /// Runs a 2-token prompt and a decode step in slot 0 and waits for the
    /// device: kernels are compiled (CUDA's PTX) and the uploads finished
    /// at load, so a card the build cannot drive fails here, with the
    /// model's name, not at a user's first message. What it leaves in slot 0
    /// is overwritten by the first request there (the scheduler holds the
    /// slot as empty).
    fn warm_up(&mut self) -> candle_core::Result<()> {
        let token = [0u32, 0];
        for (tokens, start) in [(&token[..], 0), (&token[..1], 2)] {
            self.run(&[SeqChunk {
                slot: 0,
                tokens,
                start,
                logits: true,
                all_logits: false,
                exact: false,
            }])?;
        }
        self.device.synchronize()
    }

    /// Operations (kernel launches on a GPU) each layer issued in the last
    /// forward.
    pub fn launches_per_layer(&self) -> &[usize] {
        &self.last_launches
    }

    /// Bytes the weights take on the device, as allocated: what the
    /// memory plan ([`fit::Footprint`]) must have counted.
    pub fn weight_bytes(&self) -> usize {
        let ends = layer::matrix_bytes(&self.embedding)
            + if self.tied {
                0
            } else {
                layer::matrix_bytes(&self.output)
            };
        ends + layer::tensor_bytes(&self.norm) + self.layers.iter().map(Layer::bytes).sum::<usize>()
    }

    /// Matrix products each layer runs per forward (q/k/v and gate/up
    /// stacked where their types match: 4 when all are).
    pub fn products_per_layer(&self) -> Vec<usize> {
        self.layers.iter().map(Layer::products).collect()
    }

    fn check(&self, batch: &[SeqChunk]) -> Result<(), EngineError> {
        let mut seen = vec![false; self.slots];
        for chunk in batch {
            if chunk.slot >= self.slots || std::mem::replace(&mut seen[chunk.slot], true) {
                return Err(EngineError::Compute(format!(
                    "slot {} is out of range or twice in one batch",
                    chunk.slot
                )));
            }
            if chunk.tokens.is_empty() || chunk.start + chunk.tokens.len() > self.context_length {
                return Err(EngineError::PromptTooLong {
                    prompt_tokens: chunk.start + chunk.tokens.len(),
                    context_length: self.context_length,
                });
            }
            // On a card an out-of-range id would read past the table: a
            // fault that fails every running reply, not just this one.
            if let Some(&token) = chunk.tokens.iter().find(|&&t| t as usize >= self.vocab) {
                return Err(EngineError::Compute(format!(
                    "token id {token} is outside the vocabulary ({} tokens)",
                    self.vocab
                )));
            }
        }
        Ok(())
    }

    fn run(&mut self, batch: &[SeqChunk]) -> candle_core::Result<Vec<Vec<f32>>> {
        let c = &self.config;
        let (heads, kv_heads, head_dim) = (c.heads, c.kv_heads, c.head_dim);
        let tokens: Vec<u32> = batch
            .iter()
            .flat_map(|b| b.tokens.iter().copied())
            .collect();
        let placed: Vec<(usize, usize)> = batch
            .iter()
            .flat_map(|b| (b.start..b.start + b.tokens.len()).map(move |p| (b.slot, p)))
            .collect();
        let positions: Vec<u32> = placed.iter().map(|&(_, p)| p as u32).collect();
        let ids = Tensor::new(tokens.as_slice(), &self.device)?;
        let positions = Tensor::new(positions.as_slice(), &self.device)?;
        let rotation = self.rope.rows(&positions)?;
        let local_rotation = self
            .rope_local
            .as_ref()
            .map(|rope| rope.rows(&positions))
            .transpose()?;
        // The queries' rope tables carry the attention scale.
        let scale = 1.0;
        let window = c.sliding.map(|(w, _)| w);
        let decode = DecodeRows::plan(batch, &self.cache, window, &self.device)?;
        // The other chunks (prompts), attended one by one, and where each
        // chunk's rows land among the attention's outputs: decode rows
        // first, then the chunks in batch order.
        let mut chunks = Vec::new();
        let mut order = Vec::new();
        let (mut decode_seen, mut offset) = (0, 0);
        let decode_count = batch.iter().filter(|b| b.tokens.len() == 1).count();
        let mut chunk_rows = decode_count;
        for b in batch {
            let n = b.tokens.len();
            if n == 1 {
                order.push(decode_seen as u32);
                decode_seen += 1;
            } else {
                let local = window
                    .map(|w| ChunkPlan::new(n, b.start, Some(w), &self.device))
                    .transpose()?;
                let plans = (ChunkPlan::new(n, b.start, None, &self.device)?, local);
                chunks.push((b, offset, plans));
                order.extend((chunk_rows..chunk_rows + n).map(|r| r as u32));
                chunk_rows += n;
            }
            offset += n;
        }
        let reorder = order
            .iter()
            .enumerate()
            .any(|(i, &r)| r as usize != i)
            .then(|| Tensor::new(order.as_slice(), &self.device))
            .transpose()?;
        // Gemma's √dim scale applies in f32, before the activation type.
        let mut x = op(self.embedding.embedding(&ids))?;
        if let Some(scale) = c.embed_scale {
            x = op(x * f64::from(scale))?;
        }
        let mut x = op(x.to_dtype(self.dtype))?;
        let mut launches = Vec::with_capacity(self.layers.len());
        for (i, layer) in self.layers.iter().enumerate() {
            let before = issued();
            let h = op(candle_nn::ops::rms_norm(&x, &layer.attn_norm, c.eps))?;
            let (q, k, v) = layer.attention_inputs(&h, (heads, kv_heads, head_dim), c.eps)?;
            // Sliding-window layers: their own rotation, mask and plans.
            let local = layer.window.is_some();
            let (rope, rotation) = match (&self.rope_local, &local_rotation) {
                (Some(rope), Some(rotation)) if local => (rope, rotation),
                _ => (&self.rope, &rotation),
            };
            let q = rope.apply(&q, &rotation.queries)?;
            let k = rope.apply(&k, &rotation.keys)?;
            // Every new key first: each row then reads its own.
            if let Some(d) = &decode {
                let (dk, dv) = match &d.rows {
                    Some(rows) => (op(k.index_select(rows, 0))?, op(v.index_select(rows, 0))?),
                    None => (k.clone(), v.clone()),
                };
                self.cache.write(i, &d.targets, &dk, &dv)?;
            }
            for (chunk, offset, _) in &chunks {
                let n = chunk.tokens.len();
                self.cache.write_chunk(
                    i,
                    chunk.slot,
                    chunk.start,
                    &k.narrow(0, *offset, n)?,
                    &v.narrow(0, *offset, n)?,
                )?;
            }
            let mut outputs = Vec::with_capacity(chunks.len() + 1);
            if let Some(d) = &decode {
                let queries = match &d.rows {
                    Some(rows) => op(q.index_select(rows, 0))?,
                    None => q.clone(),
                };
                let (keys, values) = self.cache.read_slots(i, &d.slots)?;
                let mask = match &d.local_mask {
                    Some(m) if local => Some(m),
                    _ => d.mask.as_ref(),
                };
                outputs.push(attention::attend_rows(
                    &queries, &keys, &values, mask, scale,
                )?);
            }
            for (chunk, offset, (global_plan, local_plan)) in &chunks {
                let plan = match local_plan {
                    Some(p) if local => p,
                    _ => global_plan,
                };
                let n = chunk.tokens.len();
                let (keys, values) = self.cache.read(i, chunk.slot, chunk.start + n)?;
                let queries = contiguous(&q.narrow(0, *offset, n)?.transpose(0, 1)?)?;
                let out = attention::attend(&queries, &keys, &values, plan, scale)?;
                outputs.push(contiguous(&out.transpose(0, 1)?)?.reshape((n, heads * head_dim))?);
            }
            let attended = match outputs.len() {
                1 => outputs.remove(0),
                _ => op(Tensor::cat(&outputs, 0))?,
            };
            let attended = match &reorder {
                Some(order) => op(attended.index_select(order, 0))?,
                None => attended,
            };
            let mut attended = op(layer.o.forward(&attended))?;
            if let Some(norm) = &layer.post_attn_norm {
                attended = op(candle_nn::ops::rms_norm(&attended, norm, c.eps))?;
            }
            x = op(x + attended)?;
            let h = op(candle_nn::ops::rms_norm(&x, &layer.ffn_norm, c.eps))?;
            let mut fed = layer.ffn.forward(&h)?;
            if let Some(norm) = &layer.post_ffn_norm {
                fed = op(candle_nn::ops::rms_norm(&fed, norm, c.eps))?;
            }
            x = op(x + fed)?;
            launches.push(issued() - before);
        }
        self.last_launches = launches;
        // Only the rows whose logits were asked for reach the output matrix:
        // a chunk's last, or all of them (speculative decoding checks each).
        let mut wanted = Vec::new();
        let mut counts = Vec::new();
        let mut end = 0;
        for chunk in batch {
            let n = chunk.tokens.len();
            end += n;
            if chunk.logits {
                let rows = if chunk.all_logits { n } else { 1 };
                wanted.extend((end - rows..end).map(|r| r as u32));
                counts.push(rows);
            }
        }
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let rows = x.index_select(&Tensor::new(wanted.as_slice(), &self.device)?, 0)?;
        let rows = candle_nn::ops::rms_norm(&rows, &self.norm, c.eps)?;
        let mut logits = self.output.forward(&rows.to_dtype(DType::F32)?)?;
        if let Some(cap) = c.final_softcap {
            logits = ((logits / f64::from(cap))?.tanh()? * f64::from(cap))?;
        }
        let mut logits = logits.to_vec2::<f32>()?.into_iter();
        Ok(counts
            .into_iter()
            .map(|count| logits.by_ref().take(count).flatten().collect())
            .collect())
    }
}

impl BatchModel for GpuModel {
    fn shape(&self) -> ModelShape {
        ModelShape {
            slots: self.slots,
            context_length: self.context_length,
            max_rows: MAX_ROWS,
            prefix_reuse: true,
            exact_from: None,
            vocab: self.vocab,
            all_logits: true,
            kv_bytes_per_token: self.config.kv_values_per_token() * self.dtype.size_in_bytes(),
            cache_slots: self.slots,
            prefix_copy: true,
        }
    }

    fn copy_prefix(&mut self, from: usize, to: usize, len: usize) -> Result<(), EngineError> {
        if from >= self.slots || to >= self.slots || from == to || len > self.context_length {
            return Err(EngineError::Compute(format!(
                "cannot copy {len} positions of slot {from} into slot {to} of {}",
                self.slots
            )));
        }
        Ok(self.cache.copy_prefix(from, to, len)?)
    }

    fn forward(&mut self, batch: &[SeqChunk]) -> Result<Vec<Vec<f32>>, EngineError> {
        self.check(batch)?;
        Ok(self.run(batch)?)
    }

    fn cache_bytes(&self) -> usize {
        self.cache.bytes()
    }

    fn kv_tokens_that_fit(&self) -> Option<usize> {
        self.kv_tokens_that_fit
    }
}
