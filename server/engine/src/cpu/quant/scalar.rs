//! Portable dot products: dequantize the row, multiply by the dequantized
//! activations. Slow, obviously right; the kernels are checked against it.

use super::{dequantize_row, Format, QuantizedActs};

pub fn dot_tile<const T: usize>(
    format: Format,
    row: &[u8],
    acts: &[&QuantizedActs; T],
    act_rows: [usize; T],
) -> [f32; T] {
    let cols = acts[0].cols;
    let mut w = vec![0f32; cols];
    dequantize_row(format, row, &mut w);
    let mut out = [0f32; T];
    for t in 0..T {
        let a = acts[t];
        let start = act_rows[t] * cols;
        let mut sum = 0f64;
        for (i, wi) in w.iter().enumerate() {
            let block = (start + i) / 32;
            sum += (*wi as f64) * (a.d[block] as f64) * (a.qs[start + i] as f64);
        }
        out[t] = sum as f32;
    }
    out
}
