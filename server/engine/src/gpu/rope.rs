//! Rotary position embeddings for rows at arbitrary positions: the cos/sin
//! tables are computed once, and each forward gathers the rows its tokens'
//! positions need, so chunks of different sequences share one rotation.

use candle_core::{DType, Device, Result, Tensor};

use super::launches::op;
use crate::model_port::arch::RopeStyle;

pub struct Rope {
    /// (context, rotated dims / 2) each, in the activation type.
    cos: Tensor,
    sin: Tensor,
    style: RopeStyle,
}

impl Rope {
    /// `scale` > 1 stretches positions (linear rope scaling).
    pub fn new(
        style: RopeStyle,
        head_dim: usize,
        base: f32,
        scale: f32,
        context: usize,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        let inverse: Vec<f32> = (0..head_dim / 2)
            .map(|i| 1.0 / base.powf(2.0 * i as f32 / head_dim as f32))
            .collect();
        let angles: Vec<f32> = (0..context)
            .flat_map(|p| inverse.iter().map(move |f| p as f32 / scale * f))
            .collect();
        let angles = Tensor::from_vec(angles, (context, head_dim / 2), device)?;
        Ok(Self {
            cos: angles.cos()?.to_dtype(dtype)?,
            sin: angles.sin()?.to_dtype(dtype)?,
            style,
        })
    }

    /// The (cos, sin) rows of `positions` (u32 on the device).
    pub fn rows(&self, positions: &Tensor) -> Result<(Tensor, Tensor)> {
        Ok((
            self.cos.index_select(positions, 0)?,
            self.sin.index_select(positions, 0)?,
        ))
    }

    /// Rotates `x` (rows, heads, head_dim) by the rows' (cos, sin), in the
    /// layout the projections leave: each row is a batch of its own with
    /// its own table row (candle's batched rope), so no heads-first copy.
    pub fn apply(&self, x: &Tensor, (cos, sin): &(Tensor, Tensor)) -> Result<Tensor> {
        let (rows, heads, head_dim) = x.dims3()?;
        let x = x.reshape((rows, heads, 1, head_dim))?;
        let (cos, sin) = (
            cos.reshape((rows, 1, head_dim / 2))?,
            sin.reshape((rows, 1, head_dim / 2))?,
        );
        op(match self.style {
            RopeStyle::Interleaved => candle_nn::rotary_emb::rope_i(&x, &cos, &sin),
            RopeStyle::Halves => candle_nn::rotary_emb::rope(&x, &cos, &sin),
        })?
        .reshape((rows, heads, head_dim))
    }
}
