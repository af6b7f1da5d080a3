//! The fast path: the reference (`distribution.rs`) sorts every candidate
//! (151,936 for Qwen) and takes each one's exponential with libm, ~5 ms a
//! token while the model waits. Here every weight comes from one
//! vectorized pass (an exponential accurate to 1e-12, against f32
//! probabilities whose last bit is 6e-8), and only the candidates a choice
//! can reach are sorted:
//!
//! - with top_p, the most likely tokens down to where the nucleus closes
//!   (found by lowering a weight floor until their mass reaches top_p);
//! - with min_p alone, the tokens above its bar;
//! - with neither, the whole distribution is drawn from: the reference's
//!   running total over every probability in descending order is
//!   reproduced exactly by summing, in that order, the tokens of
//!   probability ≥ 2^-27 — every smaller one is below half the last bit of
//!   a total that is already near 1, so adding it changes nothing;
//! - with top_k, the k best by a one-pass selection.
//!
//! The choices are the reference's: the same candidates in the same order
//! with the same f32 probabilities, except where a weight's last bit
//! differs from libm's (about 1 in 30,000 weights) and a threshold or the
//! random draw falls within that bit (about 1e-7 of draws). The sampler's
//! tests check them seed for seed. What the head cannot settle (a draw
//! that lands in the tail, typical_p over the whole vocabulary) goes to the
//! reference with the same random draw.

use rand::{rngs::StdRng, Rng};

use super::{
    distribution::{softmax, truncate_min_p, truncate_top_p, truncate_typical},
    pick,
};
use crate::Sampling;

/// What the head decided.
pub(super) enum Outcome {
    Token(u32),
    /// The full distribution must decide, with this uniform draw if one
    /// was already made.
    Full(Option<f32>),
}

/// Buffers kept between tokens (a vocabulary's worth of weights).
#[derive(Default)]
pub(super) struct Scratch {
    weights: Vec<f64>,
    picked: Vec<(u32, f32)>,
    sorted: Vec<(u32, f32)>,
}

/// Weight floors tried in turn for top_p (relative to the best token).
const FLOORS: [f64; 5] = [2.5e-3, 4.5e-5, 8.3e-7, 1.5e-8, 2.8e-10];

pub(super) fn sample(
    params: &Sampling,
    logits: &[f32],
    rng: &mut StdRng,
    scratch: &mut Scratch,
) -> Outcome {
    let (best, finite) = best_finite(logits);
    if finite == 0 {
        return Outcome::Full(None);
    }
    let k = params.top_k as usize;
    if k > 0 && k < finite {
        return top_k(params, logits, k, rng, scratch);
    }
    // typical_p over the whole vocabulary needs all of it.
    if params.typical_p < 1.0 && params.top_p >= 1.0 {
        return Outcome::Full(None);
    }
    let t = (params.temperature as f64).max(f64::MIN_POSITIVE);
    let total = weigh(logits, best as f64, t, &mut scratch.weights);
    let weighed = Weighed {
        best: best as f64,
        t,
        total,
    };
    let (candidates, probs) = if params.top_p < 1.0 {
        let Some((mut c, mut p)) = nucleus(logits, &weighed, params.top_p, scratch) else {
            return Outcome::Full(None);
        };
        truncate_top_p(&mut c, &mut p, params.top_p);
        truncate_typical(&mut c, &mut p, params.typical_p);
        truncate_min_p(&mut c, &mut p, params.min_p);
        (c, p)
    } else if params.min_p > 0.0 {
        // Every token min_p keeps weighs at least min_p of the best (a
        // little slack for the weights' last bits).
        let floor = params.min_p as f64 * (1.0 - 1e-6);
        let (mut c, mut p) = above(logits, &weighed, floor, scratch);
        truncate_min_p(&mut c, &mut p, params.min_p);
        (c, p)
    } else {
        return whole(logits, &weighed, rng, scratch);
    };
    if candidates.is_empty() {
        return Outcome::Full(None);
    }
    Outcome::Token(pick(&candidates, &probs, rng.random::<f32>()))
}

/// Every candidate's weight e^((l - best) / t) (0 for non-finite logits),
/// and their sum: the softmax's denominator. The weights are one loop
/// without a running sum so that it vectorizes; the sum keeps eight
/// partial totals for the same reason.
fn weigh(logits: &[f32], best: f64, t: f64, weights: &mut Vec<f64>) -> f64 {
    // Multiplying by 1/t moves x by at most an ulp: a weight by 1e-13.
    let scale = 1.0 / t;
    weights.clear();
    weights.extend(logits.iter().map(|&l| {
        let x = (l as f64 - best) * scale;
        if l.is_finite() {
            exp_below_zero(x)
        } else {
            0.0
        }
    }));
    let mut lanes = [0.0f64; 8];
    let chunks = weights.chunks_exact(8);
    let rest: f64 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (lane, w) in lanes.iter_mut().zip(chunk) {
            *lane += w;
        }
    }
    lanes.iter().sum::<f64>() + rest
}

/// The largest finite logit and how many are finite, in one pass of
/// eight lanes.
fn best_finite(logits: &[f32]) -> (f32, usize) {
    let mut best = [f32::NEG_INFINITY; 8];
    let mut finite = [0usize; 8];
    let chunks = logits.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for ((b, n), &l) in best.iter_mut().zip(finite.iter_mut()).zip(chunk) {
            let ok = l.is_finite();
            *b = if ok && l > *b { l } else { *b };
            *n += usize::from(ok);
        }
    }
    let mut top = best.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut count: usize = finite.iter().sum();
    for &l in rest.iter().filter(|l| l.is_finite()) {
        top = top.max(l);
        count += 1;
    }
    (top, count)
}

/// What [`weigh`] measured: the best logit, the temperature and the
/// softmax's denominator.
struct Weighed {
    best: f64,
    t: f64,
    total: f64,
}

/// The candidates weighing at least `floor` (relative to the best), by
/// descending logit, with their probabilities. The logits are screened
/// first, sixteen at a time against the logit that weight implies (a
/// little lower, for the weights' last bits), so that only the few
/// blocks holding a candidate are looked at one by one.
fn above(logits: &[f32], weighed: &Weighed, floor: f64, scratch: &mut Scratch) -> Ranked {
    let reach = weighed.t * floor.ln();
    let cut = (weighed.best + reach - 1e-6 * (1.0 + reach.abs() + weighed.best.abs())) as f32;
    let cut = if cut.is_nan() { f32::NEG_INFINITY } else { cut };
    scratch.picked.clear();
    const BLOCK: usize = 16;
    for (b, block) in logits.chunks(BLOCK).enumerate() {
        if !block.iter().fold(false, |any, &l| any | (l >= cut)) {
            continue;
        }
        for (j, &l) in block.iter().enumerate() {
            let i = b * BLOCK + j;
            let w = scratch.weights[i];
            if l >= cut && w >= floor && w > 0.0 {
                scratch.picked.push((i as u32, l));
            }
        }
    }
    sort_by_logit(&mut scratch.picked, &mut scratch.sorted);
    let probs = scratch
        .picked
        .iter()
        .map(|c| (scratch.weights[c.0 as usize] / weighed.total) as f32)
        .collect();
    (scratch.picked.clone(), probs)
}

/// Candidates (token, logit), most likely first, and their probabilities.
type Ranked = (Vec<(u32, f32)>, Vec<f32>);

/// The most likely candidates down to where top_p's running sum is
/// reached (the reference's nucleus and what follows it within the floor).
fn nucleus(logits: &[f32], weighed: &Weighed, top_p: f32, scratch: &mut Scratch) -> Option<Ranked> {
    for floor in FLOORS {
        let (c, p) = above(logits, weighed, floor, scratch);
        let mut sum = 0.0f32;
        if p.iter().any(|p| {
            sum += p;
            sum >= top_p
        }) {
            return Some((c, p));
        }
    }
    None
}

/// Below this a probability cannot move the reference's running total once
/// that total passes 1/2 (half of f32's last bit there is 2^-25).
const NEGLIGIBLE: f64 = 1.0 / (1u64 << 27) as f64;

/// No truncation: the draw goes over the whole distribution.
fn whole(logits: &[f32], weighed: &Weighed, rng: &mut StdRng, scratch: &mut Scratch) -> Outcome {
    let (candidates, probs) = above(logits, weighed, NEGLIGIBLE * weighed.total, scratch);
    let mass: f32 = probs.iter().sum();
    if mass < 0.5 {
        return Outcome::Full(None);
    }
    let u = rng.random::<f32>();
    let mut r = u * mass;
    for (c, p) in candidates.iter().zip(&probs) {
        if r < *p {
            return Outcome::Token(c.0);
        }
        r -= p;
    }
    // In the tail: the reference walks it in its order.
    Outcome::Full(Some(u))
}

/// top_k: the k best by one pass (a sorted buffer of k, most candidates
/// rejected by one comparison), then the reference's softmax over them.
fn top_k(
    params: &Sampling,
    logits: &[f32],
    k: usize,
    rng: &mut StdRng,
    scratch: &mut Scratch,
) -> Outcome {
    let best = &mut scratch.picked;
    best.clear();
    for (i, &l) in logits.iter().enumerate() {
        if !l.is_finite() || (best.len() == k && l <= best[k - 1].1) {
            continue;
        }
        let at = best.partition_point(|c| c.1 >= l);
        if best.len() == k {
            best.pop();
        }
        best.insert(at, (i as u32, l));
    }
    let mut candidates = best.clone();
    let mut probs = softmax(&candidates, params.temperature);
    truncate_top_p(&mut candidates, &mut probs, params.top_p);
    truncate_typical(&mut candidates, &mut probs, params.typical_p);
    truncate_min_p(&mut candidates, &mut probs, params.min_p);
    if candidates.is_empty() {
        return Outcome::Full(None);
    }
    Outcome::Token(pick(&candidates, &probs, rng.random::<f32>()))
}

/// Sorts by descending logit (ties by index) with an LSD radix sort on the
/// logits' bits: a few passes instead of n log n comparisons.
fn sort_by_logit(items: &mut Vec<(u32, f32)>, buffer: &mut Vec<(u32, f32)>) {
    if items.len() < 256 {
        items.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        return;
    }
    // Ascending keys for descending logits.
    let key = |l: f32| {
        let bits = l.to_bits();
        let ascending = if bits >> 31 == 1 {
            !bits
        } else {
            bits | 0x8000_0000
        };
        !ascending
    };
    buffer.clear();
    buffer.resize(items.len(), (0, 0.0));
    for shift in [0u32, 11, 22] {
        let mut counts = [0usize; 2048];
        for c in items.iter() {
            counts[((key(c.1) >> shift) & 0x7FF) as usize] += 1;
        }
        let mut start = 0;
        for count in counts.iter_mut() {
            let n = *count;
            *count = start;
            start += n;
        }
        for c in items.iter() {
            let digit = ((key(c.1) >> shift) & 0x7FF) as usize;
            buffer[counts[digit]] = *c;
            counts[digit] += 1;
        }
        std::mem::swap(items, buffer);
    }
}

/// e^x for x ≤ 0, relative error below 1e-12, written to vectorize: x =
/// k·ln 2 + r with |r| ≤ ln2/2, a degree-11 polynomial for e^r, 2^k from
/// the exponent bits. Below -708 it is 0 (libm gives a subnormal there,
/// which no sum of these can see).
fn exp_below_zero(x: f64) -> f64 {
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    // Adding and taking away 1.5·2^52 rounds to the nearest integer.
    const ROUND: f64 = 6_755_399_441_055_744.0;
    let clamped = x.max(-708.0);
    let shifted = clamped * std::f64::consts::LOG2_E + ROUND;
    let k = shifted - ROUND;
    let r = (clamped - k * LN2_HI) - k * LN2_LO;
    // The Taylor series to r^11 (remainder below 1e-14 for |r| ≤ ln2/2),
    // by Estrin's scheme: four dependent steps instead of eleven.
    const C: [f64; 12] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5_040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
    ];
    let (r2, r4) = (r * r, r * r * (r * r));
    let pair = |i: usize| C[i] + C[i + 1] * r;
    let low = pair(0) + pair(2) * r2 + (pair(4) + pair(6) * r2) * r4;
    let high = pair(8) + pair(10) * r2;
    let p = low + high * (r4 * r4);
    // k sits in the low bits of `shifted` (read there rather than by a
    // float-to-integer conversion, which does not vectorize).
    let k_bits = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let scale = f64::from_bits(k_bits.wrapping_add(1023) << 52);
    if x > -708.0 {
        p * scale
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_exponential_is_accurate() {
        let mut worst = 0.0f64;
        let mut x = -700.0f64;
        while x <= 0.0 {
            let exact = x.exp();
            let fast = exp_below_zero(x);
            worst = worst.max(((fast - exact) / exact).abs());
            x += 0.00731;
        }
        assert!(worst < 1e-12, "relative error {worst:e}");
        assert_eq!(exp_below_zero(-800.0), 0.0);
        assert_eq!(exp_below_zero(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp_below_zero(0.0), 1.0);
    }

    #[test]
    fn the_radix_sort_orders_by_descending_logit() {
        let mut items: Vec<(u32, f32)> = (0..5000u32)
            .map(|i| (i, ((i * 7919) % 1013) as f32 / 37.0 - 13.0))
            .collect();
        items.push((5000, -0.0));
        items.push((5001, 0.0));
        let mut expected = items.clone();
        expected.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut buffer = Vec::new();
        sort_by_logit(&mut items, &mut buffer);
        let values = |v: &[(u32, f32)]| v.iter().map(|c| c.1).collect::<Vec<_>>();
        assert_eq!(values(&items), values(&expected));
    }
}
