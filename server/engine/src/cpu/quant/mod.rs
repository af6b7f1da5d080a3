//! Quantized weight formats as GGUF stores them, read in place (no copy),
//! and the activations they are multiplied with.
//!
//! Every format is a sequence of blocks; a weight row is a whole number of
//! blocks. `dequantize_row` is the plain reference; the kernels in `vnni.rs`
//! compute dot products directly on the blocks.

mod act;
mod dequant;
mod lanes;
mod scalar;
#[cfg(target_arch = "x86_64")]
pub mod tiles;
#[cfg(target_arch = "x86_64")]
pub mod unpack;
#[cfg(target_arch = "x86_64")]
mod vnni;

pub use act::QuantizedActs;
pub use dequant::dequantize_row;
pub use lanes::{LaneActs, LANES};
#[cfg(target_arch = "x86_64")]
pub use unpack::SignedRows;

/// The GGUF block formats this path understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    F32,
    Q4_0,
    Q4_1,
    Q5_0,
    Q8_0,
    Q4K,
    Q5K,
    Q6K,
}

impl Format {
    /// From GGUF's type id; `None` for formats this path does not handle.
    pub fn from_ggml(dtype: candle_core::quantized::GgmlDType) -> Option<Self> {
        use candle_core::quantized::GgmlDType as G;
        Some(match dtype {
            G::F32 => Format::F32,
            G::Q4_0 => Format::Q4_0,
            G::Q4_1 => Format::Q4_1,
            G::Q5_0 => Format::Q5_0,
            G::Q8_0 => Format::Q8_0,
            G::Q4K => Format::Q4K,
            G::Q5K => Format::Q5K,
            G::Q6K => Format::Q6K,
            _ => return None,
        })
    }

    /// Values per block.
    pub fn block_len(self) -> usize {
        match self {
            Format::F32 => 1,
            Format::Q4K | Format::Q5K | Format::Q6K => 256,
            _ => 32,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            Format::F32 => 4,
            Format::Q4_0 => 18,
            Format::Q4_1 => 20,
            Format::Q5_0 => 22,
            Format::Q8_0 => 34,
            Format::Q4K => 144,
            Format::Q5K => 176,
            Format::Q6K => 210,
        }
    }

    /// Tokens the kernels take at once for this format: 8, but 4 for Q6_K,
    /// whose kernel runs out of registers at 8 (measured: slower than 4).
    pub fn widest_tile(self) -> usize {
        if self == Format::Q6K {
            4
        } else {
            8
        }
    }

    pub fn row_bytes(self, cols: usize) -> usize {
        cols / self.block_len() * self.block_bytes()
    }
}

/// True when this CPU has the instructions the fast kernels use
/// (AVX-512 VNNI); elsewhere the portable kernels run.
pub fn has_fast_kernels() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        vnni::available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Dot products of one weight row with `T` quantized activation rows (a
/// tile: the row's blocks are decoded once for all of them).
pub fn dot_tile<const T: usize>(
    format: Format,
    row: &[u8],
    acts: &[&QuantizedActs; T],
    act_rows: [usize; T],
) -> [f32; T] {
    #[cfg(target_arch = "x86_64")]
    if vnni::available() {
        // Safety: the CPU has the features the kernels are compiled for.
        return unsafe { vnni::dot_tile(format, row, acts, act_rows) };
    }
    scalar::dot_tile(format, row, acts, act_rows)
}

/// The portable dot product, also the reference the fast kernels are tested against.
pub fn dot_reference(format: Format, row: &[u8], acts: &QuantizedActs, act_row: usize) -> f32 {
    scalar::dot_tile::<1>(format, row, &[acts], [act_row])[0]
}

#[inline]
pub(crate) fn f16_at(bytes: &[u8], at: usize) -> f32 {
    half::f16::from_bits(u16::from_le_bytes([bytes[at], bytes[at + 1]])).to_f32()
}

/// Q4_K's packed 6-bit scale and min of sub-block `j`.
#[inline]
pub(crate) fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

#[cfg(test)]
pub(crate) mod tests;
