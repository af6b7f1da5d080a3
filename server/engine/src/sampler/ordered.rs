//! The sampler stage by stage (a custom `sampler_priority`, and the
//! default order where the fixed path cannot follow it): every candidate
//! sorted once, then each stage applied in turn to the candidates the
//! stages before it kept, each probability-based stage judging the
//! distribution as the stages before it left it. Slower than the fixed
//! path (a full sort every token), so it runs only for an order that is
//! not the default.

use domain::SamplerStage;
use rand::{rngs::StdRng, Rng};

use super::{
    argmax, distribution, finite_candidates, keep_top_n_sigma, mirostat, normalized, pick,
    temperature, xtc,
};
use crate::Sampling;

/// The candidates and their probabilities as mirostat found them, for
/// moving its bound by the chosen token's probability.
type BeforeMirostat = Option<(Vec<(u32, f32)>, Vec<f32>)>;

/// Chooses a token from `logits` (penalties already applied) through the
/// stages of `order`; `temperature_last` moves the temperature stages to
/// the end. `mirostat_mu` is moved after the choice as mirostat 2 does.
pub(super) fn sample(
    p: &Sampling,
    logits: &[f32],
    order: &[SamplerStage],
    rng: &mut StdRng,
    mirostat_mu: &mut f32,
) -> u32 {
    let mut candidates = finite_candidates(logits);
    if candidates.is_empty() {
        return argmax(logits);
    }
    // Ties go to the lower token id, as on the fixed path.
    candidates.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut stages: Vec<SamplerStage> = order.to_vec();
    if p.temperature_last {
        stages.sort_by_key(|s| s.is_temperature());
    }
    let mut before_mirostat: BeforeMirostat = None;
    for stage in stages {
        apply(
            p,
            stage,
            &mut candidates,
            rng,
            *mirostat_mu,
            &mut before_mirostat,
        );
        if candidates.is_empty() {
            return argmax(logits);
        }
    }
    let probs = distribution::softmax(&candidates, 1.0);
    let token = pick(&candidates, &probs, rng.random::<f32>());
    if let Some((all, all_probs)) = before_mirostat {
        let chosen = all
            .iter()
            .position(|c| c.0 == token)
            .map_or(0.0, |i| all_probs[i]);
        *mirostat_mu = mirostat::update(*mirostat_mu, chosen, p.mirostat_tau, p.mirostat_eta);
    }
    token
}

/// One stage on the candidates (sorted, most likely first; their logits
/// already scaled by any temperature stage before it).
fn apply(
    p: &Sampling,
    stage: SamplerStage,
    candidates: &mut Vec<(u32, f32)>,
    rng: &mut StdRng,
    mirostat_mu: f32,
    before_mirostat: &mut BeforeMirostat,
) {
    let probs = |c: &[(u32, f32)]| distribution::softmax(c, 1.0);
    match stage {
        SamplerStage::TopNSigma => keep_top_n_sigma(candidates, p.top_n_sigma),
        SamplerStage::Temperature if !p.dynamic_temperature => scale(candidates, p.temperature),
        SamplerStage::DynamicTemperature if p.dynamic_temperature => {
            let t = temperature::dynamic(
                candidates,
                p.dynatemp_low,
                p.dynatemp_high,
                p.dynatemp_exponent,
            );
            scale(candidates, t);
        }
        SamplerStage::Temperature | SamplerStage::DynamicTemperature => {}
        SamplerStage::QuadraticSampling => {
            temperature::smooth(candidates, p.smoothing_factor, p.smoothing_curve)
        }
        SamplerStage::TopK => {
            if p.top_k > 0 {
                candidates.truncate(p.top_k as usize);
            }
        }
        SamplerStage::TopP => {
            distribution::truncate_top_p(candidates, &mut probs(candidates), p.top_p)
        }
        SamplerStage::TypicalP => {
            distribution::truncate_typical(candidates, &mut probs(candidates), p.typical_p);
            // Typical sampling keeps its tokens by surprise; the stages
            // after it expect the most likely first.
            candidates.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        }
        SamplerStage::MinP => {
            distribution::truncate_min_p(candidates, &mut probs(candidates), p.min_p)
        }
        SamplerStage::Mirostat => {
            if p.mirostat_mode == 2 {
                let mut probs = probs(candidates);
                *before_mirostat = Some((candidates.clone(), normalized(&probs)));
                mirostat::truncate(candidates, &mut probs, mirostat_mu);
            }
        }
        SamplerStage::Xtc => {
            if p.xtc_probability > 0.0 && rng.random::<f32>() < p.xtc_probability {
                xtc::exclude_top_choices(
                    candidates,
                    &mut probs(candidates),
                    p.xtc_threshold,
                    &p.xtc_keep,
                );
            }
        }
    }
}

/// Divides the logits by `t` (at least a tiny positive number), the best
/// subtracted first: however small `t`, the best stays 0 and the others
/// go to -inf, never inf - inf.
fn scale(candidates: &mut [(u32, f32)], t: f32) {
    let t = t.max(f32::MIN_POSITIVE);
    let best = candidates.first().map_or(0.0, |c| c.1);
    for c in candidates.iter_mut() {
        c.1 = (c.1 - best) / t;
    }
}

#[cfg(test)]
mod tests {
    use domain::SamplerStage as S;

    use crate::sampler::Sampler;
    use crate::Sampling;

    fn sampling(order: &[S], f: impl FnOnce(&mut Sampling)) -> Sampling {
        let mut p = Sampling {
            greedy: false,
            temperature: 1.0,
            seed: Some(11),
            sampler_order: order.to_vec(),
            ..Sampling::greedy()
        };
        f(&mut p);
        p
    }

    /// How often each token is drawn in `draws` draws.
    fn histogram(p: &Sampling, logits: &[f32], draws: usize) -> Vec<usize> {
        let mut sampler = Sampler::new(p, Vec::new());
        let mut counts = vec![0; logits.len()];
        for _ in 0..draws {
            counts[sampler.sample(&mut logits.to_vec(), &[]) as usize] += 1;
        }
        counts
    }

    /// min_p 0.2 before a temperature of 3 judges the raw distribution
    /// (0.55, 0.33, 0.07: the third goes); after it, the flattened one
    /// (0.40, 0.34, 0.21: all three stay).
    #[test]
    fn the_order_decides_what_min_p_sees() {
        let logits = [2.0, 1.5, 0.0];
        let hot = |p: &mut Sampling| {
            p.temperature = 3.0;
            p.min_p = 0.2;
        };
        let min_p_first = histogram(&sampling(&[S::MinP, S::Temperature], hot), &logits, 600);
        let temperature_first = histogram(&sampling(&[S::Temperature, S::MinP], hot), &logits, 600);
        assert_eq!(min_p_first[2], 0, "{min_p_first:?}");
        assert!(temperature_first[2] > 60, "{temperature_first:?}");
    }

    /// top_k before XTC leaves it nothing to exclude below the k best;
    /// XTC first removes the top choices and top_k then keeps the next.
    #[test]
    fn xtc_before_top_k_reaches_further_down() {
        let logits = [3.0, 2.9, 1.0, 0.5];
        let xtc = |p: &mut Sampling| {
            p.top_k = 1;
            p.xtc_probability = 1.0;
            p.xtc_threshold = 0.1;
        };
        let top_k_first = histogram(&sampling(&[S::TopK, S::Xtc], xtc), &logits, 200);
        let xtc_first = histogram(&sampling(&[S::Xtc, S::TopK], xtc), &logits, 200);
        assert_eq!(top_k_first, [200, 0, 0, 0]);
        assert_eq!(xtc_first, [0, 200, 0, 0]);
    }

    /// With the temperature last in the order, the general path draws
    /// exactly what the fixed path draws with `temperature_last`: the same
    /// kept tokens, the same probabilities, the same random numbers.
    #[test]
    fn temperature_at_the_end_draws_what_temperature_last_draws() {
        let logits: Vec<f32> = (0..500).map(|i| ((i * 7919) % 211) as f32 / 20.0).collect();
        let settings = |p: &mut Sampling| {
            p.temperature = 1.7;
            p.top_p = 0.9;
            p.min_p = 0.05;
            p.top_k = 40;
        };
        let order = [
            S::TopNSigma,
            S::TopK,
            S::TopP,
            S::TypicalP,
            S::MinP,
            S::Mirostat,
            S::Xtc,
            S::Temperature,
            S::DynamicTemperature,
            S::QuadraticSampling,
        ];
        for seed in 0..50 {
            let general = sampling(&order, |p| {
                settings(p);
                p.seed = Some(seed);
            });
            let fixed = Sampling {
                sampler_order: Vec::new(),
                temperature_last: true,
                ..general.clone()
            };
            let (mut a, mut b) = (Sampler::new(&general, vec![]), Sampler::new(&fixed, vec![]));
            for step in 0..20 {
                let x = a.sample(&mut logits.clone(), &[]);
                let y = b.sample(&mut logits.clone(), &[]);
                assert_eq!(x, y, "seed {seed} step {step}");
            }
        }
    }

    /// Quadratic smoothing follows TGW's order on every path: an order
    /// that moves nothing that matters (top_k is off) draws what the
    /// default order draws, smoothing and a dynamic temperature included.
    #[test]
    fn an_order_that_changes_nothing_draws_what_the_default_draws() {
        let logits: Vec<f32> = (0..300).map(|i| ((i * 7919) % 173) as f32 / 25.0).collect();
        let swapped = [
            S::TopNSigma,
            S::Temperature,
            S::DynamicTemperature,
            S::QuadraticSampling,
            S::TopP,
            S::TopK,
            S::TypicalP,
            S::MinP,
            S::Mirostat,
            S::Xtc,
        ];
        for last in [false, true] {
            for seed in 0..20 {
                let settings = |p: &mut Sampling| {
                    p.seed = Some(seed);
                    p.temperature = 2.0;
                    p.smoothing_factor = 1.0;
                    p.top_p = 0.9;
                    p.temperature_last = last;
                };
                let default = sampling(&[], settings);
                let reordered = sampling(&swapped, settings);
                let (mut a, mut b) = (
                    Sampler::new(&default, vec![]),
                    Sampler::new(&reordered, vec![]),
                );
                for _ in 0..10 {
                    assert_eq!(
                        a.sample(&mut logits.clone(), &[]),
                        b.sample(&mut logits.clone(), &[])
                    );
                }
            }
        }
    }

    /// A dynamic temperature of 0 in a custom order picks the best token
    /// (the logits are scaled with the best subtracted, never inf - inf).
    #[test]
    fn a_zero_temperature_in_a_custom_order_picks_the_best() {
        let p = sampling(&[S::MinP, S::DynamicTemperature], |p| {
            p.dynamic_temperature = true;
            p.dynatemp_low = 0.0;
            p.dynatemp_high = 0.0;
        });
        assert_eq!(histogram(&p, &[5.0, 9.0, 7.0, 8.5], 50), [0, 50, 0, 0]);
    }
}
