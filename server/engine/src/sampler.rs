//! Picking the next token from the logits, with text-generation-webui's
//! samplers in its default order: repetition penalties, temperature, top_k,
//! top_p, typical_p, min_p.

use std::collections::HashMap;

use rand::{rngs::StdRng, Rng, SeedableRng};

use super::Sampling;

pub struct Sampler {
    params: Sampling,
    rng: StdRng,
    /// Logits of these tokens are forced to -inf (e.g. EOS when banned).
    banned: Vec<u32>,
}

impl Sampler {
    /// `params` come from validated request parameters; whatever they
    /// are, sampling never panics.
    pub fn new(params: &Sampling, banned: Vec<u32>) -> Self {
        let seed = params.seed.unwrap_or_else(|| rand::rng().random());
        Self {
            params: params.clone(),
            rng: StdRng::seed_from_u64(seed),
            banned,
        }
    }

    /// Chooses the next token. `context` is every token so far (prompt and
    /// reply), which the repetition penalties look at.
    pub fn sample(&mut self, logits: &mut [f32], context: &[u32]) -> u32 {
        for &id in &self.banned {
            if let Some(l) = logits.get_mut(id as usize) {
                *l = f32::NEG_INFINITY;
            }
        }
        self.apply_penalties(logits, context);
        if self.params.greedy {
            return argmax(logits);
        }
        let mut candidates: Vec<(u32, f32)> = logits
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_finite())
            .map(|(i, &l)| (i as u32, l))
            .collect();
        if candidates.is_empty() {
            return argmax(logits);
        }
        let by_logit = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1);
        let k = self.params.top_k as usize;
        if k > 0 && k < candidates.len() {
            // Only the k best need sorting.
            candidates.select_nth_unstable_by(k - 1, by_logit);
            candidates.truncate(k);
        }
        candidates.sort_unstable_by(by_logit);
        let mut probs = softmax(&candidates, self.params.temperature);
        truncate_top_p(&mut candidates, &mut probs, self.params.top_p);
        truncate_typical(&mut candidates, &mut probs, self.params.typical_p);
        truncate_min_p(&mut candidates, &mut probs, self.params.min_p);
        if candidates.is_empty() {
            // Filters never remove the most likely token, but should one
            // ever remove everything, that token is the answer.
            return argmax(logits);
        }
        self.draw(&candidates, &probs)
    }

    fn apply_penalties(&self, logits: &mut [f32], context: &[u32]) {
        let p = &self.params;
        if p.repetition_penalty == 1.0 && p.presence_penalty == 0.0 && p.frequency_penalty == 0.0 {
            return;
        }
        let range = p.repetition_penalty_range as usize;
        let window = if range == 0 || range >= context.len() {
            context
        } else {
            &context[context.len() - range..]
        };
        let mut counts: HashMap<u32, u32> = HashMap::new();
        for &t in window {
            *counts.entry(t).or_default() += 1;
        }
        for (&t, &n) in &counts {
            let Some(l) = logits.get_mut(t as usize) else {
                continue;
            };
            if *l > 0.0 {
                *l /= p.repetition_penalty;
            } else {
                *l *= p.repetition_penalty;
            }
            *l -= p.presence_penalty + p.frequency_penalty * n as f32;
        }
    }

    fn draw(&mut self, candidates: &[(u32, f32)], probs: &[f32]) -> u32 {
        let total: f32 = probs.iter().sum();
        let mut r = self.rng.random::<f32>() * total;
        for (c, p) in candidates.iter().zip(probs) {
            if r < *p {
                return c.0;
            }
            r -= p;
        }
        candidates[candidates.len() - 1].0
    }
}

/// The most likely token among those with a finite logit (0 if none is).
fn argmax(logits: &[f32]) -> u32 {
    logits
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.is_nan())
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i as u32)
        .unwrap_or(0)
}

/// Probabilities at `temperature` of candidates sorted by descending
/// logit. The best logit is subtracted before dividing, so however small
/// the temperature the best token keeps probability 1 and the others
/// round to 0 (never inf / inf = NaN).
fn softmax(candidates: &[(u32, f32)], temperature: f32) -> Vec<f32> {
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
fn truncate_top_p(candidates: &mut Vec<(u32, f32)>, probs: &mut Vec<f32>, top_p: f32) {
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
fn truncate_typical(candidates: &mut Vec<(u32, f32)>, probs: &mut Vec<f32>, typical_p: f32) {
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
fn truncate_min_p(candidates: &mut Vec<(u32, f32)>, probs: &mut Vec<f32>, min_p: f32) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn params(f: impl FnOnce(&mut Sampling)) -> Sampling {
        let mut p = Sampling {
            greedy: false,
            temperature: 1.0,
            seed: Some(7),
            ..Sampling::greedy()
        };
        f(&mut p);
        p
    }

    fn greedy() -> Sampling {
        Sampling::greedy()
    }

    fn histogram(p: &Sampling, logits: &[f32], draws: usize) -> Vec<usize> {
        let mut s = Sampler::new(p, vec![]);
        let mut h = vec![0; logits.len()];
        for _ in 0..draws {
            h[s.sample(&mut logits.to_vec(), &[]) as usize] += 1;
        }
        h
    }

    #[test]
    fn greedy_picks_the_largest_logit() {
        let mut s = Sampler::new(&greedy(), vec![]);
        assert_eq!(s.sample(&mut [0.1, 3.0, 2.0], &[]), 1);
    }

    #[test]
    fn banned_tokens_are_never_chosen() {
        let mut s = Sampler::new(&greedy(), vec![1]);
        assert_eq!(s.sample(&mut [0.1, 3.0, 2.0], &[]), 2);
    }

    #[test]
    fn same_seed_same_tokens() {
        let p = params(|_| {});
        let logits = [1.0, 1.1, 0.9, 1.05];
        assert_eq!(histogram(&p, &logits, 50), histogram(&p, &logits, 50));
    }

    #[test]
    fn top_k_limits_choices() {
        let h = histogram(&params(|p| p.top_k = 2), &[3.0, 2.9, 2.8, 0.0], 500);
        assert!(h[0] > 0 && h[1] > 0);
        assert_eq!(h[2] + h[3], 0);
    }

    #[test]
    fn top_p_keeps_the_nucleus() {
        // Probabilities ~ [0.665, 0.245, 0.09]: top_p 0.8 keeps two tokens.
        let h = histogram(&params(|p| p.top_p = 0.8), &[2.0, 1.0, 0.0], 500);
        assert!(h[1] > 0);
        assert_eq!(h[2], 0);
    }

    #[test]
    fn min_p_drops_unlikely_tokens() {
        let h = histogram(&params(|p| p.min_p = 0.5), &[2.0, 1.9, 0.0], 500);
        assert!(h[0] > 0 && h[1] > 0);
        assert_eq!(h[2], 0);
    }

    #[test]
    fn typical_p_keeps_some_mass() {
        let h = histogram(&params(|p| p.typical_p = 0.5), &[2.0, 1.0, 0.5, 0.0], 200);
        assert_eq!(h.iter().sum::<usize>(), 200);
        assert!(h.iter().filter(|&&n| n > 0).count() < 4);
    }

    #[test]
    fn repetition_penalty_discourages_seen_tokens() {
        let mut s = Sampler::new(
            &Sampling {
                repetition_penalty: 2.0,
                ..greedy()
            },
            vec![],
        );
        // Token 0 wins without the penalty; having been seen, 2.0/2 < 1.5.
        assert_eq!(s.sample(&mut [2.0, 1.5], &[0]), 1);
    }

    /// Temperatures so small that logits / t overflow, with and without
    /// filters that then keep nothing: always the most likely token.
    #[test]
    fn degenerate_temperatures_pick_the_most_likely_token() {
        let logits = [1.0, 3.0, -2.0, 2.9];
        for temperature in [1e-40_f32, f32::MIN_POSITIVE, 1e-30, 1e-8] {
            for filters in [
                (0.0, 1.0, 1.0, 0),
                (0.1, 1.0, 1.0, 0),
                (1.0, 1.0, 1.0, 0),
                (0.5, 0.01, 0.01, 2),
            ] {
                let p = params(|p| {
                    p.temperature = temperature;
                    (p.min_p, p.top_p, p.typical_p, p.top_k) = filters;
                });
                let h = histogram(&p, &logits, 20);
                assert_eq!(h, vec![0, 20, 0, 0], "t={temperature} {filters:?}");
            }
        }
    }

    #[test]
    fn nan_and_infinite_logits_are_never_chosen() {
        let p = params(|p| p.temperature = 0.7);
        let h = histogram(&p, &[f32::NAN, 1.0, f32::INFINITY, 0.5], 50);
        assert_eq!(h[0] + h[2], 0, "{h:?}");
        let mut s = Sampler::new(&greedy(), vec![]);
        assert_eq!(s.sample(&mut [f32::NAN, 1.0, 0.5], &[]), 1);
    }

    #[test]
    fn frequency_penalty_scales_with_count() {
        let mut s = Sampler::new(
            &Sampling {
                frequency_penalty: 0.5,
                ..greedy()
            },
            vec![],
        );
        assert_eq!(s.sample(&mut [2.0, 1.2], &[0]), 0);
        assert_eq!(s.sample(&mut [2.0, 1.2], &[0, 0]), 1);
    }
}
