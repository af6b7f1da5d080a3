//! The attention loops on AVX-512: 16 key positions or 16 value dimensions
//! per register, f16 widened with F16C's conversion, q8_0 bytes widened to
//! f32 and scaled once per group of 32.

use std::arch::x86_64::*;

use domain::Q8_GROUP;
use half::f16;

use super::cache::{Values, BLOCK};

/// 16 halves from `p` as f32 lanes.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn widen(p: *const f16) -> __m512 {
    _mm512_cvtph_ps(_mm256_loadu_si256(p as *const __m256i))
}

/// 16 bytes from `p` as f32 lanes.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn widen_bytes(p: *const i8) -> __m512 {
    _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(p as *const __m128i)))
}

/// One half as f32.
#[inline]
#[target_feature(enable = "f16c")]
unsafe fn half(h: f16) -> f32 {
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h.to_bits() as i32)))
}

/// Cache elements that widen to 16 f32 lanes.
trait Widen: Sized {
    unsafe fn widen(p: *const Self) -> __m512;
}

impl Widen for f16 {
    #[inline(always)]
    unsafe fn widen(p: *const Self) -> __m512 {
        widen(p)
    }
}

impl Widen for i8 {
    #[inline(always)]
    unsafe fn widen(p: *const Self) -> __m512 {
        widen_bytes(p)
    }
}

/// `query` · each of the 16 columns of `keys` (`query.len() × 16`), with
/// four accumulators over the head dimension (a multiple of 4), so the
/// FMAs do not wait on each other.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn column_dots<T: Widen>(query: &[f32], keys: &[T]) -> __m512 {
    let mut acc = [_mm512_setzero_ps(); 4];
    for (q4, k4) in query
        .chunks_exact(4)
        .zip(keys.chunks_exact(4 * BLOCK).map(<[T]>::as_ptr))
    {
        let [a0, a1, a2, a3] = &mut acc;
        *a0 = _mm512_fmadd_ps(_mm512_set1_ps(q4[0]), T::widen(k4), *a0);
        *a1 = _mm512_fmadd_ps(_mm512_set1_ps(q4[1]), T::widen(k4.add(BLOCK)), *a1);
        *a2 = _mm512_fmadd_ps(_mm512_set1_ps(q4[2]), T::widen(k4.add(2 * BLOCK)), *a2);
        *a3 = _mm512_fmadd_ps(_mm512_set1_ps(q4[3]), T::widen(k4.add(3 * BLOCK)), *a3);
    }
    _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]))
}

/// `query` · each of the 16 positions of an f16 key block.
#[target_feature(enable = "avx512f")]
pub unsafe fn block_scores(query: &[f32], keys: &[f16]) -> [f32; BLOCK] {
    let mut lanes = [0f32; BLOCK];
    _mm512_storeu_ps(lanes.as_mut_ptr(), column_dots(query, keys));
    lanes
}

/// The same on q8_0 keys: each group of 32 dimensions is summed on its
/// own, then multiplied by the 16 positions' scales of that group.
#[target_feature(enable = "avx512f")]
pub unsafe fn block_scores_q8(query: &[f32], keys: &[i8], scales: &[f16]) -> [f32; BLOCK] {
    let mut total = _mm512_setzero_ps();
    for (g, (q32, k32)) in query
        .chunks_exact(Q8_GROUP)
        .zip(keys.chunks_exact(Q8_GROUP * BLOCK))
        .enumerate()
    {
        let scales = widen(scales.as_ptr().add(g * BLOCK));
        total = _mm512_fmadd_ps(column_dots(q32, k32), scales, total);
    }
    let mut lanes = [0f32; BLOCK];
    _mm512_storeu_ps(lanes.as_mut_ptr(), total);
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

/// As [`weighted_sum`] on q8_0 values: each position's weight is folded
/// into its group scales, two vectors of 16 per group.
#[target_feature(enable = "avx512f,f16c")]
pub unsafe fn weighted_sum_q8<const C: usize>(weights: &[f32], values: Values, out: &mut [f32]) {
    let Values::Q8 {
        values,
        scales,
        stride,
        scale_stride,
    } = values
    else {
        unreachable!("the q8_0 kernel is given q8_0 values")
    };
    let mut acc = [_mm512_setzero_ps(); C];
    for (p, &w) in weights.iter().enumerate() {
        let row = values.as_ptr().add(p * stride);
        let row_scales = scales.as_ptr().add(p * scale_stride);
        for g in 0..C / 2 {
            let ws = _mm512_set1_ps(w * half(*row_scales.add(g)));
            acc[2 * g] = _mm512_fmadd_ps(ws, widen_bytes(row.add(g * Q8_GROUP)), acc[2 * g]);
            acc[2 * g + 1] =
                _mm512_fmadd_ps(ws, widen_bytes(row.add(g * Q8_GROUP + 16)), acc[2 * g + 1]);
        }
    }
    for (c, a) in acc.iter().enumerate() {
        _mm512_storeu_ps(out.as_mut_ptr().add(c * 16), *a);
    }
}
