//! Weight matrix times activations, on all cores: rows are split between
//! threads; each row is multiplied with up to four tokens at once so its
//! decoded blocks serve all of them.

use rayon::prelude::*;

use super::quant::{dot_tile, QuantizedActs};
use super::weights::Matrix;

/// A raw pointer that threads may write through, each to rows of its own.
#[derive(Clone, Copy)]
struct Shared(*mut f32);
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    /// Through a method, so closures capture the whole (Send) wrapper.
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// `out[t * w.rows + r] = Σ_c W[r][c] · x[t][c]` for the `tokens` quantized
/// rows in `acts`. `bytes` are the matrix's bytes (see `WeightFile::bytes`).
pub fn matmul(w: &Matrix, bytes: &[u8], acts: &QuantizedActs, tokens: usize, out: &mut [f32]) {
    debug_assert_eq!(acts.cols, w.cols);
    debug_assert!(out.len() >= tokens * w.rows);
    let rows = w.rows;
    let rb = w.row_bytes();
    let threads = rayon::current_num_threads().max(1);
    // Enough pieces to balance the cores, big enough to amortise scheduling.
    let chunk = (rows / (threads * 4)).clamp(8, 512);
    let out_ptr = Shared(out.as_mut_ptr());
    (0..rows.div_ceil(chunk)).into_par_iter().for_each(|piece| {
        let end = ((piece + 1) * chunk).min(rows);
        for r in piece * chunk..end {
            let row = &bytes[r * rb..(r + 1) * rb];
            let mut t = 0;
            while t + 4 <= tokens {
                let v = dot_tile::<4>(w.format, row, &[acts; 4], [t, t + 1, t + 2, t + 3]);
                for (k, value) in v.into_iter().enumerate() {
                    // Safety: (t + k, r) is written by this thread only.
                    unsafe { *out_ptr.get().add((t + k) * rows + r) = value };
                }
                t += 4;
            }
            while t < tokens {
                let v = dot_tile::<1>(w.format, row, &[acts], [t]);
                unsafe { *out_ptr.get().add(t * rows + r) = v[0] };
                t += 1;
            }
        }
    });
}
