//! The engine's job for a request: the UI's and the API's sampling
//! parameters (text-generation-webui's names) in the engine's own terms.

use domain::{GenerationParams, ValidParams};

use engine::{GenerationJob, Sampling};

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
    Sampling {
        greedy: p.is_greedy(),
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
    }
}
