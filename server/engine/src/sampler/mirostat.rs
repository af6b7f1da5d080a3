//! Mirostat 2 (Basu et al.): keeps the reply's surprise near a target
//! `tau` by cutting, each token, the candidates more surprising than `mu`
//! and moving `mu` by `eta` times the error.

/// Drops candidates whose surprise (-log2 of their probability) exceeds
/// `mu`, always keeping the most likely. `probs` sum to 1 over sorted
/// `candidates`.
pub(super) fn truncate(candidates: &mut Vec<(u32, f32)>, probs: &mut Vec<f32>, mu: f32) {
    let total: f32 = probs.iter().sum();
    let n = probs
        .iter()
        .take_while(|&&p| -(p / total).log2() <= mu)
        .count()
        .max(1);
    candidates.truncate(n);
    probs.truncate(n);
}

/// `mu` after a token of probability `p` (under the full distribution) was
/// chosen.
pub(super) fn update(mu: f32, p: f32, tau: f32, eta: f32) -> f32 {
    let surprise = -p.max(f32::MIN_POSITIVE).log2();
    mu - eta * (surprise - tau)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surprising_candidates_are_cut_and_mu_follows_the_error() {
        let mut c = vec![(0, 0.0), (1, 0.0), (2, 0.0)];
        let mut p = vec![0.5, 0.25, 0.25 / 8.0];
        // Surprises 1, 2 and 5 bits: mu 3 keeps two.
        truncate(&mut c, &mut p, 3.0);
        assert_eq!(c.len(), 2);
        // A 1-bit token under a 5-bit target raises mu.
        assert!((update(10.0, 0.5, 5.0, 0.1) - 10.4).abs() < 1e-5);
    }
}
