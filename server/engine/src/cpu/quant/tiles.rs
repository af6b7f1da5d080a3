//! The prompt kernel: `R` weight rows × `J` groups of sixteen tokens in
//! registers. Tokens are the lanes: a register holds four activation values
//! of each of sixteen tokens (`LaneActs`), and one `vpdpbusd` multiplies it
//! with four weights broadcast from a row (`SignedRows`), so a block's
//! partial sums need no horizontal adds and its scales apply per lane, once
//! per block: eight integer instructions to three float ones for 32 values
//! of 16 tokens. Every (row, token) goes through the same instructions
//! whatever the tile, so a token's numbers do not depend on its neighbours.

use std::arch::x86_64::*;

use super::lanes::{LaneActs, LANES};
use super::unpack::SignedRows;

/// Where a tile's sums go: token `t`'s sum for tile row `r` to
/// `at[t * stride + r]`, for the first `rows` rows of the tile.
pub struct Out {
    pub at: *mut f32,
    pub stride: usize,
    pub rows: usize,
}

/// Rows `first_row..first_row + R` of `rows` times lane groups
/// `first_group..first_group + J` of `acts`, written to `out` (tokens past
/// `acts.tokens` are not written).
///
/// # Safety
/// The CPU must have AVX-512 F, BW and VNNI; `rows` must hold `first_row +
/// R` rows and `acts` `first_group + J` groups of the same width; `out`
/// must be valid for every (token, row) written.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[allow(clippy::needless_range_loop)] // `r` also offsets the row pointers
pub unsafe fn tile<const R: usize, const J: usize, const L: usize, const MIN: bool>(
    rows: &SignedRows,
    first_row: usize,
    acts: &LaneActs,
    first_group: usize,
    out: &Out,
) {
    let cols = rows.cols;
    let nb = cols / L;
    let ab = acts.blocks;
    let mut acc = [[_mm512_setzero_ps(); J]; R];
    let wq = rows.q.as_ptr().add(first_row * cols);
    let scale = rows.scale.as_ptr().add(first_row * nb);
    let offset = rows.offset.as_ptr().add(first_row * nb);
    // (Empty for formats without a minimum: only read when `MIN`.)
    let min = rows.min.as_ptr().wrapping_add(first_row * (cols / 32));
    let aq = acts.q.as_ptr();
    for b in 0..nb {
        let (act_block, first_quad) = (b * L / 32, (b * L % 32) / 4);
        // Each sum starts at minus the activations' offset times the block's weights.
        let mut sums = [[_mm512_setzero_si512(); J]; R];
        for r in 0..R {
            let start = _mm512_set1_epi32(-*offset.add(r * nb + b));
            sums[r] = [start; J];
        }
        for k in 0..L / 4 {
            let mut a = [_mm512_setzero_si512(); J];
            for (j, a) in a.iter_mut().enumerate() {
                let at = (((first_group + j) * ab + act_block) * 8 + first_quad + k) * 64;
                *a = _mm512_loadu_si512(aq.add(at) as *const __m512i);
            }
            for r in 0..R {
                let w = _mm512_set1_epi32(
                    (wq.add(r * cols + b * L + 4 * k) as *const i32).read_unaligned(),
                );
                for j in 0..J {
                    sums[r][j] = _mm512_dpbusd_epi32(sums[r][j], a[j], w);
                }
            }
        }
        for r in 0..R {
            let s = _mm512_set1_ps(*scale.add(r * nb + b));
            for j in 0..J {
                let lane = ((first_group + j) * ab + act_block) * LANES;
                let d = _mm512_loadu_ps(acts.d.as_ptr().add(lane));
                acc[r][j] = _mm512_fmadd_ps(
                    _mm512_cvtepi32_ps(sums[r][j]),
                    _mm512_mul_ps(d, s),
                    acc[r][j],
                );
                if MIN {
                    let m = _mm512_set1_ps(*min.add(r * (cols / 32) + act_block));
                    let dsum = _mm512_loadu_ps(acts.dsum.as_ptr().add(lane));
                    acc[r][j] = _mm512_fmadd_ps(dsum, m, acc[r][j]);
                }
            }
        }
    }
    // Lane i is token i of its group, `stride` values apart in `out`.
    debug_assert!(out.stride * (LANES - 1) <= i32::MAX as usize);
    let index = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(out.stride as i32),
    );
    for j in 0..J {
        let first_token = (first_group + j) * LANES;
        let live = acts.tokens.saturating_sub(first_token).min(LANES);
        let mask = ((1u32 << live) - 1) as __mmask16;
        let base = out.at.add(first_token * out.stride);
        for (r, acc) in acc.iter().enumerate().take(out.rows) {
            _mm512_mask_i32scatter_ps::<4>(base.add(r), mask, index, acc[j]);
        }
    }
}
