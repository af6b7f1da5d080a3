//! The temperature stage's variants from text-generation-webui: dynamic
//! temperature (kalomaze's: hotter where the model is unsure) and
//! quadratic smoothing (logits bent around the best one).

/// The temperature for this token: between `low` and `high` by how spread
/// the distribution is (its entropy over the largest possible),
/// raised to `exponent`. `candidates` are the finite logits.
pub(super) fn dynamic(candidates: &[(u32, f32)], low: f32, high: f32, exponent: f32) -> f32 {
    if candidates.len() < 2 {
        return low;
    }
    let max = candidates
        .iter()
        .map(|c| c.1)
        .fold(f32::NEG_INFINITY, f32::max) as f64;
    let exps: Vec<f64> = candidates
        .iter()
        .map(|c| (c.1 as f64 - max).exp())
        .collect();
    let sum: f64 = exps.iter().sum();
    let entropy: f64 = exps
        .iter()
        .map(|e| e / sum)
        .filter(|&p| p > 0.0)
        .map(|p| -p * p.ln())
        .sum();
    let normalized = (entropy / (candidates.len() as f64).ln()).clamp(0.0, 1.0);
    low + (high - low) * normalized.powf(exponent as f64) as f32
}

/// Quadratic smoothing: each logit's distance `d` below the best becomes
/// `-(k·f·d²) + s·f·d³` below it, with `k = (3 - curve)/2` and
/// `s = (curve - 1)/2`. Curves in [1, 3] keep the order, so sorted
/// candidates stay sorted.
pub(super) fn smooth(candidates: &mut [(u32, f32)], factor: f32, curve: f32) {
    if factor <= 0.0 || candidates.is_empty() {
        return;
    }
    let max = candidates
        .iter()
        .map(|c| c.1)
        .fold(f32::NEG_INFINITY, f32::max);
    let k = (3.0 - curve) / 2.0;
    let s = (curve - 1.0) / 2.0;
    for c in candidates.iter_mut() {
        let d = c.1 - max;
        c.1 = max - k * factor * d * d + s * factor * d * d * d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sure_model_gets_the_low_temperature_an_unsure_one_the_high() {
        let sure = [(0, 20.0), (1, 0.0), (2, 0.0)];
        let unsure = [(0, 1.0), (1, 1.0), (2, 1.0)];
        assert!((dynamic(&sure, 0.5, 1.5, 1.0) - 0.5).abs() < 1e-3);
        assert!((dynamic(&unsure, 0.5, 1.5, 1.0) - 1.5).abs() < 1e-3);
    }

    #[test]
    fn smoothing_widens_the_gap_quadratically_and_keeps_the_order() {
        let mut c = [(0, 5.0), (1, 4.0), (2, 2.0)];
        smooth(&mut c, 0.5, 1.0);
        assert_eq!(c.map(|c| c.1), [5.0, 4.5, 0.5]);
        let mut curved = [(0, 5.0), (1, 4.0), (2, 2.0)];
        smooth(&mut curved, 0.5, 3.0);
        assert!(curved[0].1 > curved[1].1 && curved[1].1 > curved[2].1);
    }
}
