//! One transformer block's weights (quantized matrices stay quantized on
//! the device; q/k/v and gate/up stacked where their types match) and its
//! two halves: the projections into queries, keys and values, and the
//! feed-forward.

use candle_core::{
    quantized::{gguf_file::Content, QMatMul, QTensor},
    DType, Device, Module, Result, Tensor,
};

use super::{
    launches::{contiguous, op},
    stacked::Stacked,
};

pub struct Layer {
    pub attn_norm: Tensor,
    /// Queries, keys and values, stacked where their types match, with
    /// qwen2's biases added to each stacked output.
    qkv: Stacked,
    /// qwen3: RMSNorm of each query and key head before the rotation.
    q_norm: Option<Tensor>,
    k_norm: Option<Tensor>,
    pub o: QMatMul,
    pub ffn_norm: Tensor,
    /// Gate and up, stacked where their types match.
    gate_up: Stacked,
    down: QMatMul,
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

    pub fn layer(&mut self, i: usize) -> Result<Layer> {
        let p = format!("blk.{i}");
        let names = |parts: &[&str], suffix: &str| -> Vec<String> {
            parts.iter().map(|t| format!("{p}.{t}.{suffix}")).collect()
        };
        let qkv = self.stacked(&names(&["attn_q", "attn_k", "attn_v"], "weight"))?;
        let qkv = match names(&["attn_q", "attn_k", "attn_v"], "bias").as_slice() {
            [q, k, v] if self.has(q) => {
                qkv.with_biases(&[self.vector(q)?, self.vector(k)?, self.vector(v)?])?
            }
            _ => qkv,
        };
        Ok(Layer {
            attn_norm: self.vector(&format!("{p}.attn_norm.weight"))?,
            qkv,
            q_norm: self.optional_vector(&format!("{p}.attn_q_norm.weight"))?,
            k_norm: self.optional_vector(&format!("{p}.attn_k_norm.weight"))?,
            o: self.matrix(&format!("{p}.attn_output.weight"))?,
            ffn_norm: self.vector(&format!("{p}.ffn_norm.weight"))?,
            gate_up: self.stacked(&names(&["ffn_gate", "ffn_up"], "weight"))?,
            down: self.matrix(&format!("{p}.ffn_down.weight"))?,
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

    /// SwiGLU feed-forward of normed rows.
    pub fn feed_forward(&self, x: &Tensor) -> Result<Tensor> {
        let Ok([gate, up]) = <[Tensor; 2]>::try_from(self.gate_up.forward(x)?) else {
            candle_core::bail!("gate and up did not come out as two");
        };
        let gated = op(op(candle_nn::ops::silu(&gate))? * up)?;
        op(self.down.forward(&gated))
    }

    /// Matrix products one forward of this layer runs (q/k/v, o, gate/up,
    /// down), fewer where neighbours were stacked.
    pub fn products(&self) -> usize {
        self.qkv.products() + 1 + self.gate_up.products() + 1
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
