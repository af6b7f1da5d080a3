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
    /// The same times the attention scale, for queries: rotating them
    /// scales them too, which saves a pass over every score.
    query_cos: Tensor,
    query_sin: Tensor,
    style: RopeStyle,
}

/// The table rows of a forward's positions, for keys and for queries.
pub struct Rotation {
    pub keys: (Tensor, Tensor),
    pub queries: (Tensor, Tensor),
}

impl Rope {
    /// `scale` > 1 stretches positions (linear rope scaling);
    /// `query_scale` multiplies the queries' tables (attention's scale).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        style: RopeStyle,
        head_dim: usize,
        base: f32,
        scale: f32,
        query_scale: f32,
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
        let (cos, sin) = (angles.cos()?, angles.sin()?);
        Ok(Self {
            query_cos: (&cos * f64::from(query_scale))?.to_dtype(dtype)?,
            query_sin: (&sin * f64::from(query_scale))?.to_dtype(dtype)?,
            cos: cos.to_dtype(dtype)?,
            sin: sin.to_dtype(dtype)?,
            style,
        })
    }

    /// The (cos, sin) rows of `positions` (u32 on the device).
    pub fn rows(&self, positions: &Tensor) -> Result<Rotation> {
        let rows = |table: &Tensor| table.index_select(positions, 0);
        Ok(Rotation {
            keys: (rows(&self.cos)?, rows(&self.sin)?),
            queries: (rows(&self.query_cos)?, rows(&self.query_sin)?),
        })
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
