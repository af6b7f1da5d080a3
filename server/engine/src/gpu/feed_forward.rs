//! A block's feed-forward: one gated MLP (SwiGLU, or Gemma's GeGLU), or a
//! routed mixture of such MLPs (`experts`).

use candle_core::{quantized::QMatMul, Module, Result, Tensor};

use super::{experts::Experts, launches::op, stacked::Stacked};
use crate::model_port::arch::Activation;

/// act(gate) · up, then down.
pub struct Mlp {
    /// Gate and up, stacked (or fused, phi3) where their types match.
    pub gate_up: Stacked,
    pub down: QMatMul,
    pub activation: Activation,
}

impl Mlp {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let Ok([gate, up]) = <[Tensor; 2]>::try_from(self.gate_up.forward(x)?) else {
            candle_core::bail!("gate and up did not come out as two");
        };
        // candle's `gelu` is the tanh approximation Gemma uses.
        let gate = op(match self.activation {
            Activation::Silu => candle_nn::ops::silu(&gate),
            Activation::GeluTanh => gate.gelu(),
        })?;
        op(self.down.forward(&op(gate * up)?))
    }

    /// Matrix products one forward runs.
    pub fn products(&self) -> usize {
        self.gate_up.products() + 1
    }

    /// Bytes on the device.
    pub fn bytes(&self) -> usize {
        self.gate_up.bytes() + super::layer::matrix_bytes(&self.down)
    }
}

pub enum FeedForward {
    Dense(Mlp),
    Experts(Experts),
}

impl FeedForward {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Self::Dense(mlp) => mlp.forward(x),
            Self::Experts(experts) => experts.forward(x),
        }
    }

    /// Bytes on the device.
    pub fn bytes(&self) -> usize {
        match self {
            Self::Dense(mlp) => mlp.bytes(),
            Self::Experts(experts) => experts.bytes(),
        }
    }

    /// Matrix products one forward runs (for a mixture: the router's, and
    /// one expert's, as each token sees).
    pub fn products(&self) -> usize {
        match self {
            Self::Dense(mlp) => mlp.products(),
            Self::Experts(experts) => 1 + experts.mlp_products(),
        }
    }
}
