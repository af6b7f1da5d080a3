//! Prompts (many tokens at once) on the integer units: each thread unpacks
//! a block of weight rows to signed bytes once per chunk (`SignedRows`) and
//! multiplies it with every token in register tiles of 4 rows × 32 tokens
//! (`quant::tiles`), the tokens sixteen to a register. llama.cpp repacks
//! its weights at load for the same kind of kernel; unpacking per chunk
//! keeps the mapped file as the only copy of the weights, at a cost that
//! the chunk's tokens share.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::matmul::Shared;
use super::quant::{has_fast_kernels, tiles, unpack, LaneActs, SignedRows};
use super::team::Team;
use super::weights::Matrix;

/// Weight rows a thread unpacks at a time (a multiple of `TILE_ROWS`).
const ROW_BLOCK: usize = 16;
/// Rows and lane groups per register tile.
const TILE_ROWS: usize = 4;
const TILE_GROUPS: usize = 2;

thread_local! {
    /// Matrix products this thread asked the kernel for (tests use it to
    /// prove the kernel ran).
    static PRODUCTS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many products this thread has computed with this kernel.
#[cfg(test)]
pub fn products_run() -> usize {
    PRODUCTS.get()
}

/// True when this CPU can run the kernel on `w`.
pub fn suits(w: &Matrix) -> bool {
    has_fast_kernels() && unpack::supported(w.format) && w.cols.is_multiple_of(32)
}

/// `out[t * w.rows + r] = Σ_c W[r][c] · x[t][c]` for the tokens in `acts`.
pub fn gemm(team: &Team, w: &Matrix, bytes: &[u8], acts: &LaneActs, out: &mut [f32]) {
    assert!(suits(w) && acts.cols == w.cols && out.len() >= acts.tokens * w.rows);
    PRODUCTS.set(PRODUCTS.get() + 1);
    let out = Shared(out.as_mut_ptr());
    let next = AtomicUsize::new(0);
    let blocks = w.rows.div_ceil(ROW_BLOCK);
    team.run(&|_| {
        let mut rows = SignedRows::default();
        loop {
            let block = next.fetch_add(1, Ordering::Relaxed);
            if block >= blocks {
                break;
            }
            let first = block * ROW_BLOCK;
            let n = ROW_BLOCK.min(w.rows - first);
            let rb = w.row_bytes();
            rows.unpack(w.format, &bytes[first * rb..(first + n) * rb], n, w.cols);
            rows.pad_to(n.next_multiple_of(TILE_ROWS));
            // Safety: the CPU has the kernel's features (`suits`), and this
            // block's rows of `out` are written by this thread only.
            unsafe { block_product(w, &rows, acts, first, n, out) };
        }
    });
}

/// One block of rows (`rows`, `n` of them real, from `first`) times every token.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn block_product(
    w: &Matrix,
    rows: &SignedRows,
    acts: &LaneActs,
    first: usize,
    n: usize,
    out: Shared,
) {
    let groups = acts.groups();
    let (len, min) = (unpack::block_len(w.format), unpack::has_min(w.format));
    let mut g = 0;
    while g < groups {
        let two = groups - g >= TILE_GROUPS;
        for r in (0..n).step_by(TILE_ROWS) {
            let out = tiles::Out {
                at: out.get().add(first + r),
                stride: w.rows,
                rows: (n - r).min(TILE_ROWS),
            };
            macro_rules! tile {
                ($j:expr, $l:literal, $min:literal) => {
                    tiles::tile::<TILE_ROWS, $j, $l, $min>(rows, r, acts, g, &out)
                };
            }
            match (len, min, two) {
                (16, _, false) => tile!(1, 16, false),
                (16, _, true) => tile!(TILE_GROUPS, 16, false),
                (_, true, false) => tile!(1, 32, true),
                (_, true, true) => tile!(TILE_GROUPS, 32, true),
                (_, false, false) => tile!(1, 32, false),
                (_, false, true) => tile!(TILE_GROUPS, 32, false),
            }
        }
        g += if two { TILE_GROUPS } else { 1 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::quant::{dot_reference, tests::quantized, tests::FORMATS, QuantizedActs};

    /// Every format, rows that are not a multiple of the row block, token
    /// counts that fill one, two and three lane groups partly, against the
    /// portable dot product of the same 8-bit activations (which differs
    /// only in the order of float additions).
    #[test]
    fn matches_the_portable_dot_products() {
        if !has_fast_kernels() {
            return crate::test_support::skip(
                "cpu::prompt_gemm::matches_the_portable_dot_products",
                "this CPU lacks AVX-512 VNNI",
            );
        }
        let team = Team::new(2);
        let (rows, cols) = (2 * ROW_BLOCK + 5, 768);
        let value = |i: usize| ((i * 7919) % 1009) as f32 / 500.0 - 1.0;
        for &(dtype, format) in FORMATS {
            let (bytes, _) = quantized(dtype, rows, cols, 11);
            let w = Matrix::in_memory(format, rows, cols);
            let rb = w.row_bytes();
            for tokens in [1, 13, 16, 17, 40] {
                let x: Vec<f32> = (0..tokens * cols).map(|i| value(i + 5)).collect();
                let mut acts = QuantizedActs::default();
                acts.quantize_lanes(&x, cols);
                let mut reference = QuantizedActs::default();
                reference.quantize(&x, cols);
                let before = products_run();
                let mut out = vec![f32::NAN; tokens * rows];
                gemm(&team, &w, &bytes, &acts.lanes, &mut out);
                assert_eq!(products_run(), before + 1);
                for t in 0..tokens {
                    for r in 0..rows {
                        let row = &bytes[r * rb..(r + 1) * rb];
                        let want = dot_reference(format, row, &reference, t);
                        let got = out[t * rows + r];
                        assert!(
                            (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                            "{format:?} tokens {tokens} t{t} r{r}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    /// A token's sums are the same bit for bit whatever else is in the
    /// chunk: alone, or the 23rd of 40.
    #[test]
    fn a_token_does_not_depend_on_its_neighbours() {
        if !has_fast_kernels() {
            return crate::test_support::skip(
                "cpu::prompt_gemm::a_token_does_not_depend_on_its_neighbours",
                "this CPU lacks AVX-512 VNNI",
            );
        }
        let team = Team::new(2);
        let (rows, cols) = (21, 512);
        let value = |i: usize| ((i * 7919) % 1009) as f32 / 500.0 - 1.0;
        for &(dtype, format) in FORMATS {
            let (bytes, _) = quantized(dtype, rows, cols, 3);
            let w = Matrix::in_memory(format, rows, cols);
            let tokens = 40;
            let x: Vec<f32> = (0..tokens * cols).map(|i| value(i + 1)).collect();
            let mut all = QuantizedActs::default();
            all.quantize_lanes(&x, cols);
            let mut out_all = vec![0f32; tokens * rows];
            gemm(&team, &w, &bytes, &all.lanes, &mut out_all);
            let mut one = QuantizedActs::default();
            one.quantize_lanes(&x[22 * cols..23 * cols], cols);
            let mut out_one = vec![0f32; rows];
            gemm(&team, &w, &bytes, &one.lanes, &mut out_one);
            assert_eq!(out_one[..], out_all[22 * rows..23 * rows], "{format:?}");
        }
    }
}
