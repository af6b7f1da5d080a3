//! The distribution over every candidate, as text-generation-webui's
//! samplers shape it: softmax at a temperature, then top_p, typical_p and
//! min_p, each over candidates sorted by descending logit. The sampler's
//! fast path (`head.rs`) must give exactly what these give.

/// Probabilities at `temperature` of candidates sorted by descending
/// logit. The best logit is subtracted before dividing, so however small
/// the temperature the best token keeps probability 1 and the others
/// round to 0 (never inf / inf = NaN).
pub(super) fn softmax(candidates: &[(u32, f32)], temperature: f32) -> Vec<f32> {
    let max = candidates[0].1 as f64;
    let t = (temperature as f64).max(f64::MIN_POSITIVE);
    let exps: Vec<f64> = candidates
        .iter()
        .map(|c| ((c.1 as f64 - max) / t).exp())
        .collect();
    let sum: f64 = exps.iter().sum();
    exps.into_iter().map(|e| (e / sum) as f32).collect()
}

fn keep(candidates: &mut Vec<(u32, f32)>, probs: &mut Vec<f32>, n: usize) {
    candidates.truncate(n.max(1));
    probs.truncate(n.max(1));
}

/// Smallest set of most likely tokens whose probability reaches `top_p`.
pub(super) fn truncate_top_p(candidates: &mut Vec<(u32, f32)>, probs: &mut Vec<f32>, top_p: f32) {
    if top_p >= 1.0 {
        return;
    }
    let mut sum = 0.0;
    let n = probs
        .iter()
        .position(|p| {
            sum += p;
            sum >= top_p
        })
        .map_or(probs.len(), |i| i + 1);
    keep(candidates, probs, n);
}

/// Locally typical sampling: keep the tokens whose surprise is closest to the
/// distribution's entropy, up to `typical_p` of the mass.
pub(super) fn truncate_typical(
    candidates: &mut Vec<(u32, f32)>,
    probs: &mut Vec<f32>,
    typical_p: f32,
) {
    if typical_p >= 1.0 {
        return;
    }
    let total: f32 = probs.iter().sum();
    let entropy: f32 = probs
        .iter()
        .map(|p| p / total)
        .filter(|p| *p > 0.0)
        .map(|p| -p * p.ln())
        .sum();
    let mut order: Vec<usize> = (0..probs.len()).collect();
    let surprise_gap = |i: usize| (-(probs[i] / total).ln() - entropy).abs();
    order.sort_by(|&a, &b| surprise_gap(a).total_cmp(&surprise_gap(b)));
    let mut sum = 0.0;
    let n = order
        .iter()
        .position(|&i| {
            sum += probs[i] / total;
            sum >= typical_p
        })
        .map_or(order.len(), |i| i + 1);
    let kept: Vec<usize> = order.into_iter().take(n.max(1)).collect();
    *candidates = kept.iter().map(|&i| candidates[i]).collect();
    *probs = kept.iter().map(|&i| probs[i]).collect();
}

/// Drop tokens less likely than `min_p` times the most likely one.
pub(super) fn truncate_min_p(candidates: &mut Vec<(u32, f32)>, probs: &mut Vec<f32>, min_p: f32) {
    if min_p <= 0.0 {
        return;
    }
    let best = probs.iter().cloned().fold(0.0, f32::max);
    let threshold = best * min_p;
    let kept: Vec<usize> = (0..probs.len())
        .filter(|&i| probs[i] >= threshold)
        .collect();
    *candidates = kept.iter().map(|&i| candidates[i]).collect();
    *probs = kept.iter().map(|&i| probs[i]).collect();
}
