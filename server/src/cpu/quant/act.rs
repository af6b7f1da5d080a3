//! Activations quantized to 8 bits in blocks of 32 (like llama.cpp's Q8_1),
//! so that weight-activation dot products run on integers.

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
        }
    }

    /// Quantizes `rows` rows of `cols` values (`cols` a multiple of 32),
    /// reusing the buffers.
    pub fn quantize(&mut self, x: &[f32], cols: usize) {
        debug_assert_eq!(cols % 32, 0);
        let blocks = x.len() / 32;
        self.cols = cols;
        self.qs.resize(x.len(), 0);
        self.d.resize(blocks, 0.0);
        self.sum.resize(blocks, 0);
        self.sum4.resize(blocks, [0; 8]);
        self.sumf.resize(blocks, 0.0);
        self.dsum.resize(blocks, 0.0);
        for (b, chunk) in x.chunks_exact(32).enumerate() {
            let amax = chunk.iter().fold(0f32, |m, v| m.max(v.abs()));
            let d = amax / 127.0;
            let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
            let qs = &mut self.qs[b * 32..b * 32 + 32];
            let mut sum4 = [0i32; 8];
            for (i, (q, v)) in qs.iter_mut().zip(chunk).enumerate() {
                *q = (v * inv).round() as i8;
                sum4[i / 4] += *q as i32;
            }
            self.d[b] = d;
            self.sum[b] = sum4.iter().sum();
            self.sum4[b] = sum4;
            self.sumf[b] = self.sum[b] as f32;
            self.dsum[b] = d * self.sumf[b];
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
