//! Dot products of quantized weight rows with 8-bit activations using
//! AVX-512 VNNI on 256-bit registers (`vpdpbusd`: 32 unsigned-by-signed byte
//! products summed into 8 lanes per instruction).
//!
//! Each format turns a block of weights into 32 unsigned bytes (adding an
//! offset where the format is signed) and corrects for the offset with the
//! activation block's precomputed sums. A tile of `T` activation rows shares
//! each decoded weight block.

use std::{arch::x86_64::*, sync::OnceLock};

use super::{f16_at, scale_min_k4, Format, QuantizedActs};

pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c")
            && is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx512vnni")
    })
}

/// [`QuantizedActs::quantize`]'s blocks (values, scale, sums), as the
/// portable loop computes them.
///
/// # Safety
/// The CPU must support the features of [`available`]; `acts`' block
/// buffers must hold `x.len() / 32` blocks.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub unsafe fn quantize_blocks(x: &[f32], acts: &mut QuantizedActs) {
    let ones = _mm256_set1_epi8(1);
    let ones16 = _mm256_set1_epi16(1);
    let abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFF_FFFF));
    for b in 0..x.len() / 32 {
        let p = x.as_ptr().add(b * 32);
        let (v0, v1) = (_mm512_loadu_ps(p), _mm512_loadu_ps(p.add(16)));
        let amax = _mm512_reduce_max_ps(_mm512_max_ps(
            _mm512_and_ps(v0, abs_mask),
            _mm512_and_ps(v1, abs_mask),
        ));
        let d = amax / 127.0;
        let inv = _mm512_set1_ps(if d > 0.0 { 1.0 / d } else { 0.0 });
        // Rounds to nearest even (the default rounding mode).
        let q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, inv));
        let q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, inv));
        let bytes = _mm256_set_m128i(_mm512_cvtsepi32_epi8(q1), _mm512_cvtsepi32_epi8(q0));
        _mm256_storeu_si256(acts.qs.as_mut_ptr().add(b * 32) as *mut __m256i, bytes);
        // Sums of each 4 consecutive values: bytes to pair sums to quad sums.
        let sum4 = _mm256_madd_epi16(_mm256_maddubs_epi16(ones, bytes), ones16);
        _mm256_storeu_si256(acts.sum4.as_mut_ptr().add(b) as *mut __m256i, sum4);
        let s = _mm_add_epi32(
            _mm256_castsi256_si128(sum4),
            _mm256_extracti128_si256(sum4, 1),
        );
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
        let sum = _mm_cvtsi128_si32(s);
        acts.d[b] = d;
        acts.sum[b] = sum;
        acts.sumf[b] = sum as f32;
        acts.dsum[b] = d * sum as f32;
    }
}

/// Sums the 8 lanes.
#[inline(always)]
unsafe fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    _mm_cvtss_f32(s)
}

/// 16 bytes of nibbles to 32 bytes: low nibbles first, then high nibbles
/// (GGUF's order within a 32-value block).
#[inline(always)]
unsafe fn nibbles(q: *const u8) -> __m256i {
    let raw = _mm_loadu_si128(q as *const __m128i);
    let mask = _mm_set1_epi8(0x0F);
    let lo = _mm_and_si128(raw, mask);
    let hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);
    _mm256_set_m128i(hi, lo)
}

/// Activation block `block` of one row: its 32 values.
#[inline(always)]
unsafe fn act_qs(a: &QuantizedActs, block: usize) -> __m256i {
    _mm256_loadu_si256(a.qs.as_ptr().add(block * 32) as *const __m256i)
}

#[inline(always)]
unsafe fn dpbusd(w: __m256i, a: __m256i) -> __m256i {
    _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, a)
}

/// The dot products of `row` (in `format`) with `T` activation rows.
///
/// # Safety
/// The CPU must support the features of [`available`]; `row` must hold
/// whole blocks covering `acts[t].cols` values.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub unsafe fn dot_tile<const T: usize>(
    format: Format,
    row: &[u8],
    acts: &[&QuantizedActs; T],
    act_rows: [usize; T],
) -> [f32; T] {
    let mut first = [0usize; T];
    for t in 0..T {
        first[t] = acts[t].row_block(act_rows[t]);
    }
    match format {
        Format::Q4_0 => wide32::<T, Q4_0>(row, acts, first),
        Format::Q4_1 => wide32::<T, Q4_1>(row, acts, first),
        Format::Q5_0 => wide32::<T, Q5_0>(row, acts, first),
        Format::Q8_0 => wide32::<T, Q8_0>(row, acts, first),
        Format::Q4K => q4k::<T, false>(row, acts, first),
        Format::Q5K => q4k::<T, true>(row, acts, first),
        Format::Q6K => q6k::<T>(row, acts, first),
        Format::F32 => super::scalar::dot_tile(format, row, acts, act_rows),
    }
}

const Q4_0: u8 = 0;
const Q4_1: u8 = 1;
const Q5_0: u8 = 2;
const Q8_0: u8 = 3;

/// 32-value formats four blocks at a time on 512-bit registers, for the
/// row's whole blocks of four; the rest go through [`blocks32`].
///
/// Nibble formats: one 64-byte register holds four blocks' 16 bytes; its
/// low nibbles are each block's first 16 values and its high nibbles the
/// next 16, so the activations are regrouped the same way (two 128-bit lane
/// shuffles). Q8_0: two registers of two blocks each.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn wide32<const T: usize, const F: u8>(
    row: &[u8],
    acts: &[&QuantizedActs; T],
    first: [usize; T],
) -> [f32; T] {
    let format = match F {
        Q4_0 => Format::Q4_0,
        Q4_1 => Format::Q4_1,
        Q5_0 => Format::Q5_0,
        _ => Format::Q8_0,
    };
    let bb = format.block_bytes();
    let nb = row.len() / bb;
    let wide = nb / 4 * 4;
    let mut acc = [_mm512_setzero_ps(); T];
    let mut extra = [_mm_setzero_ps(); T];
    let low4 = _mm512_set1_epi8(0x0F);
    let bit4 = _mm512_set1_epi8(0x10);
    let flip = _mm512_set1_epi8(-128);
    // Lane i of the 16 dot-product lanes belongs to block i / 4 (nibble
    // formats) or i / 8 within a register pair (Q8_0).
    let spread4 = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    let offset = match F {
        Q4_0 => 8.0,
        Q5_0 => 16.0,
        Q8_0 => 128.0,
        _ => 0.0,
    };
    let p = row.as_ptr();
    let f16x4 = |q: *const u8, stride: usize| -> __m128 {
        let raw = [
            (q as *const u16).read_unaligned(),
            (q.add(stride) as *const u16).read_unaligned(),
            (q.add(2 * stride) as *const u16).read_unaligned(),
            (q.add(3 * stride) as *const u16).read_unaligned(),
        ];
        _mm_cvtph_ps(_mm_loadl_epi64(raw.as_ptr() as *const __m128i))
    };
    let mut b = 0;
    while b < wide {
        let x = p.add(b * bb);
        let d4 = f16x4(x, bb);
        let m4 = if F == Q4_1 {
            f16x4(x.add(2), bb)
        } else {
            _mm_setzero_ps()
        };
        // The four blocks' weights as unsigned bytes in two registers: the
        // first 16 values of each block, then the last 16 (the order packed
        // nibbles unpack in; the activations are stored the same way).
        let lane = |i: usize, at: usize| _mm_loadu_si128(x.add(i * bb + at) as *const __m128i);
        let gather = |at: usize| {
            _mm512_inserti32x4(
                _mm512_inserti32x4(
                    _mm512_inserti32x4(_mm512_castsi128_si512(lane(0, at)), lane(1, at), 1),
                    lane(2, at),
                    2,
                ),
                lane(3, at),
                3,
            )
        };
        let (w0, w1) = if F == Q8_0 {
            (
                _mm512_xor_si512(gather(2), flip),
                _mm512_xor_si512(gather(18), flip),
            )
        } else {
            let qs = if F == Q4_1 {
                4
            } else if F == Q5_0 {
                6
            } else {
                2
            };
            let n = gather(qs);
            let mut lo = _mm512_and_si512(n, low4);
            let mut hi = _mm512_and_si512(_mm512_srli_epi16(n, 4), low4);
            if F == Q5_0 {
                let (mut mlo, mut mhi) = (0u64, 0u64);
                for i in 0..4 {
                    let qh = (x.add(i * bb + 2) as *const u32).read_unaligned() as u64;
                    mlo |= (qh & 0xFFFF) << (16 * i);
                    mhi |= (qh >> 16) << (16 * i);
                }
                lo = _mm512_or_si512(lo, _mm512_and_si512(_mm512_movm_epi8(mlo), bit4));
                hi = _mm512_or_si512(hi, _mm512_and_si512(_mm512_movm_epi8(mhi), bit4));
            }
            (lo, hi)
        };
        // Per-lane weight scales and the per-block correction (the offset
        // the unsigned weights carry, or Q4_1's min), shared by the tokens.
        let dw = _mm512_permutexvar_ps(spread4, _mm512_castps128_ps512(d4));
        let corr4 = if F == Q4_1 {
            m4
        } else {
            _mm_mul_ps(d4, _mm_set1_ps(-offset))
        };
        for t in 0..T {
            let a = acts[t];
            let blk = first[t] + b;
            let qa = a.nib.as_ptr().add(blk * 32);
            let dot = _mm512_dpbusd_epi32(
                _mm512_dpbusd_epi32(
                    _mm512_setzero_si512(),
                    w0,
                    _mm512_loadu_si512(qa as *const __m512i),
                ),
                w1,
                _mm512_loadu_si512(qa.add(64) as *const __m512i),
            );
            let scale = _mm512_mul_ps(dw, _mm512_loadu_ps(a.d4.as_ptr().add(blk * 4)));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scale, acc[t]);
            extra[t] = _mm_fmadd_ps(corr4, _mm_loadu_ps(a.dsum.as_ptr().add(blk)), extra[t]);
        }
        b += 4;
    }
    let mut out = [0f32; T];
    if wide < nb {
        let mut shifted = first;
        for s in shifted.iter_mut() {
            *s += wide;
        }
        out = blocks32::<T>(format, &row[wide * bb..], acts, shifted);
    }
    for t in 0..T {
        let e = _mm_add_ps(extra[t], _mm_movehl_ps(extra[t], extra[t]));
        let e = _mm_add_ss(e, _mm_shuffle_ps(e, e, 1));
        out[t] += _mm512_reduce_add_ps(acc[t]) + _mm_cvtss_f32(e);
    }
    out
}

/// The 32-value formats: weights as unsigned bytes `q`, value
/// `scale * (q - offset) + min`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn blocks32<const T: usize>(
    format: Format,
    row: &[u8],
    acts: &[&QuantizedActs; T],
    first: [usize; T],
) -> [f32; T] {
    let bb = format.block_bytes();
    let nb = row.len() / bb;
    let mut acc = [_mm256_setzero_ps(); T];
    let mut extra = [0f32; T];
    let sign_flip = _mm256_set1_epi8(-128);
    let bit4 = _mm256_set1_epi8(0x10);
    for b in 0..nb {
        let x = row.get_unchecked(b * bb..);
        let p = x.as_ptr();
        // (weights as unsigned bytes, scale, offset subtracted, min added)
        let (w, d, offset, min) = match format {
            Format::Q4_0 => (nibbles(p.add(2)), f16_at(x, 0), 8.0, 0.0),
            Format::Q4_1 => (nibbles(p.add(4)), f16_at(x, 0), 0.0, f16_at(x, 2)),
            Format::Q5_0 => {
                let qh = u32::from_le_bytes([x[2], x[3], x[4], x[5]]);
                let high = _mm256_and_si256(_mm256_movm_epi8(qh), bit4);
                (
                    _mm256_or_si256(nibbles(p.add(6)), high),
                    f16_at(x, 0),
                    16.0,
                    0.0,
                )
            }
            _ => {
                // Q8_0: signed bytes, made unsigned by adding 128.
                let q = _mm256_loadu_si256(p.add(2) as *const __m256i);
                (_mm256_xor_si256(q, sign_flip), f16_at(x, 0), 128.0, 0.0)
            }
        };
        for t in 0..T {
            let a = acts[t];
            let blk = first[t] + b;
            let da = *a.d.get_unchecked(blk);
            let scale = d * da;
            acc[t] = _mm256_fmadd_ps(
                _mm256_cvtepi32_ps(dpbusd(w, act_qs(a, blk))),
                _mm256_set1_ps(scale),
                acc[t],
            );
            extra[t] += (min * da - scale * offset) * *a.sum.get_unchecked(blk) as f32;
        }
    }
    let mut out = [0f32; T];
    for t in 0..T {
        out[t] = hsum(acc[t]) + extra[t];
    }
    out
}

/// Q4_K: 256-value super-blocks of eight 32-value sub-blocks, each with a
/// 6-bit scale and min. A 512-bit register of packed nibbles holds four
/// sub-blocks: 0 and 2 in its low nibbles, 1 and 3 in its high ones; the
/// activations are stored in that order (`QuantizedActs::kq`), so per token
/// and 128 values the work is two loads, two `vpdpbusd` and two scaled adds.
/// The mins are corrected once per super-block from the block sums.
///
/// `FIFTH`: Q5_K, the same layout after 32 bytes of fifth bits (sub-block
/// j's in bit j of each byte), which are ORed in as 16s.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn q4k<const T: usize, const FIFTH: bool>(
    row: &[u8],
    acts: &[&QuantizedActs; T],
    first: [usize; T],
) -> [f32; T] {
    let (bb, qs_at) = if FIFTH { (176, 48) } else { (144, 16) };
    let nb = row.len() / bb;
    let sixteen = _mm512_set1_epi8(0x10);
    let mut acc = [_mm512_setzero_ps(); T];
    let mut mins = [_mm256_setzero_ps(); T];
    let mask = _mm512_set1_epi8(0x0F);
    for b in 0..nb {
        let x = row.get_unchecked(b * bb..);
        let (d, dmin) = (f16_at(x, 0), f16_at(x, 2));
        let scales = &x[4..16];
        let mut sc = [0f32; 8];
        let mut m = [0f32; 8];
        for (j, (s, mm)) in sc.iter_mut().zip(m.iter_mut()).enumerate() {
            let (a, bm) = scale_min_k4(j, scales);
            (*s, *mm) = (d * a as f32, -dmin * bm as f32);
        }
        let neg_mins = _mm256_loadu_ps(m.as_ptr());
        for half in 0..2 {
            let raw = _mm512_loadu_si512(x.as_ptr().add(qs_at + 64 * half) as *const __m512i);
            let mut lo = _mm512_and_si512(raw, mask);
            let mut hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), mask);
            let j = 4 * half;
            if FIFTH {
                // Bytes 0-31 of `lo` are sub-block j, 32-63 sub-block j + 2;
                // of `hi`, j + 1 and j + 3.
                let qh = _mm256_loadu_si256(x.as_ptr().add(16) as *const __m256i);
                let bit =
                    |k: usize| _mm256_test_epi8_mask(qh, _mm256_set1_epi8((1u8 << k) as i8)) as u64;
                let lo_bits = bit(j) | (bit(j + 2) << 32);
                let hi_bits = bit(j + 1) | (bit(j + 3) << 32);
                lo = _mm512_or_si512(lo, _mm512_maskz_mov_epi8(lo_bits, sixteen));
                hi = _mm512_or_si512(hi, _mm512_maskz_mov_epi8(hi_bits, sixteen));
            }
            // Lanes 0-7 and 8-15: sub-blocks (j, j + 2), then (j + 1, j + 3).
            let spread = |p: usize, q: usize| {
                _mm512_insertf32x8(_mm512_set1_ps(sc[p]), _mm256_set1_ps(sc[q]), 1)
            };
            let (s_lo, s_hi) = (spread(j, j + 2), spread(j + 1, j + 3));
            for t in 0..T {
                let a = acts[t];
                let blk = first[t] + b * 8 + j;
                let qa = a.kq.as_ptr().add(blk * 32);
                let ds = a.d8k.as_ptr().add(blk * 8);
                let dot_lo = _mm512_dpbusd_epi32(
                    _mm512_setzero_si512(),
                    lo,
                    _mm512_loadu_si512(qa as *const __m512i),
                );
                let dot_hi = _mm512_dpbusd_epi32(
                    _mm512_setzero_si512(),
                    hi,
                    _mm512_loadu_si512(qa.add(64) as *const __m512i),
                );
                acc[t] = _mm512_fmadd_ps(
                    _mm512_cvtepi32_ps(dot_lo),
                    _mm512_mul_ps(s_lo, _mm512_loadu_ps(ds)),
                    acc[t],
                );
                acc[t] = _mm512_fmadd_ps(
                    _mm512_cvtepi32_ps(dot_hi),
                    _mm512_mul_ps(s_hi, _mm512_loadu_ps(ds.add(16))),
                    acc[t],
                );
            }
        }
        for t in 0..T {
            let dsum = _mm256_loadu_ps(acts[t].dsum.as_ptr().add(first[t] + b * 8));
            mins[t] = _mm256_fmadd_ps(neg_mins, dsum, mins[t]);
        }
    }
    let mut out = [0f32; T];
    for t in 0..T {
        out[t] = _mm512_reduce_add_ps(acc[t]) + hsum(mins[t]);
    }
    out
}

/// Q6_K: 256-value super-blocks, 6-bit values with a signed 8-bit scale per
/// 16 values. Each 512-bit register holds two 32-value blocks in order;
/// every lane of the dot product covers 4 values, so a per-16 scale is a
/// per-4-lane one. The offset of 32 is corrected from the activations'
/// sums of 4 (`QuantizedActs::dsum4`).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn q6k<const T: usize>(
    row: &[u8],
    acts: &[&QuantizedActs; T],
    first: [usize; T],
) -> [f32; T] {
    let nb = row.len() / 210;
    let mut acc = [_mm512_setzero_ps(); T];
    let low4 = _mm256_set1_epi8(0x0F);
    let bits45 = _mm256_set1_epi8(0x30);
    let pair = |a: __m256i, b: __m256i| _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
    for b in 0..nb {
        let x = row.get_unchecked(b * 210..);
        let p = x.as_ptr();
        let d = f16_at(x, 208);
        for h in 0..2 {
            let ql0 = _mm256_loadu_si256(p.add(64 * h) as *const __m256i);
            let ql1 = _mm256_loadu_si256(p.add(64 * h + 32) as *const __m256i);
            let qh = _mm256_loadu_si256(p.add(128 + 32 * h) as *const __m256i);
            let groups = [
                pair(
                    _mm256_or_si256(
                        _mm256_and_si256(ql0, low4),
                        _mm256_and_si256(_mm256_slli_epi16(qh, 4), bits45),
                    ),
                    _mm256_or_si256(
                        _mm256_and_si256(ql1, low4),
                        _mm256_and_si256(_mm256_slli_epi16(qh, 2), bits45),
                    ),
                ),
                pair(
                    _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                        _mm256_and_si256(qh, bits45),
                    ),
                    _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                        _mm256_and_si256(_mm256_srli_epi16(qh, 2), bits45),
                    ),
                ),
            ];
            for (k, w) in groups.into_iter().enumerate() {
                // The 16 lanes' scales: 4 lanes (16 values) per scale.
                let four = (p.add(192 + 8 * h + 4 * k) as *const i32).read_unaligned();
                let sc = _mm512_mul_ps(
                    _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_cvtsi32_si128(four))),
                    _mm512_set1_ps(d),
                );
                let sc = _mm512_permutexvar_ps(
                    _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
                    sc,
                );
                let off = _mm512_mul_ps(sc, _mm512_set1_ps(-32.0));
                for t in 0..T {
                    let a = acts[t];
                    let blk = first[t] + b * 8 + 4 * h + 2 * k;
                    let dot = _mm512_dpbusd_epi32(
                        _mm512_setzero_si512(),
                        w,
                        _mm512_loadu_si512(a.qs.as_ptr().add(blk * 32) as *const __m512i),
                    );
                    let da = _mm512_loadu_ps(a.d8.as_ptr().add(blk * 8));
                    acc[t] =
                        _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(sc, da), acc[t]);
                    acc[t] = _mm512_fmadd_ps(
                        off,
                        _mm512_loadu_ps(a.dsum4.as_ptr().add(blk * 8)),
                        acc[t],
                    );
                }
            }
        }
    }
    let mut out = [0f32; T];
    for t in 0..T {
        out[t] = _mm512_reduce_add_ps(acc[t]);
    }
    out
}
