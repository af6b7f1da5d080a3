//! Activations quantized to 8 bits in blocks of 32 (like llama.cpp's Q8_1),
//! so that weight-activation dot products run on integers.

use super::LaneActs;

/// Several rows of activations, each quantized in blocks of 32.
pub struct QuantizedActs {
    pub cols: usize,
    /// `rows × cols` quantized values.
    pub qs: Vec<i8>,
    /// One scale per block.
    pub d: Vec<f32>,
    /// Per block: the sum of its 32 quantized values.
    pub sum: Vec<i32>,
    /// Per block: the sums of each 4 consecutive values (8 per block), for
    /// formats with a per-16 offset.
    pub sum4: Vec<[i32; 8]>,
    /// Per block: `sum` as f32, and `d * sum` (the block's dequantized sum).
    pub sumf: Vec<f32>,
    pub dsum: Vec<f32>,
    /// `qs` regrouped for the 32-value formats' kernels: for each group of
    /// four blocks of a row, the first halves of the four blocks (64 bytes),
    /// then the second halves; the lane order in which a 512-bit register
    /// of packed nibbles unpacks, so the kernels never shuffle per token.
    /// Blocks after a row's last whole group keep their order.
    pub nib: Vec<i8>,
    /// `d` spread over the lanes the kernels multiply: each block's scale
    /// four times.
    pub d4: Vec<f32>,
    /// Each block's scale eight times (the K-quant kernels, two blocks per
    /// register), in block order, and in `kq` order.
    pub d8: Vec<f32>,
    pub d8k: Vec<f32>,
    /// `qs` for Q4_K's nibbles: each group of four blocks as blocks 0, 2,
    /// 1, 3, since a register of Q4_K's packed nibbles unpacks into
    /// sub-blocks 0 and 2 (low nibbles) and 1 and 3 (high).
    pub kq: Vec<i8>,
    /// Per block: `d` times each of `sum4`, for Q6_K's offset of 32 (which
    /// has a scale per 16 values).
    pub dsum4: Vec<f32>,
    /// The same values sixteen tokens to a register, for the prompt
    /// kernel (filled by `quantize_lanes` only).
    pub lanes: LaneActs,
}

impl QuantizedActs {
    pub fn new() -> Self {
        Self {
            cols: 0,
            qs: Vec::new(),
            d: Vec::new(),
            sum: Vec::new(),
            sum4: Vec::new(),
            sumf: Vec::new(),
            dsum: Vec::new(),
            nib: Vec::new(),
            d4: Vec::new(),
            d8: Vec::new(),
            d8k: Vec::new(),
            kq: Vec::new(),
            dsum4: Vec::new(),
            lanes: LaneActs::default(),
        }
    }

    /// Quantizes `rows` rows of `cols` values (`cols` a multiple of 32),
    /// reusing the buffers.
    pub fn quantize(&mut self, x: &[f32], cols: usize) {
        self.quantize_for(x, cols, true, false);
    }

    /// Quantizes `x` as [`quantize`](Self::quantize) does and lays it out
    /// for the prompt kernel (`lanes`) instead of the single-token ones.
    pub fn quantize_lanes(&mut self, x: &[f32], cols: usize) {
        self.quantize_for(x, cols, false, true);
    }

    /// Quantizes `x` once and lays it out for the per-row kernels
    /// (`per_row`), the prompt kernel (`lanes`), or both.
    pub fn quantize_for(&mut self, x: &[f32], cols: usize, per_row: bool, lanes: bool) {
        self.quantize_blocks(x, cols);
        if per_row {
            self.regroup(x.len() / 32);
        }
        if lanes {
            let mut layout = std::mem::take(&mut self.lanes);
            layout.fill(self, x.len() / cols.max(1));
            self.lanes = layout;
        }
    }

    /// Each block's values, scale and sums.
    fn quantize_blocks(&mut self, x: &[f32], cols: usize) {
        debug_assert_eq!(cols % 32, 0);
        let blocks = x.len() / 32;
        self.cols = cols;
        self.qs.resize(x.len(), 0);
        self.d.resize(blocks, 0.0);
        self.sum.resize(blocks, 0);
        self.sum4.resize(blocks, [0; 8]);
        self.sumf.resize(blocks, 0.0);
        self.dsum.resize(blocks, 0.0);
        #[cfg(target_arch = "x86_64")]
        if super::has_fast_kernels() {
            // Safety: the CPU has AVX-512 (F, BW, VL) and the buffers hold
            // `blocks` blocks.
            unsafe { super::vnni::quantize_blocks(x, self) };
            return;
        }
        self.portable_blocks(x);
    }

    /// The blocks as the vector code computes them, on any CPU.
    pub(crate) fn portable_blocks(&mut self, x: &[f32]) {
        for (b, chunk) in x.chunks_exact(32).enumerate() {
            let amax = chunk.iter().fold(0f32, |m, v| m.max(v.abs()));
            let d = amax / 127.0;
            let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
            let qs = &mut self.qs[b * 32..b * 32 + 32];
            let mut sum4 = [0i32; 8];
            for (i, (q, v)) in qs.iter_mut().zip(chunk).enumerate() {
                // To nearest even, as the vector conversion rounds.
                *q = (v * inv).round_ties_even() as i8;
                sum4[i / 4] += *q as i32;
            }
            self.d[b] = d;
            self.sum[b] = sum4.iter().sum();
            self.sum4[b] = sum4;
            self.sumf[b] = self.sum[b] as f32;
            self.dsum[b] = d * self.sumf[b];
        }
    }

    /// Fills the kernels' layouts (`nib`, `kq`, the spread scales) from
    /// `qs`, `d` and `sum4`.
    fn regroup(&mut self, blocks: usize) {
        self.nib.resize(self.qs.len(), 0);
        self.kq.resize(self.qs.len(), 0);
        self.d4.resize(blocks * 4, 0.0);
        self.d8.resize(blocks * 8, 0.0);
        self.d8k.resize(blocks * 8, 0.0);
        self.dsum4.resize(blocks * 8, 0.0);
        for (b, &d) in self.d.iter().enumerate() {
            self.d4[b * 4..b * 4 + 4].fill(d);
            self.d8[b * 8..b * 8 + 8].fill(d);
            for (k, s) in self.sum4[b].iter().enumerate() {
                self.dsum4[b * 8 + k] = d * *s as f32;
            }
        }
        // Q4_K's order within each group of four: blocks 0, 2, 1, 3.
        for group in 0..blocks / 4 {
            for (slot, from) in [0, 2, 1, 3].into_iter().enumerate() {
                let (to, src) = (group * 4 + slot, group * 4 + from);
                self.kq[to * 32..to * 32 + 32].copy_from_slice(&self.qs[src * 32..src * 32 + 32]);
                self.d8k[to * 8..to * 8 + 8].fill(self.d[src]);
            }
        }
        let per_row = (self.cols / 32).max(1);
        for row in 0..blocks / per_row {
            let first = row * per_row;
            let groups = per_row / 4;
            for g in 0..groups {
                let base = (first + g * 4) * 32;
                for i in 0..4 {
                    let block = &self.qs[base + i * 32..base + i * 32 + 32];
                    self.nib[base + i * 16..base + i * 16 + 16].copy_from_slice(&block[..16]);
                    self.nib[base + 64 + i * 16..base + 64 + i * 16 + 16]
                        .copy_from_slice(&block[16..]);
                }
            }
            let tail = (first + groups * 4) * 32..(first + per_row) * 32;
            self.nib[tail.clone()].copy_from_slice(&self.qs[tail]);
        }
    }

    /// The block index where row `row` starts.
    pub fn row_block(&self, row: usize) -> usize {
        row * self.cols / 32
    }
}

impl Default for QuantizedActs {
    fn default() -> Self {
        Self::new()
    }
}
