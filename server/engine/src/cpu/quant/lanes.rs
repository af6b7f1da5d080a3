//! Activations laid out for the prompt kernel (`tiles.rs`): sixteen tokens
//! side by side, so one 512-bit register holds four values of each of them
//! and a broadcast weight multiplies all sixteen at once. Made from the
//! same 8-bit quantization the single-token kernels use, so a prompt and a
//! decode step see the same activations.

use super::QuantizedActs;

/// Tokens per lane group (one 512-bit register of 32-bit lanes).
pub const LANES: usize = 16;

/// A chunk's quantized activations, sixteen tokens to a group.
#[derive(Default)]
pub struct LaneActs {
    pub cols: usize,
    pub tokens: usize,
    /// Blocks of 32 per token.
    pub blocks: usize,
    /// `[group][block][quad][lane][4]`: each group's tokens, four values of
    /// each per 64 bytes, as unsigned bytes (the value plus 128, the form
    /// `vpdpbusd` takes). Lanes past the last token hold zeros (128).
    pub q: Vec<u8>,
    /// `[group][block][lane]`: each block's scale (0 past the last token).
    pub d: Vec<f32>,
    /// `[group][block][lane]`: each block's scale times the sum of its
    /// values, for formats with a per-block minimum.
    pub dsum: Vec<f32>,
}

impl LaneActs {
    /// Groups of sixteen tokens.
    pub fn groups(&self) -> usize {
        self.tokens.div_ceil(LANES)
    }

    /// Lays out the first `tokens` rows of `acts`.
    pub fn fill(&mut self, acts: &QuantizedActs, tokens: usize) {
        let cols = acts.cols;
        let blocks = cols / 32;
        self.cols = cols;
        self.tokens = tokens;
        self.blocks = blocks;
        let groups = self.groups();
        self.q.clear();
        self.q.resize(groups * blocks * 32 * LANES, 128);
        self.d.clear();
        self.d.resize(groups * blocks * LANES, 0.0);
        self.dsum.clear();
        self.dsum.resize(groups * blocks * LANES, 0.0);
        for t in 0..tokens {
            let (g, lane) = (t / LANES, t % LANES);
            let first = acts.row_block(t);
            for b in 0..blocks {
                let src = &acts.qs[(first + b) * 32..(first + b + 1) * 32];
                let at = (g * blocks + b) * 32 * LANES;
                for quad in 0..8 {
                    let to = at + (quad * LANES + lane) * 4;
                    for i in 0..4 {
                        self.q[to + i] = (src[quad * 4 + i] as u8) ^ 0x80;
                    }
                }
                let s = (g * blocks + b) * LANES + lane;
                self.d[s] = acts.d[first + b];
                self.dsum[s] = acts.dsum[first + b];
            }
        }
    }
}
