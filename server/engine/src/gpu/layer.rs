//! One transformer block's weights, found by their GGUF names for each
//! architecture (quantized matrices stay quantized on the device; q/k/v
//! and gate/up stacked where their types match, or fused as phi3 stores
//! them; qwen2's biases, per-head query/key norms, Gemma's extra norms, a
//! mixture of experts), and the projections into queries, keys and values.

use candle_core::{
    quantized::{gguf_file::Content, QMatMul, QTensor},
    DType, Device, Result, Tensor,
};

use super::{
    experts::Experts,
    feed_forward::{FeedForward, Mlp},
    launches::{contiguous, op},
    stacked::Stacked,
};
use crate::model_port::hyperparams::Hyperparams;

pub struct Layer {
    pub attn_norm: Tensor,
    /// Queries, keys and values, stacked where their types match, with
    /// qwen2's biases added to each stacked output.
    qkv: Stacked,
    /// qwen3: RMSNorm of each query and key head before the rotation.
    q_norm: Option<Tensor>,
    k_norm: Option<Tensor>,
    pub o: QMatMul,
    /// Gemma: applied to the attention output before the residual add.
    pub post_attn_norm: Option<Tensor>,
    pub ffn_norm: Tensor,
    pub ffn: FeedForward,
    /// Gemma: applied to the feed-forward output before the residual add.
    pub post_ffn_norm: Option<Tensor>,
    /// Sliding window size, for local layers (their own rope base too).
    pub window: Option<usize>,
}

/// Reads tensors of one file onto one device.
/// Quantized weights stay quantized; dense ones (F32, F16, BF16) become a
/// tensor in `dtype`, the activations' (candle would make them f32, which
/// bf16 activations cannot be multiplied with).
pub fn in_dtype(weights: QTensor, dtype: DType) -> Result<QMatMul> {
    use candle_core::quantized::GgmlDType;
    match weights.dtype() {
        GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16 => Ok(QMatMul::Tensor(
            weights.dequantize(&weights.device())?.to_dtype(dtype)?,
        )),
        _ => QMatMul::from_qtensor(weights),
    }
}

/// Bytes a matrix takes on its device.
pub fn matrix_bytes(m: &QMatMul) -> usize {
    match m {
        QMatMul::QTensor(q) => q.storage_size_in_bytes(),
        QMatMul::Tensor(t) | QMatMul::TensorF16(t) => tensor_bytes(t),
    }
}

/// Bytes a tensor takes on its device.
pub fn tensor_bytes(t: &Tensor) -> usize {
    t.elem_count() * t.dtype().size_in_bytes()
}

pub struct Reader<'a, R> {
    pub content: &'a Content,
    pub reader: &'a mut R,
    pub device: &'a Device,
    /// Activations' type: norms and biases are stored in it.
    pub dtype: DType,
}

impl<R: std::io::Seek + std::io::Read> Reader<'_, R> {
    pub fn tensor(&mut self, name: &str) -> Result<QTensor> {
        self.content.tensor(self.reader, name, self.device)
    }

    pub fn matrix(&mut self, name: &str) -> Result<QMatMul> {
        in_dtype(self.tensor(name)?, self.dtype)
    }

    pub fn vector(&mut self, name: &str) -> Result<Tensor> {
        self.content
            .tensor(self.reader, name, self.device)?
            .dequantize(self.device)?
            .to_dtype(self.dtype)
    }

    pub fn has(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    fn optional_vector(&mut self, name: &str) -> Result<Option<Tensor>> {
        if self.has(name) {
            self.vector(name).map(Some)
        } else {
            Ok(None)
        }
    }

    fn stacked(&mut self, names: &[String]) -> Result<Stacked> {
        Stacked::load(self.content, self.reader, self.device, names, self.dtype)
    }

    pub fn layer(&mut self, i: usize, config: &Hyperparams) -> Result<Layer> {
        let p = format!("blk.{i}");
        let arch = config.arch;
        let names = |parts: &[&str], suffix: &str| -> Vec<String> {
            parts.iter().map(|t| format!("{p}.{t}.{suffix}")).collect()
        };
        let (q_dim, kv_dim) = (
            config.heads * config.head_dim,
            config.kv_heads * config.head_dim,
        );
        let qkv = if arch.fused {
            Stacked::fused(
                self.content,
                self.reader,
                self.device,
                &format!("{p}.attn_qkv.weight"),
                &[q_dim, kv_dim, kv_dim],
                self.dtype,
            )?
        } else {
            self.stacked(&names(&["attn_q", "attn_k", "attn_v"], "weight"))?
        };
        let qkv = match names(&["attn_q", "attn_k", "attn_v"], "bias").as_slice() {
            [q, k, v] if self.has(q) => {
                qkv.with_biases(&[self.vector(q)?, self.vector(k)?, self.vector(v)?])?
            }
            _ => qkv,
        };
        let ffn = if arch.experts {
            FeedForward::Experts(Experts::load(
                self.content,
                self.reader,
                self.device,
                &p,
                config.experts_used,
                arch.activation,
                self.dtype,
            )?)
        } else {
            let gate_up = if arch.fused {
                let name = format!("{p}.ffn_up.weight");
                let rows = self
                    .content
                    .tensor_infos
                    .get(&name)
                    .map_or(0, |t| t.shape.dims()[0]);
                Stacked::fused(
                    self.content,
                    self.reader,
                    self.device,
                    &name,
                    &[rows / 2, rows / 2],
                    self.dtype,
                )?
            } else {
                self.stacked(&names(&["ffn_gate", "ffn_up"], "weight"))?
            };
            FeedForward::Dense(Mlp {
                gate_up,
                down: self.matrix(&format!("{p}.ffn_down.weight"))?,
                activation: arch.activation,
            })
        };
        let gemma = |r: &mut Self, name: &str| {
            if arch.gemma_norms {
                r.vector(&format!("{p}.{name}.weight")).map(Some)
            } else {
                Ok(None)
            }
        };
        Ok(Layer {
            attn_norm: self.vector(&format!("{p}.attn_norm.weight"))?,
            qkv,
            q_norm: self.optional_vector(&format!("{p}.attn_q_norm.weight"))?,
            k_norm: self.optional_vector(&format!("{p}.attn_k_norm.weight"))?,
            o: self.matrix(&format!("{p}.attn_output.weight"))?,
            post_attn_norm: gemma(self, "post_attention_norm")?,
            ffn_norm: self.vector(&format!("{p}.ffn_norm.weight"))?,
            ffn,
            post_ffn_norm: gemma(self, "post_ffw_norm")?,
            window: config.window(i),
        })
    }
}

impl Layer {
    /// Queries, keys and values of normed rows (rows, dim), each
    /// (1, heads, rows, head_dim): the layout the rotation takes.
    pub fn attention_inputs(
        &self,
        h: &Tensor,
        (heads, kv_heads, head_dim): (usize, usize, usize),
        eps: f32,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let Ok([q, k, v]) = <[Tensor; 3]>::try_from(self.qkv.forward(h)?) else {
            candle_core::bail!("q, k and v did not come out as three");
        };
        let q = by_heads(&q, heads, head_dim, self.q_norm.as_ref(), eps)?;
        let k = by_heads(&k, kv_heads, head_dim, self.k_norm.as_ref(), eps)?;
        let v = by_heads(&v, kv_heads, head_dim, None, eps)?;
        Ok((q, k, v))
    }

    /// Bytes this block's weights take on the device.
    pub fn bytes(&self) -> usize {
        let vectors = [
            Some(&self.attn_norm),
            Some(&self.ffn_norm),
            self.q_norm.as_ref(),
            self.k_norm.as_ref(),
            self.post_attn_norm.as_ref(),
            self.post_ffn_norm.as_ref(),
        ];
        vectors
            .into_iter()
            .flatten()
            .map(tensor_bytes)
            .sum::<usize>()
            + self.qkv.bytes()
            + matrix_bytes(&self.o)
            + self.ffn.bytes()
    }

    /// Matrix products one forward of this layer runs (q/k/v, o, gate/up,
    /// down), fewer where neighbours were stacked.
    pub fn products(&self) -> usize {
        self.qkv.products() + 1 + self.ffn.products()
    }
}

/// (rows, heads·head_dim) → (rows, heads, head_dim), contiguous (a copy
/// when `x` is one part of a stacked product's output), each head normed
/// when the model has a per-head norm.
fn by_heads(
    x: &Tensor,
    heads: usize,
    head_dim: usize,
    norm: Option<&Tensor>,
    eps: f32,
) -> Result<Tensor> {
    let x = contiguous(x)?.reshape((x.dim(0)?, heads, head_dim))?;
    match norm {
        Some(alpha) => op(candle_nn::ops::rms_norm(&x, alpha, eps)),
        None => Ok(x),
    }
}
