//! One transformer block's weights (quantized matrices stay quantized on
//! the device) and its two halves: the projections into queries, keys and
//! values, and the feed-forward.

use candle_core::{
    quantized::{gguf_file::Content, QMatMul},
    DType, Device, Module, Result, Tensor,
};

/// A quantized matrix with an optional bias (qwen2's q, k and v).
pub struct Linear {
    weight: QMatMul,
    bias: Option<Tensor>,
}

impl Linear {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.weight.forward(x)?;
        match &self.bias {
            Some(bias) => y.broadcast_add(bias),
            None => Ok(y),
        }
    }
}

pub struct Layer {
    pub attn_norm: Tensor,
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    /// qwen3: RMSNorm of each query and key head before the rotation.
    pub q_norm: Option<Tensor>,
    pub k_norm: Option<Tensor>,
    pub o: QMatMul,
    pub ffn_norm: Tensor,
    gate: QMatMul,
    up: QMatMul,
    down: QMatMul,
}

/// Reads tensors of one file onto one device.
pub struct Reader<'a, R> {
    pub content: &'a Content,
    pub reader: &'a mut R,
    pub device: &'a Device,
    /// Activations' type: norms and biases are stored in it.
    pub dtype: DType,
}

impl<R: std::io::Seek + std::io::Read> Reader<'_, R> {
    pub fn matrix(&mut self, name: &str) -> Result<QMatMul> {
        QMatMul::from_qtensor(self.content.tensor(self.reader, name, self.device)?)
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

    fn linear(&mut self, name: &str) -> Result<Linear> {
        Ok(Linear {
            weight: self.matrix(&format!("{name}.weight"))?,
            bias: self.optional_vector(&format!("{name}.bias"))?,
        })
    }

    pub fn layer(&mut self, i: usize) -> Result<Layer> {
        let p = format!("blk.{i}");
        Ok(Layer {
            attn_norm: self.vector(&format!("{p}.attn_norm.weight"))?,
            q: self.linear(&format!("{p}.attn_q"))?,
            k: self.linear(&format!("{p}.attn_k"))?,
            v: self.linear(&format!("{p}.attn_v"))?,
            q_norm: self.optional_vector(&format!("{p}.attn_q_norm.weight"))?,
            k_norm: self.optional_vector(&format!("{p}.attn_k_norm.weight"))?,
            o: self.matrix(&format!("{p}.attn_output.weight"))?,
            ffn_norm: self.vector(&format!("{p}.ffn_norm.weight"))?,
            gate: self.matrix(&format!("{p}.ffn_gate.weight"))?,
            up: self.matrix(&format!("{p}.ffn_up.weight"))?,
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
        let q = heads_first(
            &self.q.forward(h)?,
            heads,
            head_dim,
            self.q_norm.as_ref(),
            eps,
        )?;
        let k = heads_first(
            &self.k.forward(h)?,
            kv_heads,
            head_dim,
            self.k_norm.as_ref(),
            eps,
        )?;
        let v = heads_first(&self.v.forward(h)?, kv_heads, head_dim, None, eps)?;
        Ok((q, k, v))
    }

    /// SwiGLU feed-forward of normed rows.
    pub fn feed_forward(&self, x: &Tensor) -> Result<Tensor> {
        let gate = candle_nn::ops::silu(&self.gate.forward(x)?)?;
        self.down.forward(&(gate * self.up.forward(x)?)?)
    }
}

/// (rows, heads·head_dim) → (1, heads, rows, head_dim), each head normed
/// first when the model has a per-head norm.
fn heads_first(
    x: &Tensor,
    heads: usize,
    head_dim: usize,
    norm: Option<&Tensor>,
    eps: f32,
) -> Result<Tensor> {
    let x = x.reshape((x.dim(0)?, heads, head_dim))?;
    let x = match norm {
        Some(alpha) => candle_nn::ops::rms_norm(&x.contiguous()?, alpha, eps)?,
        None => x,
    };
    x.transpose(0, 1)?.contiguous()?.unsqueeze(0)
}
