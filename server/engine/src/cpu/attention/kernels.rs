//! The two inner loops of attention (a query's scores against a key block,
//! and the weighted sum of values), for both cache types: on AVX-512 where
//! the CPU has it and the head size suits (64, 128 or 256, the common
//! ones), else portable code, which is also the reference.

use domain::Q8_GROUP;
use half::f16;

use super::cache::{Keys, Values, BLOCK};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Simd {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx512 {
        chunks: usize,
    },
}

impl Simd {
    pub fn for_head_dim(head_dim: usize) -> Self {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("f16c")
            && matches!(head_dim, 64 | 128 | 256)
        {
            return Simd::Avx512 {
                chunks: head_dim / 16,
            };
        }
        let _ = head_dim;
        Simd::Portable
    }

    /// `query` · each of the 16 positions of a key block.
    pub fn block_scores(self, query: &[f32], keys: Keys) -> [f32; BLOCK] {
        match keys {
            Keys::F16(k) => assert!(k.len() >= query.len() * BLOCK),
            Keys::Q8(k, s) => {
                assert!(k.len() >= query.len() * BLOCK && s.len() >= query.len() / Q8_GROUP * BLOCK)
            }
        }
        match (self, keys) {
            (Simd::Portable, Keys::F16(k)) => portable::block_scores(query, k),
            (Simd::Portable, Keys::Q8(k, s)) => portable::block_scores_q8(query, k, s),
            // Safety: avx512f and f16c are present (checked in
            // `for_head_dim`) and the block holds 16 values per query
            // dimension (asserted above).
            #[cfg(target_arch = "x86_64")]
            (Simd::Avx512 { .. }, Keys::F16(k)) => unsafe { super::avx512::block_scores(query, k) },
            #[cfg(target_arch = "x86_64")]
            (Simd::Avx512 { .. }, Keys::Q8(k, s)) => unsafe {
                super::avx512::block_scores_q8(query, k, s)
            },
        }
    }

    /// `out = Σ_p weights[p] · value row p`.
    pub fn weighted_sum(self, weights: &[f32], values: Values, out: &mut [f32]) {
        if let Some(last) = weights.len().checked_sub(1) {
            match values {
                Values::F16 { values, stride } => {
                    assert!(last * stride + out.len() <= values.len())
                }
                Values::Q8 {
                    values,
                    scales,
                    stride,
                    scale_stride,
                } => assert!(
                    last * stride + out.len() <= values.len()
                        && last * scale_stride + out.len() / Q8_GROUP <= scales.len()
                ),
            }
        }
        #[cfg(target_arch = "x86_64")]
        if let Simd::Avx512 { chunks } = self {
            use super::avx512::{weighted_sum as f, weighted_sum_q8 as q};
            // Safety: avx512f and f16c are present, `out` is `chunks`
            // vectors long (`for_head_dim`) and every row read is in
            // `values` (asserted above).
            unsafe {
                match (chunks, values) {
                    (4, Values::F16 { values, stride }) => f::<4>(weights, values, stride, out),
                    (8, Values::F16 { values, stride }) => f::<8>(weights, values, stride, out),
                    (_, Values::F16 { values, stride }) => f::<16>(weights, values, stride, out),
                    (4, v @ Values::Q8 { .. }) => q::<4>(weights, v, out),
                    (8, v @ Values::Q8 { .. }) => q::<8>(weights, v, out),
                    (_, v @ Values::Q8 { .. }) => q::<16>(weights, v, out),
                }
            }
            return;
        }
        match values {
            Values::F16 { values, stride } => portable::weighted_sum(weights, values, stride, out),
            Values::Q8 {
                values,
                scales,
                stride,
                scale_stride,
            } => portable::weighted_sum_q8(weights, values, scales, (stride, scale_stride), out),
        }
    }
}

mod portable {
    use super::{f16, BLOCK, Q8_GROUP};

    pub fn block_scores(query: &[f32], keys: &[f16]) -> [f32; BLOCK] {
        let mut lanes = [0f32; BLOCK];
        for (&qd, column) in query.iter().zip(keys.chunks_exact(BLOCK)) {
            for (lane, k) in lanes.iter_mut().zip(column) {
                *lane += qd * k.to_f32();
            }
        }
        lanes
    }

    /// Per group of 32 dimensions: the integer keys' dot products, then
    /// times each position's scale.
    pub fn block_scores_q8(query: &[f32], keys: &[i8], scales: &[f16]) -> [f32; BLOCK] {
        let mut lanes = [0f32; BLOCK];
        for (g, (q32, k32)) in query
            .chunks_exact(Q8_GROUP)
            .zip(keys.chunks_exact(Q8_GROUP * BLOCK))
            .enumerate()
        {
            let mut group = [0f32; BLOCK];
            for (&qd, column) in q32.iter().zip(k32.chunks_exact(BLOCK)) {
                for (lane, &k) in group.iter_mut().zip(column) {
                    *lane += qd * k as f32;
                }
            }
            for ((lane, s), d) in lanes.iter_mut().zip(group).zip(&scales[g * BLOCK..]) {
                *lane += s * d.to_f32();
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

    pub fn weighted_sum_q8(
        weights: &[f32],
        values: &[i8],
        scales: &[f16],
        (stride, scale_stride): (usize, usize),
        out: &mut [f32],
    ) {
        out.fill(0.0);
        for (p, &w) in weights.iter().enumerate() {
            let row = &values[p * stride..][..out.len()];
            let row_scales = &scales[p * scale_stride..];
            for ((o32, v32), d) in out
                .chunks_exact_mut(Q8_GROUP)
                .zip(row.chunks_exact(Q8_GROUP))
                .zip(row_scales)
            {
                let ws = w * d.to_f32();
                for (o, &v) in o32.iter_mut().zip(v32) {
                    *o += ws * v as f32;
                }
            }
        }
    }
}
