//! Causal attention over the KV cache, one thread per group of heads.

use rayon::prelude::*;

use super::ops::{axpy, dot, softmax};

/// Keys and values of one layer, `[position][kv_head][head_dim]`.
#[derive(Default)]
pub struct LayerCache {
    pub k: Vec<f32>,
    pub v: Vec<f32>,
}

#[derive(Clone, Copy)]
struct Shared(*mut f32);
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    /// Through a method, so closures capture the whole (Send) wrapper.
    fn get(self) -> *mut f32 {
        self.0
    }
}

pub struct Shape {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

/// For `n` queries at positions `start..start + n` (`q`: `n × heads ×
/// head_dim`), attends to cache positions `0..=` their own; writes
/// `n × heads × head_dim` into `out`.
pub fn attend(q: &[f32], cache: &LayerCache, start: usize, shape: &Shape, out: &mut [f32]) {
    let Shape {
        heads,
        kv_heads,
        head_dim,
    } = *shape;
    let n = q.len() / (heads * head_dim);
    let group = heads / kv_heads;
    let kv_stride = kv_heads * head_dim;
    let scale = 1.0 / (head_dim as f32).sqrt();
    out[..n * heads * head_dim].fill(0.0);
    let out_ptr = Shared(out.as_mut_ptr());
    (0..heads).into_par_iter().for_each(|h| {
        let kvh = h / group;
        let mut scores = Vec::with_capacity(start + n);
        for i in 0..n {
            let query = &q[(i * heads + h) * head_dim..][..head_dim];
            let visible = start + i + 1;
            scores.clear();
            for p in 0..visible {
                let key = &cache.k[p * kv_stride + kvh * head_dim..][..head_dim];
                scores.push(dot(query, key) * scale);
            }
            softmax(&mut scores);
            // Safety: head h of token i is written by this thread only.
            let o = unsafe {
                std::slice::from_raw_parts_mut(out_ptr.get().add((i * heads + h) * head_dim), head_dim)
            };
            for (p, w) in scores.iter().enumerate() {
                axpy(
                    *w,
                    &cache.v[p * kv_stride + kvh * head_dim..][..head_dim],
                    o,
                );
            }
        }
    });
}
