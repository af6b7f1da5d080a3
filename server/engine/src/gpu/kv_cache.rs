//! Keys and values of every sequence slot, allocated once at load and
//! written in place: a token's keys go to their position in the slot's
//! buffer, so continuing a sequence copies nothing, and cutting it back
//! to a shared prefix is free (the next write overwrites what follows).

use candle_core::{DType, Device, Result, Tensor};

/// One layer's keys or values for one slot: (kv_heads, context, head_dim).
struct SlotBuffers {
    keys: Tensor,
    values: Tensor,
}

pub struct KvCache {
    /// `[layer][slot]`.
    layers: Vec<Vec<SlotBuffers>>,
    bytes: usize,
}

/// Sizes of the cache.
#[derive(Clone, Copy, Debug)]
pub struct CacheShape {
    pub layers: usize,
    pub slots: usize,
    pub kv_heads: usize,
    pub context: usize,
    pub head_dim: usize,
}

impl CacheShape {
    /// Bytes the whole cache takes in `dtype`.
    pub fn bytes(&self, dtype: DType) -> usize {
        self.layers
            * self.slots
            * 2
            * self.kv_heads
            * self.context
            * self.head_dim
            * dtype.size_in_bytes()
    }
}

impl KvCache {
    pub fn new(shape: CacheShape, dtype: DType, device: &Device) -> Result<Self> {
        let dims = (shape.kv_heads, shape.context, shape.head_dim);
        let layers = (0..shape.layers)
            .map(|_| {
                (0..shape.slots)
                    .map(|_| {
                        Ok(SlotBuffers {
                            keys: Tensor::zeros(dims, dtype, device)?,
                            values: Tensor::zeros(dims, dtype, device)?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            layers,
            bytes: shape.bytes(dtype),
        })
    }

    /// Stores `keys` and `values` (kv_heads, n, head_dim) at positions
    /// `start..start + n` of `slot` in `layer`.
    pub fn write(
        &self,
        layer: usize,
        slot: usize,
        start: usize,
        keys: &Tensor,
        values: &Tensor,
    ) -> Result<()> {
        let buffers = &self.layers[layer][slot];
        buffers.keys.slice_set(&keys.contiguous()?, 1, start)?;
        buffers.values.slice_set(&values.contiguous()?, 1, start)
    }

    /// The first `len` positions of `slot` in `layer`, as views (no copy):
    /// (kv_heads, len, head_dim) each.
    pub fn read(&self, layer: usize, slot: usize, len: usize) -> Result<(Tensor, Tensor)> {
        let buffers = &self.layers[layer][slot];
        Ok((
            buffers.keys.narrow(1, 0, len)?,
            buffers.values.narrow(1, 0, len)?,
        ))
    }

    /// Makes `to` hold `from`'s first `len` positions in every layer (the
    /// prompt cache: a request starts from a prefix another slot read).
    /// Two copy kernels per layer; `from` is only read.
    pub fn copy_prefix(&self, from: usize, to: usize, len: usize) -> Result<()> {
        for layer in &self.layers {
            let (source, target) = (&layer[from], &layer[to]);
            target
                .keys
                .slice_set(&source.keys.narrow(1, 0, len)?.contiguous()?, 1, 0)?;
            target
                .values
                .slice_set(&source.values.narrow(1, 0, len)?.contiguous()?, 1, 0)?;
        }
        Ok(())
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_lands_at_its_positions_and_leaves_the_rest() {
        let shape = CacheShape {
            layers: 1,
            slots: 2,
            kv_heads: 2,
            context: 8,
            head_dim: 4,
        };
        let cache = KvCache::new(shape, DType::F32, &Device::Cpu).unwrap();
        let keys = Tensor::ones((2, 3, 4), DType::F32, &Device::Cpu).unwrap();
        let values = (keys.clone() * 2.0).unwrap();
        cache.write(0, 1, 2, &keys, &values).unwrap();
        let (k, v) = cache.read(0, 1, 6).unwrap();
        let k: Vec<Vec<Vec<f32>>> = k.to_vec3().unwrap();
        let v: Vec<Vec<Vec<f32>>> = v.to_vec3().unwrap();
        for head in 0..2 {
            for pos in 0..6 {
                let want = if (2..5).contains(&pos) { 1.0 } else { 0.0 };
                assert_eq!(k[head][pos], vec![want; 4], "head {head} pos {pos}");
                assert_eq!(v[head][pos], vec![want * 2.0; 4]);
            }
        }
        let (other, _) = cache.read(0, 0, 8).unwrap();
        assert_eq!(other.sum_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);
        assert_eq!(cache.bytes(), 2 * 2 * 2 * 8 * 4 * 4);
        // Slot 0 takes slot 1's first 4 positions; the rest stays.
        let threes = (Tensor::ones((2, 8, 4), DType::F32, &Device::Cpu).unwrap() * 3.0).unwrap();
        cache.write(0, 0, 0, &threes, &threes).unwrap();
        cache.copy_prefix(1, 0, 4).unwrap();
        let (k, v) = cache.read(0, 0, 8).unwrap();
        let k: Vec<Vec<Vec<f32>>> = k.to_vec3().unwrap();
        let v: Vec<Vec<Vec<f32>>> = v.to_vec3().unwrap();
        for head in 0..2 {
            for pos in 0..8 {
                let want = match pos {
                    0 | 1 => 0.0,
                    2 | 3 => 1.0,
                    _ => 3.0,
                };
                assert_eq!(k[head][pos], vec![want; 4], "head {head} pos {pos}");
                let want_v = if (2..4).contains(&pos) { 2.0 } else { want };
                assert_eq!(v[head][pos], vec![want_v; 4]);
            }
        }
    }
}
