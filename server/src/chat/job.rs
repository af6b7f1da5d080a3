//! The engine's job for a request: the UI's and the API's sampling
//! parameters (text-generation-webui's names) in the engine's own terms.

use domain::{GenerationParams, SamplerStage, ValidParams};

use engine::{GenerationJob, Sampling, TextTokenizer};

/// Only validated parameters make a job.
pub fn job(
    prompt_tokens: Vec<u32>,
    params: &ValidParams,
    stop_strings: Vec<String>,
    eos_ids: Vec<u32>,
) -> GenerationJob {
    GenerationJob {
        prompt_tokens,
        sampling: sampling(params),
        max_new_tokens: params.max_new_tokens as usize,
        stop_strings,
        eos_ids,
        ban_eos: params.ban_eos_token,
        constraint: None,
        logprobs: None,
    }
}

pub fn sampling(p: &GenerationParams) -> Sampling {
    let sampler_order = custom_order(p);
    Sampling {
        // top_k 1 is greedy only where top_k comes first: in a custom
        // order XTC or typical_p may remove the best token before it.
        greedy: if sampler_order.is_empty() {
            p.is_greedy()
        } else {
            !p.do_sample || p.temperature == 0.0
        },
        temperature: p.temperature,
        top_p: p.top_p,
        top_k: p.top_k,
        min_p: p.min_p,
        typical_p: p.typical_p,
        repetition_penalty: p.repetition_penalty,
        repetition_penalty_range: p.repetition_penalty_range,
        presence_penalty: p.presence_penalty,
        frequency_penalty: p.frequency_penalty,
        seed: u64::try_from(p.seed).ok(),
        dry_multiplier: p.dry_multiplier,
        dry_base: p.dry_base,
        dry_allowed_length: p.dry_allowed_length,
        dry_breakers: Vec::new(),
        xtc_probability: p.xtc_probability,
        xtc_threshold: p.xtc_threshold,
        xtc_keep: Vec::new(),
        top_n_sigma: p.top_n_sigma,
        dynamic_temperature: p.dynamic_temperature,
        dynatemp_low: p.dynatemp_low,
        dynatemp_high: p.dynatemp_high,
        dynatemp_exponent: p.dynatemp_exponent,
        smoothing_factor: p.smoothing_factor,
        smoothing_curve: p.smoothing_curve,
        mirostat_mode: p.mirostat_mode,
        mirostat_tau: p.mirostat_tau,
        mirostat_eta: p.mirostat_eta,
        temperature_last: p.temperature_last,
        sampler_order,
    }
}

/// The stage order when it is not the default (the general path runs
/// it); empty otherwise.
fn custom_order(p: &GenerationParams) -> Vec<SamplerStage> {
    let order = p.sampler_order();
    if order == SamplerStage::DEFAULT_ORDER {
        Vec::new()
    } else {
        order
    }
}

/// The tokens DRY and XTC need from the model's vocabulary: each DRY
/// sequence breaker as it reads inside text (the last token of "a" and
/// the breaker, as text-generation-webui takes it), and the new line and
/// end-of-sequence tokens XTC keeps.
pub fn add_vocabulary_ids(
    job: &mut GenerationJob,
    p: &GenerationParams,
    tokenizer: &TextTokenizer,
) {
    let last_token = |text: &str| tokenizer.encode_text(text).ok()?.last().copied();
    if p.dry_multiplier > 0.0 {
        job.sampling.dry_breakers = p
            .dry_breakers()
            .iter()
            .filter_map(|b| last_token(&format!("a{b}")))
            .collect();
    }
    if p.xtc_probability > 0.0 {
        job.sampling.xtc_keep = job.eos_ids.clone();
        job.sampling.xtc_keep.extend(last_token("a\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// top_k 1 means greedy only where top_k comes first: after XTC in a
    /// custom order the best token may be gone, so the sampler runs.
    #[test]
    fn top_k_one_is_greedy_only_in_the_default_order() {
        let p = GenerationParams {
            top_k: 1,
            xtc_probability: 1.0,
            ..GenerationParams::default()
        };
        assert!(sampling(&p).greedy);
        let reordered = GenerationParams {
            sampler_priority: "xtc\ntop_k".into(),
            ..p
        };
        let s = sampling(&reordered);
        assert!(!s.greedy && s.sampler_order[..2] == [SamplerStage::Xtc, SamplerStage::TopK]);
    }
}
