//! Picking the next token from the logits, with text-generation-webui's
//! samplers in its default order: repetition penalties, DRY, top_n_sigma,
//! temperature, top_k, top_p, typical_p, min_p, XTC.
//!
//! The whole vocabulary (151,936 tokens for Qwen) is sorted only when it
//! must be: the fast path (`head.rs`) weighs every token in one vectorized
//! pass and sorts only those a choice can reach; what it cannot settle
//! falls back to the full distribution (`distribution.rs`), with the same
//! random draw.

mod distribution;
mod dry;
mod head;
mod mirostat;
mod ordered;
mod temperature;
mod xtc;

use std::collections::HashMap;

use domain::SamplerStage;
use rand::{rngs::StdRng, Rng, SeedableRng};

use super::Sampling;
use distribution::{softmax, truncate_min_p, truncate_top_p, truncate_typical};

pub struct Sampler {
    params: Sampling,
    rng: StdRng,
    /// Logits of these tokens are forced to -inf (e.g. EOS when banned).
    banned: Vec<u32>,
    /// The fast path's buffers, kept between tokens.
    scratch: head::Scratch,
    /// Mirostat's surprise bound, moved after every token.
    mirostat_mu: f32,
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
            scratch: head::Scratch::default(),
            mirostat_mu: 2.0 * params.mirostat_tau,
        }
    }

    /// Chooses the next token. `context` is every token so far (prompt and
    /// reply), which the repetition penalties look at.
    pub fn sample(&mut self, logits: &mut [f32], context: &[u32]) -> u32 {
        self.prepare(logits, context);
        if self.params.greedy {
            return argmax(logits);
        }
        if general_order(&self.params).is_some() {
            return self.sample_ordered(logits);
        }
        if self.params.needs_full_distribution() {
            return self.sample_full(logits, None);
        }
        match head::sample(&self.params, logits, &mut self.rng, &mut self.scratch) {
            head::Outcome::Token(t) => t,
            head::Outcome::Full(draw) => self.sample_full(logits, draw),
        }
    }

    /// The same choice by the reference path alone (every candidate sorted
    /// and weighted): what [`Sampler::sample`] must equal, for the
    /// equivalence tests and the sampler benchmark.
    #[doc(hidden)]
    pub fn sample_reference(&mut self, logits: &mut [f32], context: &[u32]) -> u32 {
        self.prepare(logits, context);
        if self.params.greedy {
            return argmax(logits);
        }
        if general_order(&self.params).is_some() {
            return self.sample_ordered(logits);
        }
        self.sample_full(logits, None)
    }

    /// The stages one by one (`ordered.rs`), in [`general_order`].
    fn sample_ordered(&mut self, logits: &[f32]) -> u32 {
        let order = general_order(&self.params).unwrap_or(&SamplerStage::DEFAULT_ORDER);
        ordered::sample(
            &self.params,
            logits,
            order,
            &mut self.rng,
            &mut self.mirostat_mu,
        )
    }

    /// Bans and penalties, applied to the logits in place.
    fn prepare(&self, logits: &mut [f32], context: &[u32]) {
        for &id in &self.banned {
            if let Some(l) = logits.get_mut(id as usize) {
                *l = f32::NEG_INFINITY;
            }
        }
        self.apply_penalties(logits, context);
        dry::penalize(&self.params, logits, context);
    }

    /// The sampler over the whole distribution: every candidate sorted
    /// (or the top_k best). `draw` is the uniform number already drawn
    /// for this token, if the fast path drew one.
    fn sample_full(&mut self, logits: &[f32], draw: Option<f32>) -> u32 {
        let mut candidates = finite_candidates(logits);
        if candidates.is_empty() {
            return argmax(logits);
        }
        let p = &self.params;
        keep_top_n_sigma(&mut candidates, p.top_n_sigma);
        let temperature = if p.dynamic_temperature {
            temperature::dynamic(
                &candidates,
                p.dynatemp_low,
                p.dynatemp_high,
                p.dynatemp_exponent,
            )
        } else {
            p.temperature
        };
        // Ties go to the lower token id, so the order is one order.
        let by_logit = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        let k = p.top_k as usize;
        if k > 0 && k < candidates.len() {
            // Only the k best need sorting.
            candidates.select_nth_unstable_by(k - 1, by_logit);
            candidates.truncate(k);
        }
        // temperature_last: the filters judge the untempered distribution,
        // and the temperature shapes only what they keep.
        let filter_temperature = if p.temperature_last { 1.0 } else { temperature };
        let head = (k == 0 && p.typical_p >= 1.0)
            .then(|| truncating_head(&mut candidates, filter_temperature, p.top_p, p.min_p))
            .flatten();
        let mut probs = match head {
            Some(probs) => probs,
            None => {
                candidates.sort_unstable_by(by_logit);
                softmax(&candidates, filter_temperature)
            }
        };
        truncate_top_p(&mut candidates, &mut probs, p.top_p);
        truncate_typical(&mut candidates, &mut probs, p.typical_p);
        truncate_min_p(&mut candidates, &mut probs, p.min_p);
        if p.temperature_last && !candidates.is_empty() {
            probs = softmax(&candidates, temperature);
        }
        let mirostat = p.mirostat_mode == 2;
        let full_probs = mirostat.then(|| (candidates.clone(), normalized(&probs)));
        if mirostat {
            mirostat::truncate(&mut candidates, &mut probs, self.mirostat_mu);
        }
        if self.params.xtc_probability > 0.0
            && self.rng.random::<f32>() < self.params.xtc_probability
        {
            xtc::exclude_top_choices(
                &mut candidates,
                &mut probs,
                self.params.xtc_threshold,
                &self.params.xtc_keep,
            );
        }
        if candidates.is_empty() {
            // Filters never remove the most likely token, but should one
            // ever remove everything, that token is the answer.
            return argmax(logits);
        }
        let u = draw.unwrap_or_else(|| self.rng.random::<f32>());
        let token = pick(&candidates, &probs, u);
        if let Some((all, all_probs)) = full_probs {
            let p_chosen = all
                .iter()
                .position(|c| c.0 == token)
                .map_or(0.0, |i| all_probs[i]);
            self.mirostat_mu = mirostat::update(
                self.mirostat_mu,
                p_chosen,
                self.params.mirostat_tau,
                self.params.mirostat_eta,
            );
        }
        token
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
}

/// How many of the best candidates [`truncating_head`] sorts.
const HEAD: usize = 1024;

/// When top_p or min_p certainly cuts within the `HEAD` best candidates,
/// only those are sorted (the samplers that follow, XTC and mirostat,
/// work on what the cut keeps): `candidates` becomes them, sorted, and
/// their probabilities over the whole vocabulary are returned. `None`
/// where the cut may fall further (a flat distribution): everything is
/// sorted then. Sorting 151,936 candidates took ~5 ms a token.
fn truncating_head(
    candidates: &mut Vec<(u32, f32)>,
    temperature: f32,
    top_p: f32,
    min_p: f32,
) -> Option<Vec<f32>> {
    if candidates.len() <= HEAD || (top_p >= 1.0 && min_p <= 0.0) {
        return None;
    }
    let by_logit = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    let max = candidates
        .iter()
        .map(|c| c.1)
        .fold(f32::NEG_INFINITY, f32::max) as f64;
    let t = (temperature as f64).max(f64::MIN_POSITIVE);
    let total: f64 = candidates
        .iter()
        .map(|c| ((c.1 as f64 - max) / t).exp())
        .sum();
    candidates.select_nth_unstable_by(HEAD - 1, by_logit);
    candidates[..HEAD].sort_unstable_by(by_logit);
    let probs: Vec<f32> = candidates[..HEAD]
        .iter()
        .map(|c| (((c.1 as f64 - max) / t).exp() / total) as f32)
        .collect();
    let top_p_cuts = top_p < 1.0 && probs.iter().sum::<f32>() >= top_p;
    let min_p_cuts = min_p > 0.0 && probs[HEAD - 1] < min_p * probs[0];
    if !(top_p_cuts || min_p_cuts) {
        return None;
    }
    candidates.truncate(HEAD);
    Some(probs)
}

/// Probabilities scaled to sum to 1.
fn normalized(probs: &[f32]) -> Vec<f32> {
    let total: f32 = probs.iter().sum();
    probs
        .iter()
        .map(|p| p / total.max(f32::MIN_POSITIVE))
        .collect()
}

/// Keeps the candidates whose logit is at most `n` standard deviations
/// below the largest (top-nσ: the spread of the logits, not their
/// probabilities, decides, so temperature does not change the choice).
fn keep_top_n_sigma(candidates: &mut Vec<(u32, f32)>, n: f32) {
    if n <= 0.0 || candidates.len() < 2 {
        return;
    }
    let count = candidates.len() as f64;
    let mean = candidates.iter().map(|c| c.1 as f64).sum::<f64>() / count;
    let variance = candidates
        .iter()
        .map(|c| (c.1 as f64 - mean).powi(2))
        .sum::<f64>()
        / count;
    let max = candidates
        .iter()
        .map(|c| c.1)
        .fold(f32::NEG_INFINITY, f32::max);
    let floor = max as f64 - n as f64 * variance.sqrt();
    candidates.retain(|c| c.1 as f64 >= floor);
}

/// The candidate where `u` (uniform in [0, 1)) of the kept mass falls,
/// walking from the most likely.
fn pick(candidates: &[(u32, f32)], probs: &[f32], u: f32) -> u32 {
    let total: f32 = probs.iter().sum();
    let mut r = u * total;
    for (c, p) in candidates.iter().zip(probs) {
        if r < *p {
            return c.0;
        }
        r -= p;
    }
    candidates[candidates.len() - 1].0
}

/// The stages to run one by one, where the fixed path does not apply
/// them in TGW's order: a custom `sampler_priority`, quadratic
/// smoothing (after the temperature, and with `temperature_last` after
/// the filters), and a dynamic temperature moved last (its entropy is
/// then the kept tokens').
fn general_order(p: &Sampling) -> Option<&[SamplerStage]> {
    if !p.sampler_order.is_empty() {
        Some(&p.sampler_order)
    } else if p.smoothing_factor > 0.0 || (p.temperature_last && p.dynamic_temperature) {
        Some(&SamplerStage::DEFAULT_ORDER)
    } else {
        None
    }
}

/// Every token with a finite logit, as (id, logit).
fn finite_candidates(logits: &[f32]) -> Vec<(u32, f32)> {
    logits
        .iter()
        .enumerate()
        .filter(|(_, l)| l.is_finite())
        .map(|(i, &l)| (i as u32, l))
        .collect()
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

    #[test]
    fn xtc_removes_the_top_choices_when_it_fires() {
        // Probabilities ~ [0.49, 0.30, 0.18, 0.03]: three are >= 0.1, so
        // XTC leaves the third and the fourth.
        let logits = [2.0, 1.5, 1.0, -0.8];
        let always = params(|p| {
            p.xtc_probability = 1.0;
            p.xtc_threshold = 0.1;
        });
        let h = histogram(&always, &logits, 400);
        assert_eq!(h[0] + h[1], 0, "{h:?}");
        assert!(h[2] > h[3] && h[3] > 0, "{h:?}");
        // Half the time: the top choice is still picked sometimes.
        let half = params(|p| {
            p.xtc_probability = 0.5;
            p.xtc_threshold = 0.1;
        });
        let h = histogram(&half, &logits, 400);
        assert!(h[0] > 50 && h[2] > 50, "{h:?}");
        // A protected token (a new line) keeps them all.
        let kept = params(|p| {
            p.xtc_probability = 1.0;
            p.xtc_threshold = 0.1;
            p.xtc_keep = vec![1];
        });
        assert!(histogram(&kept, &logits, 400)[0] > 0);
    }

    #[test]
    fn top_n_sigma_keeps_the_logits_near_the_best() {
        // Mean 1.25, std ~1.48: at n = 0.5 the floor is ~2.26.
        let logits = [3.0, 2.5, 0.5, -1.0];
        let h = histogram(&params(|p| p.top_n_sigma = 0.5), &logits, 400);
        assert!(h[0] > 0 && h[1] > 0, "{h:?}");
        assert_eq!(h[2] + h[3], 0, "{h:?}");
        let h = histogram(&params(|p| p.top_n_sigma = 3.0), &logits, 400);
        assert!(h[2] > 0, "{h:?}");
    }

    #[test]
    fn dynamic_temperature_follows_the_uncertainty() {
        // Near-uniform logits: the high temperature (5) keeps the unlikely
        // token in play; at the low one (0.05) it never comes.
        let logits = [1.0, 0.9, 0.8, 0.0];
        let dynatemp = |low: f32, high: f32| {
            params(|p| {
                p.dynamic_temperature = true;
                p.dynatemp_low = low;
                p.dynatemp_high = high;
                p.dynatemp_exponent = 1.0;
            })
        };
        let hot = histogram(&dynatemp(0.05, 5.0), &logits, 400);
        assert!(hot[3] > 40, "{hot:?}");
        let cold = histogram(&dynatemp(0.05, 0.05), &logits, 400);
        assert_eq!(cold[3], 0, "{cold:?}");
    }

    #[test]
    fn smoothing_and_temperature_last_reshape_the_choice() {
        let logits = [2.0, 1.5, 0.0];
        let plain = histogram(&params(|_| {}), &logits, 400);
        let smoothed = histogram(&params(|p| p.smoothing_factor = 2.0), &logits, 400);
        assert!(plain[2] > 20 && smoothed[2] == 0, "{plain:?} {smoothed:?}");
        // min_p 0.2 at temperature 3 keeps all three (0.40, 0.34, 0.21);
        // judged at temperature 1 first (0.55, 0.33, 0.07), the third goes.
        let hot = |last: bool| {
            params(|p| {
                p.temperature = 3.0;
                p.min_p = 0.2;
                p.temperature_last = last;
            })
        };
        assert!(histogram(&hot(false), &logits, 400)[2] > 0);
        assert_eq!(histogram(&hot(true), &logits, 400)[2], 0);
    }

    #[test]
    fn mirostat_keeps_the_surprise_near_tau() {
        // A flat distribution over 64 tokens is 6 bits per token; a target
        // of 2 bits cuts it to a few candidates once mu has settled.
        let logits = vec![0.0; 64];
        let p = params(|p| {
            p.mirostat_mode = 2;
            p.mirostat_tau = 2.0;
            p.mirostat_eta = 0.5;
        });
        let mut s = Sampler::new(&p, vec![]);
        let mut seen = std::collections::HashSet::new();
        for i in 0..300 {
            let t = s.sample(&mut logits.clone(), &[]);
            if i >= 100 {
                seen.insert(t);
            }
        }
        assert!(s.mirostat_mu < 4.0, "mu {}", s.mirostat_mu);
        assert!(seen.len() < 64, "{} distinct tokens", seen.len());
    }

    #[test]
    fn only_the_head_is_sorted_when_the_cut_falls_inside_it() {
        // 5,000 candidates: a few likely ones, a long flat tail.
        let logits: Vec<f32> = (0..5000)
            .map(|i| if i < 8 { 10.0 - i as f32 } else { -5.0 })
            .collect();
        let all: Vec<(u32, f32)> = logits
            .iter()
            .enumerate()
            .map(|(i, &l)| (i as u32, l))
            .collect();
        let mut head = all.clone();
        let probs = truncating_head(&mut head, 1.0, 1.0, 0.05).expect("min_p cuts in the head");
        assert_eq!(head.len(), HEAD);
        assert_eq!(head[0].0, 0);
        // Probabilities over the whole vocabulary, as the full sort gives.
        let mut sorted = all.clone();
        sorted.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let full = softmax(&sorted, 1.0);
        for (a, b) in probs.iter().zip(&full).take(8) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        // A flat distribution: the cut may fall anywhere, everything is sorted.
        let mut flat: Vec<(u32, f32)> = (0..5000).map(|i| (i, 0.0)).collect();
        assert!(truncating_head(&mut flat, 1.0, 0.95, 0.0).is_none());
        // Same draws either way: XTC with min_p (head) vs the same logits
        // with the cut made by hand (top_k, which sorts only k).
        let xtc = |f: fn(&mut Sampling)| {
            params(|p| {
                p.xtc_probability = 1.0;
                p.xtc_threshold = 0.1;
                f(p);
            })
        };
        let by_min_p = histogram(&xtc(|p| p.min_p = 0.05), &logits, 300);
        let by_top_k = histogram(&xtc(|p| p.top_k = 3), &logits, 300);
        assert_eq!(by_min_p, by_top_k);
    }

    #[test]
    fn dry_turns_greedy_decoding_out_of_a_loop() {
        let mut s = Sampler::new(
            &Sampling {
                dry_multiplier: 0.8,
                dry_base: 1.75,
                dry_allowed_length: 2,
                ..greedy()
            },
            vec![],
        );
        // "5 6 7 8 5 6 7": greedy would say 8 again (logit 2 vs 1.9).
        let mut logits = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 1.9];
        assert_eq!(s.sample(&mut logits, &[5, 6, 7, 8, 5, 6, 7]), 9);
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

    /// Logits shaped like a language model's: most of a large vocabulary
    /// in a broad hump, a few dozen tokens well above it.
    fn lm_like(vocab: usize, seed: u64) -> Vec<f32> {
        use rand_distr::{Distribution, Normal};
        let mut rng = StdRng::seed_from_u64(seed);
        let hump = Normal::new(0.0f32, 2.5).unwrap();
        let mut logits: Vec<f32> = (0..vocab).map(|_| hump.sample(&mut rng)).collect();
        for i in 0..40 {
            let at = rng.random_range(0..vocab);
            logits[at] = 9.0 + rng.random::<f32>() * 8.0 - i as f32 * 0.1;
        }
        logits
    }

    /// The fast path gives the reference's tokens, seed for seed, over
    /// temperatures and filters as users set them (and penalties).
    #[test]
    fn the_head_path_draws_what_the_reference_draws() {
        let settings: Vec<(f32, f32, f32, f32, u32)> = vec![
            // temperature, top_p, min_p, typical_p, top_k
            (0.8, 1.0, 0.0, 1.0, 0),
            (0.8, 0.95, 0.0, 1.0, 0),
            (0.7, 0.8, 0.0, 1.0, 0),
            (1.0, 1.0, 0.05, 1.0, 0),
            (1.5, 0.9, 0.1, 1.0, 0),
            (0.6, 0.95, 0.0, 0.9, 0),
            (1.0, 1.0, 0.0, 0.9, 0),
            (2.0, 1.0, 0.0, 1.0, 0),
            (0.3, 0.99, 0.0, 1.0, 0),
            (1.0, 0.95, 0.0, 1.0, 40),
        ];
        let context: Vec<u32> = (0..300).map(|i| (i * 7919) % 151_936).collect();
        for (n, logits) in [lm_like(151_936, 1), lm_like(32_000, 3)].iter().enumerate() {
            for &(temperature, top_p, min_p, typical_p, top_k) in &settings {
                for seed in 0..16u64 {
                    let p = params(|p| {
                        (p.temperature, p.top_p, p.min_p, p.typical_p, p.top_k) =
                            (temperature, top_p, min_p, typical_p, top_k);
                        p.repetition_penalty = 1.1;
                        p.repetition_penalty_range = 64;
                        p.seed = Some(seed);
                    });
                    let (mut fast, mut reference) =
                        (Sampler::new(&p, vec![3]), Sampler::new(&p, vec![3]));
                    for step in 0..6 {
                        let a = fast.sample(&mut logits.clone(), &context[..step * 30]);
                        let b =
                            reference.sample_reference(&mut logits.clone(), &context[..step * 30]);
                        assert_eq!(a, b, "logits {n}, seed {seed}, step {step}, {p:?}");
                    }
                }
            }
        }
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
