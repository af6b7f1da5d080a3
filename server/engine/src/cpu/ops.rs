//! The small per-token operations of a transformer block, written so the
//! compiler vectorizes them.

/// Σ a·b with 16 independent accumulators (vectorizable despite f32
/// addition not being associative).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// RMSNorm of each `dim`-sized row of `x` into `out`, times `weight`.
pub fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let dim = weight.len();
    for (row, out) in x.chunks_exact(dim).zip(out.chunks_exact_mut(dim)) {
        let mean_square = dot(row, row) / dim as f32;
        let scale = 1.0 / (mean_square + eps).sqrt();
        for ((o, v), w) in out.iter_mut().zip(row).zip(weight) {
            *o = v * scale * w;
        }
    }
}

/// `x[t] += b` for each `b.len()`-sized row.
pub fn add_bias(x: &mut [f32], b: &[f32]) {
    for row in x.chunks_exact_mut(b.len()) {
        for (v, bi) in row.iter_mut().zip(b) {
            *v += bi;
        }
    }
}

pub fn add(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// e^x within a few ulp (Cephes' polynomial), in plain arithmetic the
/// compiler vectorizes: libm's `expf` is a call per value, which made the
/// activations a sixth of a Gemma prompt's time. Inputs are clamped to
/// [-87.3, 88], so the result is always a normal finite number.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 in two parts, so that x - n·ln 2 is exact for |n| < 2^9.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.3, 88.0);
    let n = (x * LOG2E + 0.5).floor();
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let p = p * r * r + r + 1.0;
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// `gate = silu(gate) * up`, SwiGLU's product.
pub fn silu_mul(gate: &mut [f32], up: &[f32]) {
    for (g, u) in gate.iter_mut().zip(up) {
        *g = *g / (1.0 + exp(-*g)) * u;
    }
}

/// `gate = gelu(gate) * up` with GELU's tanh approximation (GeGLU, as
/// Gemma's `gelu_pytorch_tanh`), as `x · sigmoid(2·inner)`, which equals
/// `0.5·x·(1 + tanh(inner))`.
pub fn gelu_mul(gate: &mut [f32], up: &[f32]) {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    for (g, u) in gate.iter_mut().zip(up) {
        let x = *g;
        let inner = SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x);
        *g = x / (1.0 + exp(-2.0 * inner)) * u;
    }
}

/// RMSNorm of every `weight.len()`-sized piece of `x` in place (per-head
/// query and key norms).
pub fn rms_norm_in_place(x: &mut [f32], weight: &[f32], eps: f32) {
    let dim = weight.len();
    for piece in x.chunks_exact_mut(dim) {
        let scale = 1.0 / (dot(piece, piece) / dim as f32 + eps).sqrt();
        for (v, w) in piece.iter_mut().zip(weight) {
            *v *= scale * w;
        }
    }
}

/// `cap · tanh(x / cap)`: Gemma's soft cap on logits.
pub fn soft_cap(x: &mut [f32], cap: f32) {
    for v in x.iter_mut() {
        *v = cap * (*v / cap).tanh();
    }
}

/// Softmax in place.
pub fn softmax(x: &mut [f32]) {
    let max = x.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in x.iter_mut() {
        *v *= inv;
    }
}

pub use crate::model_port::arch::RopeStyle;

/// cos and sin of every position's angles, grown as positions are needed.
pub struct RopeTable {
    inv_freq: Vec<f32>,
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl RopeTable {
    /// `scale` divides every frequency (linear rope scaling: 1 for none).
    pub fn new(rope_dim: usize, base: f32, scale: f32) -> Self {
        let inv_freq = (0..rope_dim / 2)
            .map(|i| 1.0 / base.powf(2.0 * i as f32 / rope_dim as f32) / scale)
            .collect();
        Self {
            inv_freq,
            cos: Vec::new(),
            sin: Vec::new(),
        }
    }

    fn ensure(&mut self, positions: usize) {
        let half = self.inv_freq.len();
        for p in self.cos.len() / half..positions {
            for f in &self.inv_freq {
                let angle = p as f32 * f;
                self.cos.push(angle.cos());
                self.sin.push(angle.sin());
            }
        }
    }

    /// Rotates every head of `x` (`heads × head_dim` per token) for tokens at
    /// positions `start..`.
    pub fn apply(
        &mut self,
        x: &mut [f32],
        start: usize,
        heads: usize,
        head_dim: usize,
        style: RopeStyle,
    ) {
        let tokens = x.len() / (heads * head_dim);
        self.ensure(start + tokens);
        let half = self.inv_freq.len();
        for (t, token) in x.chunks_exact_mut(heads * head_dim).enumerate() {
            let (cos, sin) = (
                &self.cos[(start + t) * half..][..half],
                &self.sin[(start + t) * half..][..half],
            );
            for head in token.chunks_exact_mut(head_dim) {
                for i in 0..half {
                    let (a, b) = match style {
                        RopeStyle::Interleaved => (2 * i, 2 * i + 1),
                        RopeStyle::Halves => (i, i + half),
                    };
                    let (x0, x1) = (head[a], head[b]);
                    head[a] = x0 * cos[i] - x1 * sin[i];
                    head[b] = x0 * sin[i] + x1 * cos[i];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_and_norm() {
        let a: Vec<f32> = (0..37).map(|i| i as f32).collect();
        assert_eq!(dot(&a, &a), (0..37).map(|i| (i * i) as f32).sum::<f32>());
        let mut out = vec![0.0; 4];
        rms_norm(&[2.0, 2.0, 2.0, 2.0], &[1.0, 2.0, 3.0, 4.0], 0.0, &mut out);
        assert_eq!(out, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn rope_rotates_by_position() {
        let mut t = RopeTable::new(4, 10_000.0, 1.0);
        let mut x = vec![1.0, 0.0, 1.0, 0.0];
        t.apply(&mut x, 0, 1, 4, RopeStyle::Interleaved);
        assert_eq!(x, vec![1.0, 0.0, 1.0, 0.0], "position 0 is the identity");
        let mut y = vec![1.0, 0.0, 0.0, 0.0];
        t.apply(&mut y, 1, 1, 4, RopeStyle::Halves);
        assert!(
            (y[0] - 1f32.cos()).abs() < 1e-6 && (y[2] - 1f32.sin()).abs() < 1e-6,
            "{y:?}"
        );
    }

    #[test]
    fn exp_matches_libm() {
        let mut worst = 0f32;
        for i in -20_000..20_000 {
            let x = i as f32 * 0.004_3;
            let (got, want) = (exp(x), x.exp());
            worst = worst.max((got - want).abs() / want);
        }
        assert!(worst < 3e-7, "relative error {worst}");
        assert!(exp(-1000.0) > 0.0 && exp(-1000.0) < 1e-37);
        assert!(exp(1000.0).is_finite() && exp(1000.0) > 1e38);
    }

    #[test]
    fn gelu_and_head_norm() {
        let mut g = vec![0.0, 1.0, -1.0, 3.0];
        gelu_mul(&mut g, &[1.0, 1.0, 1.0, 2.0]);
        // Reference values of gelu_pytorch_tanh.
        for (got, want) in g.iter().zip([0.0, 0.841_192, -0.158_808, 2.0 * 2.996_363]) {
            assert!((got - want).abs() < 1e-5, "{g:?}");
        }
        let mut x = vec![2.0, 2.0, 3.0, 3.0];
        rms_norm_in_place(&mut x, &[1.0, 0.5], 0.0);
        assert_eq!(x, vec![1.0, 0.5, 1.0, 0.5]);
        let mut l = vec![0.0, 100.0];
        soft_cap(&mut l, 30.0);
        assert!(l[0] == 0.0 && (l[1] - 30.0 * (100f32 / 30.0).tanh()).abs() < 1e-4);
    }

    #[test]
    fn softmax_sums_to_one() {
        let mut x = vec![1.0, 2.0, 3.0];
        softmax(&mut x);
        assert!((x.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(x[2] > x[1] && x[1] > x[0]);
    }
}
