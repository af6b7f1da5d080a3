//! Weight matrices times 8-bit activations on the integer kernels, on all
//! cores: rows are handed out in chunks to the team's members; each row is
//! multiplied with up to eight tokens at once so its decoded blocks serve
//! all of them. Several matrices that read the same activations (q, k and v;
//! gate and up) go in one team step, which halves the steps per layer.

use super::quant::{dot_tile, QuantizedActs};
use super::team::Team;
use super::weights::Matrix;

/// A raw pointer that threads may write through, each to rows of its own.
#[derive(Clone, Copy)]
pub(super) struct Shared(pub *mut f32);
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    /// Through a method, so closures capture the whole (Send) wrapper.
    pub fn get(self) -> *mut f32 {
        self.0
    }
}

/// One matrix of a (possibly fused) product: `out[t * w.rows + r] =
/// Σ_c W[r][c] · x[t][c]`. `bytes` are the matrix's bytes (see
/// `WeightFile::bytes`).
pub struct Product<'a> {
    pub w: &'a Matrix,
    pub bytes: &'a [u8],
    pub out: &'a mut [f32],
}

/// Rows handed out at a time: enough chunks to balance the members, few
/// enough that handing them out costs nothing.
fn chunk_rows(rows: usize, members: usize) -> usize {
    (rows / (members * 8)).clamp(16, 512)
}

/// Every product of `products` for the `tokens` quantized rows in `acts`,
/// in one team step.
pub fn matmul(team: &Team, products: &mut [Product], acts: &QuantizedActs, tokens: usize) {
    struct Part<'a> {
        w: &'a Matrix,
        bytes: &'a [u8],
        out: Shared,
        chunk: usize,
        first_unit: usize,
    }
    let mut units = 0;
    let parts: Vec<Part> = products
        .iter_mut()
        .map(|p| {
            debug_assert_eq!(acts.cols, p.w.cols);
            assert!(p.out.len() >= tokens * p.w.rows);
            let chunk = chunk_rows(p.w.rows, team.size());
            let part = Part {
                w: p.w,
                bytes: p.bytes,
                out: Shared(p.out.as_mut_ptr()),
                chunk,
                first_unit: units,
            };
            units += p.w.rows.div_ceil(chunk);
            part
        })
        .collect();
    team.for_each_chunk(units, 1, &|unit, _| {
        let part = parts
            .iter()
            .rev()
            .find(|p| p.first_unit <= unit)
            .expect("unit 0 is in the first part");
        let start = (unit - part.first_unit) * part.chunk;
        let end = (start + part.chunk).min(part.w.rows);
        rows(part.w, part.bytes, acts, tokens, part.out, start..end);
    });
}

/// Rows `range` of one product.
fn rows(
    w: &Matrix,
    bytes: &[u8],
    acts: &QuantizedActs,
    tokens: usize,
    out: Shared,
    range: std::ops::Range<usize>,
) {
    let (rows, rb) = (w.rows, w.row_bytes());
    for r in range {
        let row = &bytes[r * rb..(r + 1) * rb];
        let mut t = 0;
        while w.format.widest_tile() >= 8 && t + 8 <= tokens {
            let v = dot_tile::<8>(w.format, row, &[acts; 8], std::array::from_fn(|k| t + k));
            for (k, value) in v.into_iter().enumerate() {
                // Safety: as below.
                unsafe { *out.get().add((t + k) * rows + r) = value };
            }
            t += 8;
        }
        while t + 4 <= tokens {
            let v = dot_tile::<4>(w.format, row, &[acts; 4], [t, t + 1, t + 2, t + 3]);
            for (k, value) in v.into_iter().enumerate() {
                // Safety: (t + k, r) is written by this chunk only, and
                // `matmul` checked that `out` holds `tokens × rows` values.
                unsafe { *out.get().add((t + k) * rows + r) = value };
            }
            t += 4;
        }
        while t < tokens {
            let v = dot_tile::<1>(w.format, row, &[acts], [t]);
            unsafe { *out.get().add(t * rows + r) = v[0] };
            t += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::quant::tests::{quantized, FORMATS};

    /// Two fused matrices of odd sizes give what each gives alone, row for
    /// row, bit for bit as the single-token kernel computes it, in every
    /// format and across tiles of 8, 4 and 1 tokens (13 = 8 + 4 + 1): a
    /// sequence's numbers never depend on what it is batched with.
    #[test]
    fn fused_products_match_single_rows() {
        let team = Team::new(2);
        let cols = 512;
        let value = |i: usize| ((i * 7919) % 1009) as f32 / 500.0 - 1.0;
        for &(dtype, format) in FORMATS {
            let make = |rows: usize, seed: u64| quantized(dtype, rows, cols, seed).0;
            let (rows_a, rows_b) = (301, 45);
            let (bytes_a, bytes_b) = (make(rows_a, 1), make(rows_b, 2));
            let (wa, wb) = (
                Matrix::in_memory(format, rows_a, cols),
                Matrix::in_memory(format, rows_b, cols),
            );
            let tokens = 13;
            let x: Vec<f32> = (0..tokens * cols).map(|i| value(i + 3)).collect();
            let mut acts = QuantizedActs::default();
            acts.quantize(&x, cols);
            let (mut out_a, mut out_b) = (
                vec![f32::NAN; tokens * rows_a],
                vec![f32::NAN; tokens * rows_b],
            );
            matmul(
                &team,
                &mut [
                    Product {
                        w: &wa,
                        bytes: &bytes_a,
                        out: &mut out_a,
                    },
                    Product {
                        w: &wb,
                        bytes: &bytes_b,
                        out: &mut out_b,
                    },
                ],
                &acts,
                tokens,
            );
            for (w, bytes, out) in [(&wa, &bytes_a, &out_a), (&wb, &bytes_b, &out_b)] {
                let rb = w.row_bytes();
                for r in 0..w.rows {
                    for t in 0..tokens {
                        let row = &bytes[r * rb..(r + 1) * rb];
                        let alone = dot_tile::<1>(w.format, row, &[&acts], [t])[0];
                        assert_eq!(out[t * w.rows + r], alone, "{format:?} row {r} token {t}");
                    }
                }
            }
        }
    }
}
