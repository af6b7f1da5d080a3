//! XTC ("exclude top choices", p-e-w's sampler in text-generation-webui
//! and llama.cpp): sometimes the most likely continuations are removed,
//! leaving the least likely of those that were likely enough, so replies
//! stop reaching for the same clichés. It never removes a new line or the
//! end of the reply (the reply would run on).

/// Removes every candidate at least `threshold` likely except the least
/// likely of them, if two or more are. `candidates` are sorted most likely
/// first, with their (unnormalised) `probs`.
pub(super) fn exclude_top_choices(
    candidates: &mut Vec<(u32, f32)>,
    probs: &mut Vec<f32>,
    threshold: f32,
    keep: &[u32],
) {
    let total: f32 = probs.iter().sum();
    if total <= 0.0 {
        return;
    }
    let above = probs
        .iter()
        .take_while(|&&p| p / total >= threshold)
        .count();
    if above < 2 {
        return;
    }
    let removed = above - 1;
    if candidates[..removed].iter().any(|c| keep.contains(&c.0)) {
        return;
    }
    candidates.drain(..removed);
    probs.drain(..removed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_top_choices_but_the_least_likely_go() {
        let mut c = vec![(1, 0.0), (2, 0.0), (3, 0.0), (4, 0.0)];
        let mut p = vec![0.5, 0.3, 0.15, 0.05];
        exclude_top_choices(&mut c, &mut p, 0.1, &[]);
        assert_eq!(c.iter().map(|c| c.0).collect::<Vec<_>>(), [3, 4]);
        assert_eq!(p, [0.15, 0.05]);
    }

    #[test]
    fn one_top_choice_or_a_protected_one_leaves_all() {
        let mut c = vec![(1, 0.0), (2, 0.0)];
        let mut p = vec![0.9, 0.05];
        exclude_top_choices(&mut c, &mut p, 0.1, &[]);
        assert_eq!(c.len(), 2);
        let mut c = vec![(1, 0.0), (2, 0.0), (3, 0.0)];
        let mut p = vec![0.5, 0.4, 0.1];
        exclude_top_choices(&mut c, &mut p, 0.3, &[1]);
        assert_eq!(c.len(), 3, "token 1 (a new line) is never removed");
    }
}
