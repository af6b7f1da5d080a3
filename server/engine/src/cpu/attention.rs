//! Causal attention over the KV cache, one thread per group of heads.
//!
//! Keys and values are kept as f16, as llama.cpp keeps them: in a long
//! chat the cache is read in full for every token, and at 1,500 positions
//! SmolLM2's f32 cache was 70% as many bytes as its weights. Keys are
//! stored transposed in blocks of 16 positions (`[block][kv_head][dim][16]`),
//! so a query's scores against 16 positions are 16 lanes of one vector
//! accumulated over the head dimension, with no horizontal sums. Values
//! stay `[position][kv_head][dim]` for the weighted sum.

use half::f16;

use super::matmul::Shared;
use super::ops::softmax;
use super::team::Team;

/// Positions per key block.
const BLOCK: usize = 16;

/// Keys and values of one layer.
#[derive(Default)]
pub struct LayerCache {
    keys: Vec<f16>,
    values: Vec<f16>,
    len: usize,
}

impl LayerCache {
    /// Positions held.
    pub fn positions(&self) -> usize {
        self.len
    }

    /// Memory taken, whether or not positions are held in it.
    pub fn bytes(&self) -> usize {
        (self.keys.capacity() + self.values.capacity()) * std::mem::size_of::<f16>()
    }

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
                self.keys.resize((block + 1) * block_len, f16::ZERO);
            }
            let base = block * block_len;
            for (i, &x) in key.iter().enumerate() {
                self.keys[base + i * BLOCK + col] = f16::from_f32(x);
            }
            self.values.extend(value.iter().map(|&x| f16::from_f32(x)));
            self.len += 1;
        }
    }
}

pub struct Shape {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    /// Scores are `q · k × scale` (1/√head_dim for most models).
    pub scale: f32,
}

/// One sequence's queries in a batch: rows `row..row + len` of the query
/// matrix, at positions `start..start + len` of `cache`.
pub struct AttendSeg<'a> {
    pub cache: &'a LayerCache,
    pub start: usize,
    pub row: usize,
    pub len: usize,
}

/// For `n` queries at positions `start..start + n` (`q`: `n × heads ×
/// head_dim`), attends to cache positions `0..=` their own; writes
/// `n × heads × head_dim` into `out`. Heads are shared out to the team.
#[cfg(test)]
pub fn attend(
    team: &Team,
    q: &[f32],
    cache: &LayerCache,
    start: usize,
    shape: &Shape,
    window: Option<usize>,
    out: &mut [f32],
) {
    let len = q.len() / (shape.heads * shape.head_dim);
    let seg = AttendSeg {
        cache,
        start,
        row: 0,
        len,
    };
    attend_batch(team, q, &[seg], shape, window, out);
}

/// [`attend`] for every sequence of a batch in one team step: each
/// (sequence, head) pair is a unit of work, each sequence reads only its
/// own cache. Rows of `q` and `out` are `heads × head_dim` wide. With a
/// `window`, a query sees only the last `window` positions up to its own
/// (Gemma's local layers).
pub fn attend_batch(
    team: &Team,
    q: &[f32],
    segs: &[AttendSeg],
    shape: &Shape,
    window: Option<usize>,
    out: &mut [f32],
) {
    let Shape {
        heads,
        kv_heads,
        head_dim,
        scale,
    } = *shape;
    let group = heads / kv_heads;
    let kv_dim = kv_heads * head_dim;
    let kernels = Simd::for_head_dim(head_dim);
    assert!(segs.iter().all(|s| {
        (s.row + s.len) * heads * head_dim <= q.len().min(out.len())
            && s.start + s.len <= s.cache.len
    }));
    let out_ptr = Shared(out.as_mut_ptr());
    team.for_each_chunk(segs.len() * heads, 1, &|unit, _| {
        let (seg, h) = (&segs[unit / heads], unit % heads);
        let (cache, kvh) = (seg.cache, h / group);
        let mut scores: Vec<f32> = Vec::with_capacity(seg.start + seg.len + BLOCK);
        for i in 0..seg.len {
            let row = seg.row + i;
            let query = &q[(row * heads + h) * head_dim..][..head_dim];
            let visible = seg.start + i + 1;
            // The first visible position, and the block it is in: scores
            // start at that block's first position, earlier ones masked.
            let first = window.map_or(0, |w| visible.saturating_sub(w));
            let first_block = first / BLOCK;
            scores.clear();
            for block in first_block..visible.div_ceil(BLOCK) {
                let keys = &cache.keys[block * kv_dim * BLOCK + kvh * head_dim * BLOCK..]
                    [..head_dim * BLOCK];
                let lanes = kernels.block_scores(query, keys);
                let take = BLOCK.min(visible - block * BLOCK);
                scores.extend(lanes[..take].iter().map(|s| s * scale));
            }
            scores[..first - first_block * BLOCK].fill(f32::NEG_INFINITY);
            softmax(&mut scores);
            // Safety: head h of row `row` is written by this unit only, and
            // the rows are inside `out` (asserted above).
            let o = unsafe {
                std::slice::from_raw_parts_mut(
                    out_ptr.get().add((row * heads + h) * head_dim),
                    head_dim,
                )
            };
            let values =
                &cache.values[first_block * BLOCK * kv_dim + kvh * head_dim..visible * kv_dim];
            kernels.weighted_sum(&scores, values, kv_dim, o);
        }
    });
}

/// The two inner loops, on AVX-512 where the CPU has it and the head size
/// suits (64, 128 or 256, the common ones), else portable code.
#[derive(Clone, Copy)]
enum Simd {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx512 {
        chunks: usize,
    },
}

impl Simd {
    fn for_head_dim(head_dim: usize) -> Self {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx512f") && matches!(head_dim, 64 | 128 | 256) {
            return Simd::Avx512 {
                chunks: head_dim / 16,
            };
        }
        let _ = head_dim;
        Simd::Portable
    }

    /// `query` · each of the 16 positions of a key block
    /// (`keys`: `query.len() × 16`).
    fn block_scores(self, query: &[f32], keys: &[f16]) -> [f32; BLOCK] {
        assert!(keys.len() >= query.len() * BLOCK);
        match self {
            Simd::Portable => portable::block_scores(query, keys),
            // Safety: avx512f is present (checked in `for_head_dim`) and
            // `keys` holds 16 values per query dimension (asserted above).
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 { .. } => unsafe { avx512::block_scores(query, keys) },
        }
    }

    /// `out = Σ_p weights[p] · values[p * stride..][..out.len()]`.
    fn weighted_sum(self, weights: &[f32], values: &[f16], stride: usize, out: &mut [f32]) {
        if let Some(last) = weights.len().checked_sub(1) {
            assert!(last * stride + out.len() <= values.len());
        }
        match self {
            Simd::Portable => portable::weighted_sum(weights, values, stride, out),
            // Safety: avx512f is present, `out` is `chunks` vectors long
            // (`for_head_dim`) and every row read is in `values` (above).
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 { chunks: 4 } => unsafe {
                avx512::weighted_sum::<4>(weights, values, stride, out)
            },
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 { chunks: 8 } => unsafe {
                avx512::weighted_sum::<8>(weights, values, stride, out)
            },
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 { .. } => unsafe {
                avx512::weighted_sum::<16>(weights, values, stride, out)
            },
        }
    }
}

mod portable {
    use super::{f16, BLOCK};

    pub fn block_scores(query: &[f32], keys: &[f16]) -> [f32; BLOCK] {
        let mut lanes = [0f32; BLOCK];
        for (&qd, column) in query.iter().zip(keys.chunks_exact(BLOCK)) {
            for (lane, k) in lanes.iter_mut().zip(column) {
                *lane += qd * k.to_f32();
            }
        }
        lanes
    }

    pub fn weighted_sum(weights: &[f32], values: &[f16], stride: usize, out: &mut [f32]) {
        out.fill(0.0);
        for (p, &w) in weights.iter().enumerate() {
            for (o, v) in out.iter_mut().zip(&values[p * stride..]) {
                *o += w * v.to_f32();
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{f16, BLOCK};

    /// 16 halves from `p` as f32 lanes.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn widen(p: *const f16) -> __m512 {
        _mm512_cvtph_ps(_mm256_loadu_si256(p as *const __m256i))
    }

    /// Four accumulators over the head dimension (a multiple of 4), so the
    /// FMAs do not wait on each other.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn block_scores(query: &[f32], keys: &[f16]) -> [f32; BLOCK] {
        let mut acc = [_mm512_setzero_ps(); 4];
        for (q4, k4) in query
            .chunks_exact(4)
            .zip(keys.chunks_exact(4 * BLOCK).map(<[f16]>::as_ptr))
        {
            let [a0, a1, a2, a3] = &mut acc;
            *a0 = _mm512_fmadd_ps(_mm512_set1_ps(q4[0]), widen(k4), *a0);
            *a1 = _mm512_fmadd_ps(_mm512_set1_ps(q4[1]), widen(k4.add(BLOCK)), *a1);
            *a2 = _mm512_fmadd_ps(_mm512_set1_ps(q4[2]), widen(k4.add(2 * BLOCK)), *a2);
            *a3 = _mm512_fmadd_ps(_mm512_set1_ps(q4[3]), widen(k4.add(3 * BLOCK)), *a3);
        }
        let sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
        let mut lanes = [0f32; BLOCK];
        _mm512_storeu_ps(lanes.as_mut_ptr(), sum);
        lanes
    }

    /// The output row (`C` vectors of 16) stays in registers across the
    /// positions.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn weighted_sum<const C: usize>(
        weights: &[f32],
        values: &[f16],
        stride: usize,
        out: &mut [f32],
    ) {
        let mut acc = [_mm512_setzero_ps(); C];
        for (p, &w) in weights.iter().enumerate() {
            let row = values.as_ptr().add(p * stride);
            let w = _mm512_set1_ps(w);
            for (c, a) in acc.iter_mut().enumerate() {
                *a = _mm512_fmadd_ps(w, widen(row.add(c * 16)), *a);
            }
        }
        for (c, a) in acc.iter().enumerate() {
            _mm512_storeu_ps(out.as_mut_ptr().add(c * 16), *a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::ops::dot;

    fn value(i: usize) -> f32 {
        ((i * 7919) % 97) as f32 / 50.0 - 1.0
    }

    /// The blocked f16 cache gives what plain attention over the same
    /// (f16-rounded) keys and values gives: only the summation order
    /// differs. Head size 8 takes the portable kernels, 64 the AVX-512 ones
    /// where the CPU has them.
    fn matches_direct_attention(hd: usize, window: Option<usize>) {
        let (heads, kv_heads, positions) = (4, 2, 37);
        let rounded = |x: f32| f16::from_f32(x).to_f32();
        let k: Vec<f32> = (0..positions * kv_heads * hd).map(value).collect();
        let v: Vec<f32> = (0..positions * kv_heads * hd)
            .map(|i| value(i + 13))
            .collect();
        let q: Vec<f32> = (0..2 * heads * hd).map(|i| value(i + 29)).collect();
        let mut cache = LayerCache::default();
        let split = 20 * kv_heads * hd;
        cache.append(&k[..split], &v[..split], kv_heads, hd);
        cache.append(&k[split..], &v[split..], kv_heads, hd);
        let shape = Shape {
            heads,
            kv_heads,
            head_dim: hd,
            scale: 1.0 / (hd as f32).sqrt(),
        };
        let mut out = vec![f32::NAN; 2 * heads * hd];
        attend(
            &Team::new(2),
            &q,
            &cache,
            positions - 2,
            &shape,
            window,
            &mut out,
        );
        let (k, v): (Vec<f32>, Vec<f32>) = (
            k.iter().map(|&x| rounded(x)).collect(),
            v.iter().map(|&x| rounded(x)).collect(),
        );
        for i in 0..2 {
            for h in 0..heads {
                let kvh = h / (heads / kv_heads);
                let query = &q[(i * heads + h) * hd..][..hd];
                let visible = positions - 2 + i + 1;
                let first = window.map_or(0, |w| visible - w);
                let mut s: Vec<f32> = (first..visible)
                    .map(|p| dot(query, &k[(p * kv_heads + kvh) * hd..][..hd]) / (hd as f32).sqrt())
                    .collect();
                softmax(&mut s);
                for d in 0..hd {
                    let expected: f32 = (first..visible)
                        .map(|p| s[p - first] * v[(p * kv_heads + kvh) * hd + d])
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

    #[test]
    fn matches_direct_attention_portable_head_size() {
        matches_direct_attention(8, None);
    }

    #[test]
    fn matches_direct_attention_common_head_size() {
        matches_direct_attention(64, None);
        matches_direct_attention(256, None);
    }

    /// A sliding window of 5 (not a multiple of the key block) sees only
    /// the last 5 positions, on both kernel sets.
    #[test]
    fn a_sliding_window_hides_older_positions() {
        matches_direct_attention(8, Some(5));
        matches_direct_attention(64, Some(5));
        matches_direct_attention(64, Some(20));
    }

    /// Both kernel sets give the same results wherever both run.
    #[test]
    fn kernel_sets_agree() {
        if matches!(Simd::for_head_dim(64), Simd::Portable) {
            return crate::test_support::skip(
                "cpu::attention::kernel_sets_agree",
                "this CPU lacks AVX-512F: only the portable kernels run",
            );
        }
        for hd in [64, 128, 256] {
            let fast = Simd::for_head_dim(hd);
            let query: Vec<f32> = (0..hd).map(value).collect();
            let keys: Vec<f16> = (0..hd * BLOCK)
                .map(|i| f16::from_f32(value(i + 7)))
                .collect();
            let a = fast.block_scores(&query, &keys);
            let b = Simd::Portable.block_scores(&query, &keys);
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-4, "{x} vs {y}");
            }
            let (positions, stride) = (21, hd * 3);
            let weights: Vec<f32> = (0..positions).map(|i| value(i + 3)).collect();
            let values: Vec<f16> = (0..positions * stride)
                .map(|i| f16::from_f32(value(i + 11)))
                .collect();
            let (mut a, mut b) = (vec![f32::NAN; hd], vec![f32::NAN; hd]);
            fast.weighted_sum(&weights, &values[hd..], stride, &mut a);
            Simd::Portable.weighted_sum(&weights, &values[hd..], stride, &mut b);
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-4, "{x} vs {y}");
            }
        }
    }
}
