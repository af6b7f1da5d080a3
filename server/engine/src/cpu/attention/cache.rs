//! One layer's keys and values, in the layouts the attention kernels read.
//!
//! Keys are stored transposed in blocks of 16 positions
//! (`[block][kv_head][dim][16]`), so a query's scores against 16 positions
//! are 16 lanes of one vector accumulated over the head dimension, with no
//! horizontal sums. Values stay `[position][kv_head][dim]` for the weighted
//! sum.
//!
//! f16 (llama.cpp's default): in a long chat the cache is read in full for
//! every token, and at 1,500 positions SmolLM2's f32 cache was 70% as many
//! bytes as its weights. q8_0 halves that again: each 32 values of a
//! position's head (along the head dimension) become bytes with one f16
//! scale, as llama.cpp's q8_0 cache; a key block's scales sit beside it as
//! `[block][kv_head][dim / 32][16]`, values' as `[position][kv_head][dim / 32]`.

use domain::{CacheType, Q8_GROUP};
use half::f16;

/// Positions per key block.
pub const BLOCK: usize = 16;

/// The cache grows by this many positions at a time (a multiple of
/// `BLOCK`), so what it takes stays within a step of what it holds (a
/// `Vec`'s doubling would hold up to twice that).
const GROW: usize = crate::model_port::CACHE_GROWTH;
const _: () = assert!(GROW.is_multiple_of(BLOCK));

enum Stored {
    F16 {
        keys: Vec<f16>,
        values: Vec<f16>,
    },
    Q8 {
        keys: Vec<i8>,
        key_scales: Vec<f16>,
        values: Vec<i8>,
        value_scales: Vec<f16>,
    },
}

/// Keys and values of one layer.
pub struct LayerCache {
    stored: Stored,
    len: usize,
}

impl Default for LayerCache {
    fn default() -> Self {
        Self::new(CacheType::F16)
    }
}

/// One key block of one kv head: `head_dim × 16` values (and, for q8_0,
/// `head_dim / 32 × 16` scales).
#[derive(Clone, Copy)]
pub enum Keys<'a> {
    F16(&'a [f16]),
    Q8(&'a [i8], &'a [f16]),
}

/// One kv head's values from a position on: rows `stride` apart (and, for
/// q8_0, each row's scales `scale_stride` apart).
#[derive(Clone, Copy)]
pub enum Values<'a> {
    F16 {
        values: &'a [f16],
        stride: usize,
    },
    Q8 {
        values: &'a [i8],
        scales: &'a [f16],
        stride: usize,
        scale_stride: usize,
    },
}

impl LayerCache {
    pub fn new(cache_type: CacheType) -> Self {
        let stored = match cache_type {
            CacheType::F16 => Stored::F16 {
                keys: Vec::new(),
                values: Vec::new(),
            },
            CacheType::Q8_0 => Stored::Q8 {
                keys: Vec::new(),
                key_scales: Vec::new(),
                values: Vec::new(),
                value_scales: Vec::new(),
            },
        };
        Self { stored, len: 0 }
    }

    /// Positions held.
    pub fn positions(&self) -> usize {
        self.len
    }

    /// Memory taken, whether or not positions are held in it.
    pub fn bytes(&self) -> usize {
        let halves = std::mem::size_of::<f16>();
        match &self.stored {
            Stored::F16 { keys, values } => (keys.capacity() + values.capacity()) * halves,
            Stored::Q8 {
                keys,
                key_scales,
                values,
                value_scales,
            } => {
                keys.capacity()
                    + values.capacity()
                    + (key_scales.capacity() + value_scales.capacity()) * halves
            }
        }
    }

    /// Forgets every position from `len` on. (Key blocks stay allocated;
    /// appending overwrites their columns.)
    pub fn truncate(&mut self, len: usize, kv_dim: usize) {
        self.len = self.len.min(len);
        match &mut self.stored {
            Stored::F16 { values, .. } => values.truncate(self.len * kv_dim),
            Stored::Q8 {
                values,
                value_scales,
                ..
            } => {
                values.truncate(self.len * kv_dim);
                value_scales.truncate(self.len * kv_dim / Q8_GROUP);
            }
        }
    }

    /// Appends the keys and values of consecutive positions (`k`, `v`:
    /// `positions × kv_heads × head_dim`; for q8_0 `head_dim` is a
    /// multiple of 32, which the model checks at load).
    pub fn append(&mut self, k: &[f32], v: &[f32], kv_heads: usize, head_dim: usize) {
        let kv_dim = kv_heads * head_dim;
        self.reserve(self.len + k.len() / kv_dim, kv_dim);
        for (key, value) in k.chunks_exact(kv_dim).zip(v.chunks_exact(kv_dim)) {
            let (block, col) = (self.len / BLOCK, self.len % BLOCK);
            match &mut self.stored {
                Stored::F16 { keys, values } => {
                    let base = grow_block(keys, block, kv_dim * BLOCK);
                    for (i, &x) in key.iter().enumerate() {
                        keys[base + i * BLOCK + col] = f16::from_f32(x);
                    }
                    values.extend(value.iter().map(|&x| f16::from_f32(x)));
                }
                Stored::Q8 {
                    keys,
                    key_scales,
                    values,
                    value_scales,
                } => {
                    let base = grow_block(keys, block, kv_dim * BLOCK);
                    let scale_base = grow_block(key_scales, block, kv_dim / Q8_GROUP * BLOCK);
                    for (g, group) in key.chunks_exact(Q8_GROUP).enumerate() {
                        let (d, inv) = q8_scale(group);
                        key_scales[scale_base + g * BLOCK + col] = d;
                        for (i, &x) in group.iter().enumerate() {
                            keys[base + (g * Q8_GROUP + i) * BLOCK + col] = q8(x, inv);
                        }
                    }
                    for group in value.chunks_exact(Q8_GROUP) {
                        let (d, inv) = q8_scale(group);
                        value_scales.push(d);
                        values.extend(group.iter().map(|&x| q8(x, inv)));
                    }
                }
            }
            self.len += 1;
        }
    }

    /// Holds `source`'s first `len` positions (of the same cache type),
    /// and nothing else: the memory of what it held before is freed, and
    /// it takes what the copied positions need, rounded to a growth step.
    pub fn copy_prefix(&mut self, source: &LayerCache, len: usize, kv_dim: usize) {
        let len = len.min(source.len);
        // Whole key blocks: the last one's columns past `len` are
        // overwritten when positions are appended.
        let blocks = len.div_ceil(BLOCK);
        let groups = kv_dim / Q8_GROUP;
        let capacity = len.max(1).next_multiple_of(GROW);
        self.stored = match &source.stored {
            Stored::F16 { keys, values } => Stored::F16 {
                keys: prefix(keys, blocks * kv_dim * BLOCK, capacity * kv_dim),
                values: prefix(values, len * kv_dim, capacity * kv_dim),
            },
            Stored::Q8 {
                keys,
                key_scales,
                values,
                value_scales,
            } => Stored::Q8 {
                keys: prefix(keys, blocks * kv_dim * BLOCK, capacity * kv_dim),
                key_scales: prefix(key_scales, blocks * groups * BLOCK, capacity * groups),
                values: prefix(values, len * kv_dim, capacity * kv_dim),
                value_scales: prefix(value_scales, len * groups, capacity * groups),
            },
        };
        self.len = len;
    }

    /// Forgets every position and frees the memory.
    pub fn clear(&mut self) {
        let cache_type = match self.stored {
            Stored::F16 { .. } => CacheType::F16,
            Stored::Q8 { .. } => CacheType::Q8_0,
        };
        *self = Self::new(cache_type);
    }

    /// Room for `positions` (rounded up to a growth step) in every vector.
    fn reserve(&mut self, positions: usize, kv_dim: usize) {
        let positions = positions.next_multiple_of(GROW);
        let groups = kv_dim / Q8_GROUP;
        match &mut self.stored {
            Stored::F16 { keys, values } => {
                reserve_total(keys, positions * kv_dim);
                reserve_total(values, positions * kv_dim);
            }
            Stored::Q8 {
                keys,
                key_scales,
                values,
                value_scales,
            } => {
                reserve_total(keys, positions * kv_dim);
                reserve_total(values, positions * kv_dim);
                reserve_total(key_scales, positions * groups);
                reserve_total(value_scales, positions * groups);
            }
        }
    }

    /// Key block `block` of kv head `kvh`.
    pub fn keys(&self, block: usize, kvh: usize, kv_dim: usize, head_dim: usize) -> Keys<'_> {
        let at = block * kv_dim * BLOCK + kvh * head_dim * BLOCK;
        match &self.stored {
            Stored::F16 { keys, .. } => Keys::F16(&keys[at..][..head_dim * BLOCK]),
            Stored::Q8 {
                keys, key_scales, ..
            } => {
                let groups = head_dim / Q8_GROUP;
                let scales_at = block * kv_dim / Q8_GROUP * BLOCK + kvh * groups * BLOCK;
                Keys::Q8(
                    &keys[at..][..head_dim * BLOCK],
                    &key_scales[scales_at..][..groups * BLOCK],
                )
            }
        }
    }

    /// Kv head `kvh`'s values of positions `first..end`.
    pub fn values(
        &self,
        first: usize,
        end: usize,
        kvh: usize,
        kv_dim: usize,
        head_dim: usize,
    ) -> Values<'_> {
        match &self.stored {
            Stored::F16 { values, .. } => Values::F16 {
                values: &values[first * kv_dim + kvh * head_dim..end * kv_dim],
                stride: kv_dim,
            },
            Stored::Q8 {
                values,
                value_scales,
                ..
            } => {
                let (groups, row_groups) = (head_dim / Q8_GROUP, kv_dim / Q8_GROUP);
                Values::Q8 {
                    values: &values[first * kv_dim + kvh * head_dim..end * kv_dim],
                    scales: &value_scales[first * row_groups + kvh * groups..end * row_groups],
                    stride: kv_dim,
                    scale_stride: row_groups,
                }
            }
        }
    }
}

/// A new vector of `source`'s first `len` elements with room for
/// `capacity`.
fn prefix<T: Copy>(source: &[T], len: usize, capacity: usize) -> Vec<T> {
    let mut v = Vec::with_capacity(capacity.max(len));
    v.extend_from_slice(&source[..len]);
    v
}

/// Capacity for `total` elements, exactly, once more are needed.
fn reserve_total<T>(v: &mut Vec<T>, total: usize) {
    if v.capacity() < total {
        v.reserve_exact(total - v.len());
    }
}

/// Makes room for key block `block` (`block_len` elements each) and
/// returns where it starts.
fn grow_block<T: Copy + Default>(v: &mut Vec<T>, block: usize, block_len: usize) -> usize {
    if v.len() < (block + 1) * block_len {
        v.resize((block + 1) * block_len, T::default());
    }
    block * block_len
}

/// A group's scale (its largest magnitude over 127, kept as f16) and the
/// factor that quantizes it.
fn q8_scale(group: &[f32]) -> (f16, f32) {
    let amax = group.iter().fold(0f32, |m, x| m.max(x.abs()));
    let d = amax / 127.0;
    (f16::from_f32(d), if d > 0.0 { 1.0 / d } else { 0.0 })
}

fn q8(x: f32, inv: f32) -> i8 {
    (x * inv).round().clamp(-127.0, 127.0) as i8
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A q8_0 cache of the same positions takes 34/64 of an f16 one, and
    /// truncating then appending overwrites what was forgotten.
    #[test]
    fn q8_takes_about_half_and_truncation_forgets() {
        let (kv_heads, hd) = (2, 64);
        let k: Vec<f32> = (0..32 * kv_heads * hd)
            .map(|i| (i % 13) as f32 - 6.0)
            .collect();
        let mut f16_cache = LayerCache::new(CacheType::F16);
        let mut q8_cache = LayerCache::new(CacheType::Q8_0);
        f16_cache.append(&k, &k, kv_heads, hd);
        q8_cache.append(&k, &k, kv_heads, hd);
        let (a, b) = (f16_cache.bytes(), q8_cache.bytes());
        assert!(b * 64 <= a * 34 + 64, "{b} vs {a}");
        // 32 positions take one growth step, not a doubling past it.
        assert_eq!(a, GROW * kv_heads * hd * 2 * 2);
        q8_cache.truncate(20, kv_heads * hd);
        assert_eq!(q8_cache.positions(), 20);
        let Values::Q8 { values, scales, .. } = q8_cache.values(0, 20, 0, kv_heads * hd, hd) else {
            panic!("a q8_0 cache has q8_0 values")
        };
        assert_eq!((values.len(), scales.len()), (20 * 128, 20 * 4));
    }

    /// A copied prefix reads exactly as the source's first positions, and
    /// positions appended to it continue it as they would the source.
    #[test]
    fn a_copied_prefix_reads_as_the_source_and_goes_on_alike() {
        let (kv_heads, hd) = (2, 64);
        let kv_dim = kv_heads * hd;
        let data = |positions: usize, seed: usize| -> Vec<f32> {
            (0..positions * kv_dim)
                .map(|i| ((i * 7 + seed * 13) % 29) as f32 - 14.0)
                .collect()
        };
        for cache_type in [CacheType::F16, CacheType::Q8_0] {
            let mut source = LayerCache::new(cache_type);
            source.append(&data(40, 1), &data(40, 2), kv_heads, hd);
            let mut copy = LayerCache::new(cache_type);
            copy.append(&data(300, 3), &data(300, 4), kv_heads, hd);
            copy.copy_prefix(&source, 21, kv_dim);
            assert_eq!(copy.positions(), 21);
            // The old 300 positions' memory is gone: one growth step left.
            assert!(copy.bytes() < source.bytes() + 1, "{cache_type:?}");
            // Both go on with the same new positions: every key block and
            // value reads the same.
            source.truncate(21, kv_dim);
            for cache in [&mut source, &mut copy] {
                cache.append(&data(5, 5), &data(5, 6), kv_heads, hd);
            }
            for block in 0..2 {
                for kvh in 0..kv_heads {
                    let (a, b) = (
                        source.keys(block, kvh, kv_dim, hd),
                        copy.keys(block, kvh, kv_dim, hd),
                    );
                    match (a, b) {
                        (Keys::F16(a), Keys::F16(b)) => assert_eq!(a, b),
                        (Keys::Q8(a, sa), Keys::Q8(b, sb)) => assert_eq!((a, sa), (b, sb)),
                        _ => panic!("mixed cache types"),
                    }
                }
            }
            let shown = |v: Values| match v {
                Values::F16 { values, .. } => format!("{values:?}"),
                Values::Q8 { values, scales, .. } => format!("{values:?}{scales:?}"),
            };
            assert_eq!(
                shown(source.values(0, 26, 1, kv_dim, hd)),
                shown(copy.values(0, 26, 1, kv_dim, hd))
            );
            copy.clear();
            assert_eq!((copy.positions(), copy.bytes()), (0, 0));
        }
    }
}
