//! Keys and values of every sequence slot, one tensor per layer for all
//! slots (slots, kv_heads, context, head_dim), allocated once at load and
//! written in place: a forward's new keys go to their slots' positions in
//! one scatter per layer whatever the batch, continuing a sequence copies
//! nothing, and cutting it back to a shared prefix is free (the next write
//! overwrites what follows). Decode rows read their slots together, as a
//! view when the slots are consecutive.

use candle_core::{DType, Device, Result, Tensor};

use super::launches::op;

pub struct KvCache {
    /// `[layer]`: (slots, kv_heads, context, head_dim).
    keys: Vec<Tensor>,
    values: Vec<Tensor>,
    shape: CacheShape,
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

    /// One layer's buffer as rows of `head_dim`, the form writes scatter into.
    fn rows(&self) -> (usize, usize) {
        (self.slots * self.kv_heads * self.context, self.head_dim)
    }
}

impl KvCache {
    pub fn new(shape: CacheShape, dtype: DType, device: &Device) -> Result<Self> {
        let dims = (shape.slots, shape.kv_heads, shape.context, shape.head_dim);
        let layer = || Tensor::zeros(dims, dtype, device);
        Ok(Self {
            keys: (0..shape.layers).map(|_| layer()).collect::<Result<_>>()?,
            values: (0..shape.layers).map(|_| layer()).collect::<Result<_>>()?,
            shape,
            bytes: shape.bytes(dtype),
        })
    }

    /// Where a forward's decode rows' keys go, for every layer: `tokens`
    /// lists each row's (slot, position), and the result indexes the rows
    /// of keys laid out (tokens, kv_heads, head_dim), as the projections
    /// leave them.
    pub fn targets(&self, tokens: &[(usize, usize)], device: &Device) -> Result<Tensor> {
        let CacheShape {
            kv_heads,
            context,
            head_dim,
            ..
        } = self.shape;
        let rows: Vec<u32> = tokens
            .iter()
            .flat_map(|&(slot, pos)| {
                (0..kv_heads).flat_map(move |h| {
                    std::iter::repeat_n(((slot * kv_heads + h) * context + pos) as u32, head_dim)
                })
            })
            .collect();
        Tensor::from_vec(rows, (kv_heads * tokens.len(), head_dim), device)
    }

    /// Stores `keys` and `values` (tokens, kv_heads, head_dim, contiguous)
    /// at `targets` (see [`targets`](Self::targets)) in `layer`: one
    /// scatter each.
    pub fn write(
        &self,
        layer: usize,
        targets: &Tensor,
        keys: &Tensor,
        values: &Tensor,
    ) -> Result<()> {
        let (tokens, kv_heads, head_dim) = keys.dims3()?;
        let source = (kv_heads * tokens, head_dim);
        let rows = self.shape.rows();
        op(self.keys[layer]
            .reshape(rows)?
            .scatter_set(targets, &keys.reshape(source)?, 0))?;
        op(self.values[layer]
            .reshape(rows)?
            .scatter_set(targets, &values.reshape(source)?, 0))
    }

    /// Stores a prompt chunk's `keys` and `values` (tokens, kv_heads,
    /// head_dim) at positions `start..` of `slot` in `layer`: a copy per
    /// head-major layout and one per store, each parallel over the chunk
    /// (candle's CUDA scatter walks a chunk's rows one after another).
    pub fn write_chunk(
        &self,
        layer: usize,
        slot: usize,
        start: usize,
        keys: &Tensor,
        values: &Tensor,
    ) -> Result<()> {
        for (buffer, rows) in [(&self.keys[layer], keys), (&self.values[layer], values)] {
            let heads_first = op(rows.transpose(0, 1)?.force_contiguous())?;
            op(buffer.get(slot)?.slice_set(&heads_first, 1, start))?;
        }
        Ok(())
    }

    /// The first `len` positions of `slot` in `layer`, as views (no copy):
    /// (kv_heads, len, head_dim) each.
    pub fn read(&self, layer: usize, slot: usize, len: usize) -> Result<(Tensor, Tensor)> {
        Ok((
            self.keys[layer].get(slot)?.narrow(1, 0, len)?,
            self.values[layer].get(slot)?.narrow(1, 0, len)?,
        ))
    }

    /// How a forward's decode rows read their slots' first `len`
    /// positions (in every layer): a view when the slots are consecutive,
    /// else the rows to gather.
    pub fn slot_rows(&self, slots: &[usize], len: usize, device: &Device) -> Result<SlotRows> {
        let first = slots.first().copied().unwrap_or(0);
        if slots.iter().enumerate().all(|(i, &s)| s == first + i) {
            return Ok(SlotRows::Consecutive {
                first,
                count: slots.len(),
                len,
            });
        }
        let CacheShape {
            kv_heads, context, ..
        } = self.shape;
        let rows: Vec<u32> = slots
            .iter()
            .flat_map(|&slot| {
                (0..kv_heads).flat_map(move |h| {
                    (0..len).map(move |pos| ((slot * kv_heads + h) * context + pos) as u32)
                })
            })
            .collect();
        Ok(SlotRows::Gathered {
            rows: Tensor::new(rows.as_slice(), device)?,
            count: slots.len(),
            len,
        })
    }

    /// The positions `slots` describes in `layer`: (slots, kv_heads, len,
    /// head_dim) each, a view or one gather each.
    pub fn read_slots(&self, layer: usize, slots: &SlotRows) -> Result<(Tensor, Tensor)> {
        let (kv_heads, head_dim) = (self.shape.kv_heads, self.shape.head_dim);
        let read = |buffer: &Tensor| -> Result<Tensor> {
            match slots {
                SlotRows::Consecutive { first, count, len } => {
                    buffer.narrow(2, 0, *len)?.narrow(0, *first, *count)
                }
                SlotRows::Gathered { rows, count, len } => {
                    op(buffer.reshape(self.shape.rows())?.index_select(rows, 0))?
                        .reshape((*count, kv_heads, *len, head_dim))
                }
            }
        };
        Ok((read(&self.keys[layer])?, read(&self.values[layer])?))
    }

    /// Makes `to` hold `from`'s first `len` positions in every layer (the
    /// prompt cache: a request starts from a prefix another slot read).
    /// Two copy kernels per layer; `from` is only read.
    pub fn copy_prefix(&self, from: usize, to: usize, len: usize) -> Result<()> {
        for buffers in [&self.keys, &self.values] {
            for layer in buffers {
                // Always a copy: a view (one KV head, or the whole
                // context) would share the buffer it is set into.
                let source = layer.get(from)?.narrow(1, 0, len)?.force_contiguous()?;
                layer.get(to)?.slice_set(&source, 1, 0)?;
            }
        }
        Ok(())
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// The first `len` positions of a batch's decode rows' slots, in row
/// order (see [`KvCache::slot_rows`]).
pub enum SlotRows {
    Consecutive {
        first: usize,
        count: usize,
        len: usize,
    },
    /// Rows of the cache seen as (slots · kv_heads · context, head_dim).
    Gathered {
        rows: Tensor,
        count: usize,
        len: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: &Tensor) -> Vec<Vec<Vec<f32>>> {
        t.to_vec3().unwrap()
    }

    /// Two tokens of two slots land at their positions in one scatter;
    /// everything else stays; slots read together equal slots read alone;
    /// a copied prefix is the source's.
    #[test]
    fn writes_land_at_their_slots_and_positions_and_leave_the_rest() {
        let shape = CacheShape {
            layers: 2,
            slots: 3,
            kv_heads: 2,
            context: 8,
            head_dim: 4,
        };
        let dev = Device::Cpu;
        let cache = KvCache::new(shape, DType::F32, &dev).unwrap();
        // (tokens, kv_heads, head_dim): head h of token i holds 10h + i + 1.
        let keys: Vec<f32> = (0..2)
            .flat_map(|i| (0..2).flat_map(move |h| vec![(10 * h + i + 1) as f32; 4]))
            .collect();
        let keys = Tensor::from_vec(keys, (2, 2, 4), &dev).unwrap();
        let doubled = (&keys * 2.0).unwrap();
        let targets = cache.targets(&[(1, 2), (2, 5)], &dev).unwrap();
        cache.write(1, &targets, &keys, &doubled).unwrap();
        for (slot, at, token) in [(1usize, 2usize, 0usize), (2, 5, 1)] {
            let (k, v) = cache.read(1, slot, 8).unwrap();
            let (k, v) = (values(&k), values(&v));
            for head in 0..2 {
                for pos in 0..8 {
                    let want = if pos == at {
                        (10 * head + token + 1) as f32
                    } else {
                        0.0
                    };
                    assert_eq!(
                        k[head][pos],
                        vec![want; 4],
                        "slot {slot} head {head} pos {pos}"
                    );
                    assert_eq!(v[head][pos], vec![2.0 * want; 4]);
                }
            }
        }
        let untouched = |layer, slot| {
            let (k, v) = cache.read(layer, slot, 8).unwrap();
            k.abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
                + v.abs()
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
        };
        assert_eq!(untouched(1, 0), 0.0);
        assert_eq!(untouched(0, 1) + untouched(0, 2), 0.0, "another layer");

        for slots in [vec![1, 2], vec![2, 0, 1]] {
            let rows = cache.slot_rows(&slots, 6, &dev).unwrap();
            assert_eq!(
                matches!(rows, SlotRows::Consecutive { .. }),
                slots == [1, 2]
            );
            let (k, _) = cache.read_slots(1, &rows).unwrap();
            assert_eq!(k.dims(), &[slots.len(), 2, 6, 4]);
            for (i, &slot) in slots.iter().enumerate() {
                let (alone, _) = cache.read(1, slot, 6).unwrap();
                assert_eq!(values(&k.get(i).unwrap()), values(&alone));
            }
        }

        cache.copy_prefix(1, 0, 4).unwrap();
        let (copied, _) = cache.read(1, 0, 8).unwrap();
        let (source, _) = cache.read(1, 1, 8).unwrap();
        assert_eq!(
            values(&copied),
            values(&source),
            "positions 0-3 copied, the rest 0 in both"
        );
        assert_eq!(cache.bytes(), 2 * 3 * 2 * 2 * 8 * 4 * 4);
    }

    /// A prompt chunk lands at its positions; with one KV head, or the
    /// whole context, a prefix copy still copies (the source is a view of
    /// the same buffer).
    #[test]
    fn a_chunk_lands_in_place_and_a_whole_slot_copies() {
        let shape = CacheShape {
            layers: 1,
            slots: 2,
            kv_heads: 1,
            context: 4,
            head_dim: 2,
        };
        let dev = Device::Cpu;
        let cache = KvCache::new(shape, DType::F32, &dev).unwrap();
        // (tokens, kv_heads, head_dim): token i holds i + 1.
        let keys = Tensor::from_vec(vec![1f32, 1., 2., 2., 3., 3.], (3, 1, 2), &dev).unwrap();
        cache.write_chunk(0, 0, 1, &keys, &keys).unwrap();
        let (k, _) = cache.read(0, 0, 4).unwrap();
        assert_eq!(
            values(&k),
            vec![vec![vec![0., 0.], vec![1., 1.], vec![2., 2.], vec![3., 3.]]]
        );
        cache.copy_prefix(0, 1, 4).unwrap();
        let (copied, _) = cache.read(0, 1, 4).unwrap();
        assert_eq!(values(&copied), values(&k));
    }
}
