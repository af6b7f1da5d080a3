//! Causal attention over the KV cache (f16 or q8_0, see `cache.rs`), one
//! thread per group of heads.

#[cfg(target_arch = "x86_64")]
mod avx512;
mod cache;
mod kernels;

pub use cache::LayerCache;
use cache::BLOCK;
use kernels::Simd;

use super::matmul::Shared;
use super::ops::softmax;
use super::team::Team;

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
            && s.start + s.len <= s.cache.positions()
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
                let keys = cache.keys(block, kvh, kv_dim, head_dim);
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
            let values = cache.values(first_block * BLOCK, visible, kvh, kv_dim, head_dim);
            kernels.weighted_sum(&scores, values, o);
        }
    });
}

#[cfg(test)]
mod tests {
    use domain::{CacheType, Q8_GROUP};
    use half::f16;

    use super::cache::{Keys, Values};
    use super::*;
    use crate::cpu::ops::dot;

    fn value(i: usize) -> f32 {
        ((i * 7919) % 97) as f32 / 50.0 - 1.0
    }

    /// What the cache keeps of `x` (rows of whole q8_0 groups): f16
    /// rounding, or q8_0's bytes times their f16 scale.
    fn stored(x: &[f32], cache_type: CacheType) -> Vec<f32> {
        match cache_type {
            CacheType::F16 => x.iter().map(|&v| f16::from_f32(v).to_f32()).collect(),
            CacheType::Q8_0 => x
                .chunks_exact(Q8_GROUP)
                .flat_map(|g| {
                    let d = g.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
                    let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
                    let rounded = f16::from_f32(d).to_f32();
                    g.iter()
                        .map(move |&v| (v * inv).round().clamp(-127.0, 127.0) * rounded)
                })
                .collect(),
        }
    }

    /// The blocked cache gives what plain attention over the same stored
    /// keys and values gives: only the summation order differs. Head sizes
    /// 8 and 32 take the portable kernels, 64 and 256 the AVX-512 ones
    /// where the CPU has them.
    fn matches_direct_attention(hd: usize, window: Option<usize>, cache_type: CacheType) {
        let (heads, kv_heads, positions) = (4, 2, 37);
        let k: Vec<f32> = (0..positions * kv_heads * hd).map(value).collect();
        let v: Vec<f32> = (0..positions * kv_heads * hd)
            .map(|i| value(i + 13))
            .collect();
        let q: Vec<f32> = (0..2 * heads * hd).map(|i| value(i + 29)).collect();
        let mut cache = LayerCache::new(cache_type);
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
        let (k, v) = (stored(&k, cache_type), stored(&v, cache_type));
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
                    assert!(
                        (got - expected).abs() < 1e-5,
                        "{cache_type} hd {hd}: {got} vs {expected}"
                    );
                }
            }
        }
        // Truncating forgets positions.
        cache.truncate(10, kv_heads * hd);
        assert_eq!(cache.positions(), 10);
    }

    #[test]
    fn matches_direct_attention_portable_head_size() {
        matches_direct_attention(8, None, CacheType::F16);
        matches_direct_attention(32, None, CacheType::F16);
        matches_direct_attention(32, None, CacheType::Q8_0);
    }

    #[test]
    fn matches_direct_attention_common_head_size() {
        for cache_type in CacheType::ALL {
            matches_direct_attention(64, None, cache_type);
            matches_direct_attention(256, None, cache_type);
        }
    }

    /// A sliding window of 5 (not a multiple of the key block) sees only
    /// the last 5 positions, on both kernel sets and cache types.
    #[test]
    fn a_sliding_window_hides_older_positions() {
        matches_direct_attention(8, Some(5), CacheType::F16);
        for cache_type in CacheType::ALL {
            matches_direct_attention(32, Some(5), cache_type);
            matches_direct_attention(64, Some(5), cache_type);
            matches_direct_attention(64, Some(20), cache_type);
        }
    }

    /// A q8_0 cache answers close to an f16 one (the error quantization
    /// adds is small against the outputs' size).
    #[test]
    fn q8_attention_stays_close_to_f16() {
        let (heads, kv_heads, hd, positions) = (4, 2, 64, 300);
        let k: Vec<f32> = (0..positions * kv_heads * hd).map(value).collect();
        let v: Vec<f32> = (0..positions * kv_heads * hd)
            .map(|i| value(i + 5))
            .collect();
        let q: Vec<f32> = (0..heads * hd).map(|i| value(i + 29)).collect();
        let shape = Shape {
            heads,
            kv_heads,
            head_dim: hd,
            scale: 1.0 / (hd as f32).sqrt(),
        };
        let outputs: Vec<Vec<f32>> = CacheType::ALL
            .iter()
            .map(|&t| {
                let mut cache = LayerCache::new(t);
                cache.append(&k, &v, kv_heads, hd);
                let mut out = vec![f32::NAN; heads * hd];
                attend(
                    &Team::new(2),
                    &q,
                    &cache,
                    positions - 1,
                    &shape,
                    None,
                    &mut out,
                );
                out
            })
            .collect();
        let worst = outputs[0]
            .iter()
            .zip(&outputs[1])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst > 0.0 && worst < 0.01, "{worst}");
    }

    /// Both kernel sets give the same results wherever both run, for both
    /// cache types: this is the test that the AVX-512 kernels ran.
    #[test]
    fn kernel_sets_agree() {
        if matches!(Simd::for_head_dim(64), Simd::Portable) {
            return crate::test_support::skip(
                "cpu::attention::kernel_sets_agree",
                "this CPU lacks AVX-512F/F16C: only the portable kernels run",
            );
        }
        let close = |a: &[f32], b: &[f32]| {
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-3 * (1.0 + y.abs()), "{x} vs {y}");
            }
        };
        for hd in [64, 128, 256] {
            let fast = Simd::for_head_dim(hd);
            assert_ne!(fast, Simd::Portable);
            let query: Vec<f32> = (0..hd).map(value).collect();
            let keys: Vec<f16> = (0..hd * BLOCK)
                .map(|i| f16::from_f32(value(i + 7)))
                .collect();
            let keys_q8: Vec<i8> = (0..hd * BLOCK)
                .map(|i| (i * 37 % 255) as u8 as i8)
                .collect();
            let scales: Vec<f16> = (0..hd / Q8_GROUP * BLOCK)
                .map(|i| f16::from_f32(0.01 + value(i) / 100.0))
                .collect();
            for keys in [Keys::F16(&keys), Keys::Q8(&keys_q8, &scales)] {
                let a = fast.block_scores(&query, keys);
                let b = Simd::Portable.block_scores(&query, keys);
                close(&a, &b);
            }
            let (positions, stride) = (21, hd * 3);
            let weights: Vec<f32> = (0..positions).map(|i| value(i + 3)).collect();
            let values: Vec<f16> = (0..positions * stride)
                .map(|i| f16::from_f32(value(i + 11)))
                .collect();
            let values_q8: Vec<i8> = (0..positions * stride)
                .map(|i| (i * 53 % 255) as u8 as i8)
                .collect();
            let value_scales: Vec<f16> = (0..positions * stride / Q8_GROUP)
                .map(|i| f16::from_f32(0.02 + value(i) / 100.0))
                .collect();
            let groups = hd / Q8_GROUP;
            for values in [
                Values::F16 {
                    values: &values[hd..],
                    stride,
                },
                Values::Q8 {
                    values: &values_q8[hd..],
                    scales: &value_scales[groups..],
                    stride,
                    scale_stride: 3 * groups,
                },
            ] {
                let (mut a, mut b) = (vec![f32::NAN; hd], vec![f32::NAN; hd]);
                fast.weighted_sum(&weights, values, &mut a);
                Simd::Portable.weighted_sum(&weights, values, &mut b);
                close(&a, &b);
            }
        }
    }
}
