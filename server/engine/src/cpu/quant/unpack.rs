//! Weight rows unpacked for the prompt kernel: every format as signed
//! bytes with a float scale per block (of 16 or 32 values), a float
//! minimum per 32 values for the formats that have one, and per block 128
//! times the sum of its bytes (the correction for the activations' offset
//! of 128). A row block is unpacked once per prompt chunk and serves all of
//! its tokens, so the mapped file stays as it is.

use std::arch::x86_64::*;

use super::{f16_at, scale_min_k4, Format};

/// Values per scale on the prompt kernel: 16 for Q6_K (a scale per 16),
/// 32 for the others.
pub fn block_len(format: Format) -> usize {
    if format == Format::Q6K {
        16
    } else {
        32
    }
}

/// Whether values carry a per-block minimum (`scale · q + min`).
pub fn has_min(format: Format) -> bool {
    matches!(format, Format::Q4_1 | Format::Q4K | Format::Q5K)
}

/// Formats the prompt kernel reads.
pub fn supported(format: Format) -> bool {
    format != Format::F32
}

/// Up to a block of rows, unpacked; row `r`'s values at `q[r * cols..]`.
#[derive(Default)]
pub struct SignedRows {
    pub cols: usize,
    pub rows: usize,
    pub q: Vec<i8>,
    /// `[row][block]`
    pub scale: Vec<f32>,
    /// `[row][block]`: 128 × the block's byte sum.
    pub offset: Vec<i32>,
    /// `[row][block of 32]`: zero-length for formats without a minimum.
    pub min: Vec<f32>,
}

impl SignedRows {
    /// Unpacks `rows` rows of `cols` values, stored one after another in `bytes`.
    pub fn unpack(&mut self, format: Format, bytes: &[u8], rows: usize, cols: usize) {
        assert!(
            super::has_fast_kernels() && supported(format),
            "unpacking {format:?} needs AVX-512 VNNI"
        );
        let nb = cols / block_len(format);
        self.cols = cols;
        self.rows = rows;
        self.q.resize(rows * cols, 0);
        self.scale.resize(rows * nb, 0.0);
        self.offset.resize(rows * nb, 0);
        self.min
            .resize(if has_min(format) { rows * cols / 32 } else { 0 }, 0.0);
        let rb = format.row_bytes(cols);
        for r in 0..rows {
            let row = &bytes[r * rb..(r + 1) * rb];
            let q = &mut self.q[r * cols..(r + 1) * cols];
            let scale = &mut self.scale[r * nb..(r + 1) * nb];
            let min = if has_min(format) {
                &mut self.min[r * cols / 32..(r + 1) * cols / 32]
            } else {
                &mut [][..]
            };
            // Safety: the prompt kernel runs only on CPUs with AVX-512
            // VNNI (`prompt_gemm::suits`), and the buffers were sized above.
            unsafe {
                unpack_row(format, row, q, scale, min);
                block_sums(q, block_len(format), &mut self.offset[r * nb..(r + 1) * nb]);
            }
        }
    }
}

impl SignedRows {
    /// Adds zero rows up to `rows` (a tile's worth), which sum to zero.
    pub fn pad_to(&mut self, rows: usize) {
        if rows <= self.rows {
            return;
        }
        let per = |v: usize| v / self.rows.max(1);
        let (nb, n32) = (per(self.scale.len()), per(self.min.len()));
        self.q.resize(rows * self.cols, 0);
        self.scale.resize(rows * nb, 0.0);
        self.offset.resize(rows * nb, 0);
        self.min.resize(rows * n32, 0.0);
        self.rows = rows;
    }
}

/// One row: values as signed bytes, each block's scale, and (Q4_1, Q4_K)
/// each 32 values' minimum, so that value = scale · q + min.
///
/// # Safety
/// The CPU must have AVX-512 (F, BW, VL); `q`, `scale` and `min` must be
/// as long as the row needs.
#[target_feature(enable = "avx2,f16c,avx512f,avx512bw,avx512vl")]
unsafe fn unpack_row(format: Format, row: &[u8], q: &mut [i8], scale: &mut [f32], min: &mut [f32]) {
    let bb = format.block_bytes();
    let low4 = _mm256_set1_epi8(0x0F);
    let (qp, q_len) = (q.as_mut_ptr(), q.len());
    let store = |at: usize, v: __m256i| {
        debug_assert!(at + 32 <= q_len);
        _mm256_storeu_si256(qp.add(at) as *mut __m256i, v)
    };
    let load = |x: &[u8], at: usize| _mm256_loadu_si256(x.as_ptr().add(at) as *const __m256i);
    // 16 bytes of nibbles to a 32-value block: low nibbles, then high.
    let nibbles = |x: &[u8], at: usize| {
        let raw = _mm_loadu_si128(x.as_ptr().add(at) as *const __m128i);
        let lo = _mm_and_si128(raw, _mm_set1_epi8(0x0F));
        let hi = _mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0F));
        _mm256_set_m128i(hi, lo)
    };
    match format {
        Format::Q4K | Format::Q5K => {
            let fifth = format == Format::Q5K;
            let qs_at = if fifth { 48 } else { 16 };
            let sixteen = _mm256_set1_epi8(0x10);
            for (b, x) in row.chunks_exact(bb).enumerate() {
                let (d, dmin) = (f16_at(x, 0), f16_at(x, 2));
                for j in 0..8 {
                    let (sc, m) = scale_min_k4(j, &x[4..16]);
                    scale[b * 8 + j] = d * sc as f32;
                    min[b * 8 + j] = -dmin * m as f32;
                }
                for g in 0..4 {
                    let raw = load(x, qs_at + 32 * g);
                    let mut lo = _mm256_and_si256(raw, low4);
                    let mut hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
                    if fifth {
                        // Sub-block k's fifth bits: bit k of each of 32 bytes.
                        let qh = load(x, 16);
                        let bit = |k: usize| {
                            _mm256_test_epi8_mask(qh, _mm256_set1_epi8((1u8 << k) as i8))
                        };
                        lo = _mm256_or_si256(lo, _mm256_maskz_mov_epi8(bit(2 * g), sixteen));
                        hi = _mm256_or_si256(hi, _mm256_maskz_mov_epi8(bit(2 * g + 1), sixteen));
                    }
                    store(b * 256 + 64 * g, lo);
                    store(b * 256 + 64 * g + 32, hi);
                }
            }
        }
        Format::Q6K => {
            let bits45 = _mm256_set1_epi8(0x30);
            let minus32 = _mm256_set1_epi8(32);
            for (b, x) in row.chunks_exact(bb).enumerate() {
                let d = f16_at(x, 208);
                for (i, &sc) in x[192..208].iter().enumerate() {
                    scale[b * 16 + i] = d * (sc as i8) as f32;
                }
                for h in 0..2 {
                    let (ql0, ql1, qh) =
                        (load(x, 64 * h), load(x, 64 * h + 32), load(x, 128 + 32 * h));
                    let at = b * 256 + 128 * h;
                    let six = |low: __m256i, high: __m256i| {
                        _mm256_sub_epi8(
                            _mm256_or_si256(
                                _mm256_and_si256(low, low4),
                                _mm256_and_si256(high, bits45),
                            ),
                            minus32,
                        )
                    };
                    store(at, six(ql0, _mm256_slli_epi16(qh, 4)));
                    store(at + 32, six(ql1, _mm256_slli_epi16(qh, 2)));
                    store(at + 64, six(_mm256_srli_epi16(ql0, 4), qh));
                    store(
                        at + 96,
                        six(_mm256_srli_epi16(ql1, 4), _mm256_srli_epi16(qh, 2)),
                    );
                }
            }
        }
        _ => {
            let bit4 = _mm256_set1_epi8(0x10);
            for (b, x) in row.chunks_exact(bb).enumerate() {
                scale[b] = f16_at(x, 0);
                let values = match format {
                    Format::Q4_0 => _mm256_sub_epi8(nibbles(x, 2), _mm256_set1_epi8(8)),
                    Format::Q4_1 => {
                        min[b] = f16_at(x, 2);
                        nibbles(x, 4)
                    }
                    Format::Q5_0 => {
                        let qh = u32::from_le_bytes([x[2], x[3], x[4], x[5]]);
                        let high = _mm256_and_si256(_mm256_movm_epi8(qh), bit4);
                        _mm256_sub_epi8(_mm256_or_si256(nibbles(x, 6), high), _mm256_set1_epi8(16))
                    }
                    Format::Q8_0 => load(x, 2),
                    _ => unreachable!("the prompt kernel takes no {format:?}"),
                };
                store(b * 32, values);
            }
        }
    }
}

/// 128 × the sum of each `len`-value block of `q` (16 or 32).
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl")]
unsafe fn block_sums(q: &[i8], len: usize, out: &mut [i32]) {
    let flip = _mm_set1_epi8(-128);
    let half = |at: usize| {
        // Sum of 16 signed bytes: unsigned sums of (q + 128), less 16 × 128.
        let v = _mm_xor_si128(_mm_loadu_si128(q.as_ptr().add(at) as *const __m128i), flip);
        let s = _mm_sad_epu8(v, _mm_setzero_si128());
        _mm_cvtsi128_si32(_mm_add_epi64(s, _mm_unpackhi_epi64(s, s))) - 16 * 128
    };
    for (i, o) in out.iter_mut().enumerate() {
        let sum = if len == 16 {
            half(16 * i)
        } else {
            half(32 * i) + half(32 * i + 16)
        };
        *o = 128 * sum;
    }
}
