//! Prompts (many tokens at once) as an f32 matrix product: each thread
//! dequantizes a block of weight rows once and multiplies it with every token
//! in 4-row × 4-token register tiles of AVX-512 FMAs, the reduction
//! dimension in L2-sized slices. The activations are not quantized here, so
//! the prompt is also computed more exactly than single tokens are.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::matmul::Shared;
use super::quant::dequantize_row;
use super::team::Team;
use super::weights::Matrix;

/// Weight rows one thread dequantizes and keeps for all tokens.
const ROW_BLOCK: usize = 64;
/// Columns per pass, so a row block's slice and the tokens' slice stay in L2.
const K_BLOCK: usize = 512;

/// True when this CPU can run the FMA tiles on `w`'s rows.
pub fn suits(w: &Matrix) -> bool {
    w.cols.is_multiple_of(16) && available()
}

fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `out[t * w.rows + r] = Σ_c W[r][c] · x[t * w.cols + c]`.
/// Row blocks are handed out to the team's members; each keeps its own tile.
pub fn gemm(team: &Team, w: &Matrix, bytes: &[u8], x: &[f32], tokens: usize, out: &mut [f32]) {
    assert!(suits(w) && x.len() >= tokens * w.cols && out.len() >= tokens * w.rows);
    let rows = w.rows;
    let rb = w.row_bytes();
    let out_ptr = Shared(out.as_mut_ptr());
    let next = AtomicUsize::new(0);
    team.run(&|_| {
        let mut tile = Vec::new();
        loop {
            let block = next.fetch_add(1, Ordering::Relaxed);
            if block >= rows.div_ceil(ROW_BLOCK) {
                break;
            }
            block_product(w, bytes, rb, x, tokens, block, &mut tile, out_ptr);
        }
    });
}

/// One block of `ROW_BLOCK` weight rows times every token.
#[allow(clippy::too_many_arguments)]
fn block_product(
    w: &Matrix,
    bytes: &[u8],
    rb: usize,
    x: &[f32],
    tokens: usize,
    block: usize,
    tile: &mut Vec<f32>,
    out_ptr: Shared,
) {
    let (rows, cols) = (w.rows, w.cols);
    let r_start = block * ROW_BLOCK;
    let r_count = ROW_BLOCK.min(rows - r_start);
    tile.resize(r_count * cols, 0.0);
    for (i, row) in tile.chunks_exact_mut(cols).enumerate() {
        dequantize_row(
            w.format,
            &bytes[(r_start + i) * rb..(r_start + i + 1) * rb],
            row,
        );
    }
    for k0 in (0..cols).step_by(K_BLOCK) {
        let k_len = K_BLOCK.min(cols - k0);
        for t0 in (0..tokens).step_by(4) {
            let nt = 4.min(tokens - t0);
            for r0 in (0..r_count).step_by(4) {
                let nr = 4.min(r_count - r0);
                let mut sums = [[0f32; 4]; 4];
                let w_ptr = tile[r0 * cols + k0..].as_ptr();
                let x_ptr = x[t0 * cols + k0..].as_ptr();
                // Safety: avx512f is present and cols is a multiple of 16
                // (`gemm` checked `suits`), and the tile and token slices
                // hold `nr` rows and `nt` tokens of `k_len` values at stride
                // `cols`.
                unsafe { tile_dispatch(nr, nt, w_ptr, x_ptr, cols, k_len, &mut sums) };
                for (i, row_sums) in sums.iter().enumerate().take(nr) {
                    for (j, s) in row_sums.iter().enumerate().take(nt) {
                        // Safety: rows r_start.. belong to this block only.
                        unsafe {
                            let o = out_ptr.get().add((t0 + j) * rows + r_start + r0 + i);
                            *o = if k0 == 0 { *s } else { *o + s };
                        }
                    }
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
unsafe fn tile_dispatch(
    nr: usize,
    nt: usize,
    w: *const f32,
    x: *const f32,
    stride: usize,
    len: usize,
    sums: &mut [[f32; 4]; 4],
) {
    macro_rules! go {
        ($r:literal, $t:literal) => {
            micro::<$r, $t>(w, x, stride, len, sums)
        };
    }
    match (nr, nt) {
        (4, 4) => go!(4, 4),
        (4, 3) => go!(4, 3),
        (4, 2) => go!(4, 2),
        (4, 1) => go!(4, 1),
        (3, 4) => go!(3, 4),
        (3, 3) => go!(3, 3),
        (3, 2) => go!(3, 2),
        (3, 1) => go!(3, 1),
        (2, 4) => go!(2, 4),
        (2, 3) => go!(2, 3),
        (2, 2) => go!(2, 2),
        (2, 1) => go!(2, 1),
        (1, 4) => go!(1, 4),
        (1, 3) => go!(1, 3),
        (1, 2) => go!(1, 2),
        _ => go!(1, 1),
    }
}

/// `R` weight rows × `T` tokens, `len` values (a multiple of 16).
#[target_feature(enable = "avx512f")]
unsafe fn micro<const R: usize, const T: usize>(
    w: *const f32,
    x: *const f32,
    stride: usize,
    len: usize,
    sums: &mut [[f32; 4]; 4],
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); T]; R];
    let mut c = 0;
    while c < len {
        let mut xs = [_mm512_setzero_ps(); T];
        for (t, xv) in xs.iter_mut().enumerate() {
            *xv = _mm512_loadu_ps(x.add(t * stride + c));
        }
        for (r, row_acc) in acc.iter_mut().enumerate() {
            let wv = _mm512_loadu_ps(w.add(r * stride + c));
            for (t, a) in row_acc.iter_mut().enumerate() {
                *a = _mm512_fmadd_ps(wv, xs[t], *a);
            }
        }
        c += 16;
    }
    for r in 0..R {
        for t in 0..T {
            sums[r][t] = _mm512_reduce_add_ps(acc[r][t]);
        }
    }
}

#[cfg(test)]
mod tests {
    use candle_core::quantized::GgmlDType;

    use super::*;
    use crate::cpu::quant::{tests::quantized, Format};

    /// Every tile shape (rows and tokens not multiples of 4, more rows than
    /// one block, more columns than one slice) against an f64 product of
    /// candle's dequantized weights.
    #[test]
    fn matches_the_exact_product() {
        if !available() {
            return crate::test_support::skip(
                "cpu::gemm::matches_the_exact_product",
                "this CPU lacks AVX-512F",
            );
        }
        let team = Team::new(2);
        let (rows, cols) = (2 * ROW_BLOCK + 7, 768);
        let value = |i: usize| ((i * 7919) % 1009) as f32 / 500.0 - 1.0;
        for (dtype, format) in [
            (GgmlDType::Q8_0, Format::Q8_0),
            (GgmlDType::Q4K, Format::Q4K),
        ] {
            let (bytes, weights) = quantized(dtype, rows, cols, 7);
            let w = Matrix::in_memory(format, rows, cols);
            for tokens in [1, 3, 6, 17] {
                let x: Vec<f32> = (0..tokens * cols).map(|i| value(i + 31)).collect();
                let mut out = vec![f32::NAN; tokens * rows];
                gemm(&team, &w, &bytes, &x, tokens, &mut out);
                for t in 0..tokens {
                    for r in 0..rows {
                        let exact: f64 = (0..cols)
                            .map(|c| weights[r * cols + c] as f64 * x[t * cols + c] as f64)
                            .sum();
                        let got = out[t * rows + r] as f64;
                        assert!(
                            (got - exact).abs() < 1e-3,
                            "{format:?} t{t} r{r}: {got} vs {exact}"
                        );
                    }
                }
            }
        }
    }
}
