//! Weight rows back to f32, block by block, exactly as GGUF defines each
//! format (llama.cpp's `dequantize_row_*`). The reference for every kernel.

use super::{f16_at, scale_min_k4, Format};

/// Dequantizes one row (`out.len()` values) stored in `row`.
pub fn dequantize_row(format: Format, row: &[u8], out: &mut [f32]) {
    let bl = format.block_len();
    let bb = format.block_bytes();
    for (b, y) in out.chunks_exact_mut(bl).enumerate() {
        let x = &row[b * bb..(b + 1) * bb];
        match format {
            Format::F32 => y[0] = f32::from_le_bytes([x[0], x[1], x[2], x[3]]),
            Format::Q4_0 => {
                let d = f16_at(x, 0);
                for j in 0..16 {
                    y[j] = ((x[2 + j] & 0xF) as f32 - 8.0) * d;
                    y[j + 16] = ((x[2 + j] >> 4) as f32 - 8.0) * d;
                }
            }
            Format::Q4_1 => {
                let (d, m) = (f16_at(x, 0), f16_at(x, 2));
                for j in 0..16 {
                    y[j] = (x[4 + j] & 0xF) as f32 * d + m;
                    y[j + 16] = (x[4 + j] >> 4) as f32 * d + m;
                }
            }
            Format::Q5_0 => {
                let d = f16_at(x, 0);
                let qh = u32::from_le_bytes([x[2], x[3], x[4], x[5]]);
                for j in 0..16 {
                    let h0 = ((qh >> j) & 1) << 4;
                    let h1 = ((qh >> (j + 16)) & 1) << 4;
                    y[j] = (((x[6 + j] & 0xF) as u32 | h0) as f32 - 16.0) * d;
                    y[j + 16] = (((x[6 + j] >> 4) as u32 | h1) as f32 - 16.0) * d;
                }
            }
            Format::Q8_0 => {
                let d = f16_at(x, 0);
                for j in 0..32 {
                    y[j] = x[2 + j] as i8 as f32 * d;
                }
            }
            Format::Q4K => {
                let (d, dmin) = (f16_at(x, 0), f16_at(x, 2));
                let (scales, qs) = (&x[4..16], &x[16..144]);
                for g in 0..4 {
                    let (sc0, m0) = scale_min_k4(2 * g, scales);
                    let (sc1, m1) = scale_min_k4(2 * g + 1, scales);
                    for l in 0..32 {
                        let q = qs[32 * g + l];
                        y[64 * g + l] = d * sc0 as f32 * (q & 0xF) as f32 - dmin * m0 as f32;
                        y[64 * g + 32 + l] = d * sc1 as f32 * (q >> 4) as f32 - dmin * m1 as f32;
                    }
                }
            }
            Format::Q5K => {
                // Q4_K's layout with a fifth bit per value: sub-block j's in
                // bit j of `qh[l]`.
                let (d, dmin) = (f16_at(x, 0), f16_at(x, 2));
                let (scales, qh, qs) = (&x[4..16], &x[16..48], &x[48..176]);
                for g in 0..4 {
                    let (sc0, m0) = scale_min_k4(2 * g, scales);
                    let (sc1, m1) = scale_min_k4(2 * g + 1, scales);
                    for l in 0..32 {
                        let q = qs[32 * g + l];
                        let h0 = ((qh[l] >> (2 * g)) & 1) << 4;
                        let h1 = ((qh[l] >> (2 * g + 1)) & 1) << 4;
                        y[64 * g + l] = d * sc0 as f32 * ((q & 0xF) | h0) as f32 - dmin * m0 as f32;
                        y[64 * g + 32 + l] =
                            d * sc1 as f32 * ((q >> 4) | h1) as f32 - dmin * m1 as f32;
                    }
                }
            }
            Format::Q6K => {
                let (ql, qh, sc) = (&x[0..128], &x[128..192], &x[192..208]);
                let d = f16_at(x, 208);
                for h in 0..2 {
                    let (ql, qh, sc, y) = (
                        &ql[64 * h..],
                        &qh[32 * h..],
                        &sc[8 * h..],
                        &mut y[128 * h..],
                    );
                    for l in 0..32 {
                        let is = l / 16;
                        let q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i32 - 32;
                        let q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
                        let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
                        let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
                        y[l] = d * (sc[is] as i8) as f32 * q1 as f32;
                        y[l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
                        y[l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
                        y[l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
                    }
                }
            }
        }
    }
}
