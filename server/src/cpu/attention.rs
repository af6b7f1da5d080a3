//! Causal attention over the KV cache, one thread per group of heads.
//!
//! Keys are stored transposed in blocks of 16 positions
//! (`[block][kv_head][dim][16]`), so a query's scores against 16 positions
//! are 16 lanes of one vector accumulated over the head dimension, with no
//! horizontal sums. Values stay `[position][kv_head][dim]` for the weighted
//! sum.

use super::matmul::Shared;
use super::ops::{axpy, softmax};
use super::team::Team;

/// Positions per key block.
const BLOCK: usize = 16;

/// Keys and values of one layer.
#[derive(Default)]
pub struct LayerCache {
    keys: Vec<f32>,
    values: Vec<f32>,
    len: usize,
}

impl LayerCache {
    /// Forgets every position from `len` on.
    pub fn truncate(&mut self, len: usize, kv_dim: usize) {
        self.len = self.len.min(len);
        self.values.truncate(self.len * kv_dim);
    }

    /// Appends the keys and values of consecutive positions (`k`, `v`:
    /// `positions × kv_heads × head_dim`).
    pub fn append(&mut self, k: &[f32], v: &[f32], kv_heads: usize, head_dim: usize) {
        let kv_dim = kv_heads * head_dim;
        let block_len = kv_dim * BLOCK;
        for (key, value) in k.chunks_exact(kv_dim).zip(v.chunks_exact(kv_dim)) {
            let (block, col) = (self.len / BLOCK, self.len % BLOCK);
            if self.keys.len() < (block + 1) * block_len {
                self.keys.resize((block + 1) * block_len, 0.0);
            }
            let base = block * block_len;
            for (i, &x) in key.iter().enumerate() {
                self.keys[base + i * BLOCK + col] = x;
            }
            self.values.extend_from_slice(value);
            self.len += 1;
        }
    }
}

pub struct Shape {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

/// For `n` queries at positions `start..start + n` (`q`: `n × heads ×
/// head_dim`), attends to cache positions `0..=` their own; writes
/// `n × heads × head_dim` into `out`. Heads are shared out to the team.
pub fn attend(
    team: &Team,
    q: &[f32],
    cache: &LayerCache,
    start: usize,
    shape: &Shape,
    out: &mut [f32],
) {
    let Shape {
        heads,
        kv_heads,
        head_dim,
    } = *shape;
    let n = q.len() / (heads * head_dim);
    let group = heads / kv_heads;
    let kv_dim = kv_heads * head_dim;
    let scale = 1.0 / (head_dim as f32).sqrt();
    out[..n * heads * head_dim].fill(0.0);
    let out_ptr = Shared(out.as_mut_ptr());
    team.for_each_chunk(heads, 1, &|h, _| {
        let kvh = h / group;
        let mut scores: Vec<f32> = Vec::with_capacity(start + n + BLOCK);
        for i in 0..n {
            let query = &q[(i * heads + h) * head_dim..][..head_dim];
            let visible = start + i + 1;
            scores.clear();
            for block in 0..visible.div_ceil(BLOCK) {
                let keys = &cache.keys[block * kv_dim * BLOCK + kvh * head_dim * BLOCK..]
                    [..head_dim * BLOCK];
                let mut lanes = [0f32; BLOCK];
                for (d, &qd) in query.iter().enumerate() {
                    let column = &keys[d * BLOCK..(d + 1) * BLOCK];
                    for j in 0..BLOCK {
                        lanes[j] += qd * column[j];
                    }
                }
                let take = BLOCK.min(visible - block * BLOCK);
                scores.extend(lanes[..take].iter().map(|s| s * scale));
            }
            softmax(&mut scores);
            // Safety: head h of token i is written by this thread only.
            let o = unsafe {
                std::slice::from_raw_parts_mut(
                    out_ptr.get().add((i * heads + h) * head_dim),
                    head_dim,
                )
            };
            for (p, w) in scores.iter().enumerate() {
                axpy(
                    *w,
                    &cache.values[p * kv_dim + kvh * head_dim..][..head_dim],
                    o,
                );
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::ops::dot;

    /// The blocked layout gives what plain attention over the positions gives.
    #[test]
    fn matches_direct_attention() {
        let (heads, kv_heads, hd, positions) = (4, 2, 8, 37);
        let value = |i: usize| ((i * 7919) % 97) as f32 / 50.0 - 1.0;
        let k: Vec<f32> = (0..positions * kv_heads * hd).map(value).collect();
        let v: Vec<f32> = (0..positions * kv_heads * hd)
            .map(|i| value(i + 13))
            .collect();
        let q: Vec<f32> = (0..2 * heads * hd).map(|i| value(i + 29)).collect();
        let mut cache = LayerCache::default();
        cache.append(
            &k[..20 * kv_heads * hd],
            &v[..20 * kv_heads * hd],
            kv_heads,
            hd,
        );
        cache.append(
            &k[20 * kv_heads * hd..],
            &v[20 * kv_heads * hd..],
            kv_heads,
            hd,
        );
        let shape = Shape {
            heads,
            kv_heads,
            head_dim: hd,
        };
        let mut out = vec![0.0; 2 * heads * hd];
        attend(&Team::new(2), &q, &cache, positions - 2, &shape, &mut out);
        for i in 0..2 {
            for h in 0..heads {
                let kvh = h / (heads / kv_heads);
                let query = &q[(i * heads + h) * hd..][..hd];
                let visible = positions - 2 + i + 1;
                let mut s: Vec<f32> = (0..visible)
                    .map(|p| dot(query, &k[(p * kv_heads + kvh) * hd..][..hd]) / (hd as f32).sqrt())
                    .collect();
                softmax(&mut s);
                for d in 0..hd {
                    let expected: f32 = (0..visible)
                        .map(|p| s[p] * v[(p * kv_heads + kvh) * hd + d])
                        .sum();
                    let got = out[(i * heads + h) * hd + d];
                    assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
                }
            }
        }
        // Truncating forgets positions; appending again overwrites them.
        cache.truncate(10, kv_heads * hd);
        assert_eq!(cache.len, 10);
    }
}
