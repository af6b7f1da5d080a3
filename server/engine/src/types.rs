//! What goes into the engine and what comes out, in the engine's own
//! terms: the engine knows nothing of the UI crate (or leptos). The chat
//! layer builds a [`GenerationJob`] from validated UI or API parameters.

use domain::SamplerStage;

use super::{EngineError, TokenConstraint};

/// Why a reply ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishReason {
    /// The model emitted end-of-sequence or a stop string appeared.
    Stop,
    /// `max_new_tokens` (or the context) ran out.
    Length,
    /// Stopped by the user, or the client went away.
    Cancelled,
    /// Cut off by the server: shutting down, or the model was switched or
    /// unloaded.
    Interrupted,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::Cancelled => "cancelled",
            FinishReason::Interrupted => "interrupted",
        }
    }
}

/// Numbers about one finished reply, as the server logs them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GenerationStats {
    pub prompt_tokens: u32,
    /// Prompt tokens whose KV cache was reused from an earlier request.
    pub cached_tokens: u32,
    pub completion_tokens: u32,
    /// Milliseconds from the request reaching the engine to the first token
    /// (waiting in the queue included).
    pub time_to_first_token_ms: f64,
    pub prompt_tokens_per_second: f64,
    pub decode_tokens_per_second: f64,
    /// Speculative decoding: tokens drafted, and how many of them the
    /// model confirmed.
    pub draft_tokens: u32,
    pub draft_accepted: u32,
}

/// How the next token is chosen: text-generation-webui's samplers, applied
/// in its order (penalties, DRY, top_n_sigma, temperature, top_k, top_p,
/// typical_p, min_p, XTC).
#[derive(Clone, Debug, PartialEq)]
pub struct Sampling {
    /// Pick the most likely token, ignoring everything below.
    pub greedy: bool,
    pub temperature: f32,
    pub top_p: f32,
    /// 0: off.
    pub top_k: u32,
    pub min_p: f32,
    pub typical_p: f32,
    pub repetition_penalty: f32,
    /// How many recent tokens the penalties look at; 0: all.
    pub repetition_penalty_range: u32,
    pub presence_penalty: f32,
    pub frequency_penalty: f32,
    /// `None`: a random seed.
    pub seed: Option<u64>,
    /// DRY: 0 is off (see `GenerationParams` for the rule).
    pub dry_multiplier: f32,
    pub dry_base: f32,
    pub dry_allowed_length: u32,
    /// Tokens that end a repeated sequence for DRY.
    pub dry_breakers: Vec<u32>,
    /// XTC: how often the top choices are excluded (0 is off), and how
    /// likely a token must be to count as one.
    pub xtc_probability: f32,
    pub xtc_threshold: f32,
    /// Tokens XTC never removes (new line, end of sequence): removing them
    /// makes replies run on.
    pub xtc_keep: Vec<u32>,
    /// Keep tokens within this many standard deviations of the best
    /// logit; 0 is off.
    pub top_n_sigma: f32,
    /// Dynamic temperature: between `dynatemp_low` and `dynatemp_high` by
    /// the distribution's entropy, instead of `temperature`.
    pub dynamic_temperature: bool,
    pub dynatemp_low: f32,
    pub dynatemp_high: f32,
    pub dynatemp_exponent: f32,
    /// Quadratic smoothing; 0 is off.
    pub smoothing_factor: f32,
    pub smoothing_curve: f32,
    /// 2: mirostat 2 with target surprise `mirostat_tau` and learning rate
    /// `mirostat_eta`; 0: off.
    pub mirostat_mode: u32,
    pub mirostat_tau: f32,
    pub mirostat_eta: f32,
    /// Apply the temperature after the truncation samplers.
    pub temperature_last: bool,
    /// A stage order other than the default (`sampler_priority`); empty:
    /// the default order, on the fast path where it can run.
    pub sampler_order: Vec<SamplerStage>,
}

impl Sampling {
    /// The most likely token every time.
    pub fn greedy() -> Self {
        Self {
            greedy: true,
            temperature: 0.0,
            top_p: 1.0,
            top_k: 0,
            min_p: 0.0,
            typical_p: 1.0,
            repetition_penalty: 1.0,
            repetition_penalty_range: 0,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            seed: None,
            dry_multiplier: 0.0,
            dry_base: 1.75,
            dry_allowed_length: 2,
            dry_breakers: Vec::new(),
            xtc_probability: 0.0,
            xtc_threshold: 0.1,
            xtc_keep: Vec::new(),
            top_n_sigma: 0.0,
            dynamic_temperature: false,
            dynatemp_low: 1.0,
            dynatemp_high: 1.0,
            dynatemp_exponent: 1.0,
            smoothing_factor: 0.0,
            smoothing_curve: 1.0,
            mirostat_mode: 0,
            mirostat_tau: 5.0,
            mirostat_eta: 0.1,
            temperature_last: false,
            sampler_order: Vec::new(),
        }
    }

    /// Whether a sampler the fast path does not know is on (the full
    /// distribution is then sorted every token).
    pub fn needs_full_distribution(&self) -> bool {
        self.xtc_probability > 0.0
            || self.top_n_sigma > 0.0
            || self.dynamic_temperature
            || self.smoothing_factor > 0.0
            || self.mirostat_mode == 2
            || self.temperature_last
            || !self.sampler_order.is_empty()
    }
}

/// One reply to generate.
#[derive(Clone, Debug)]
pub struct GenerationJob {
    pub prompt_tokens: Vec<u32>,
    pub sampling: Sampling,
    /// At most this many new tokens (the context bounds it further).
    pub max_new_tokens: usize,
    /// Stop strings from the prompt mode plus the user's own.
    pub stop_strings: Vec<String>,
    /// Tokens that end the reply.
    pub eos_ids: Vec<u32>,
    /// Keep generating past end-of-sequence (until `max_new_tokens`).
    pub ban_eos: bool,
    /// A grammar the reply must follow (structured output, forced tool
    /// calls): tokens it does not allow are never sampled.
    pub constraint: Option<TokenConstraint>,
    /// Report each sampled token's log-probability and this many of the
    /// most likely alternatives (OpenAI's `logprobs`/`top_logprobs`).
    pub logprobs: Option<usize>,
}

impl GenerationJob {
    /// A greedy job (tests and tools).
    pub fn greedy(prompt_tokens: Vec<u32>, max_new_tokens: usize, eos_ids: Vec<u32>) -> Self {
        Self {
            prompt_tokens,
            sampling: Sampling::greedy(),
            max_new_tokens,
            stop_strings: Vec::new(),
            eos_ids,
            ban_eos: false,
            constraint: None,
            logprobs: None,
        }
    }
}

/// One token and its log-probability under the model (after a grammar's
/// mask, before the samplers reshape the distribution).
#[derive(Clone, Debug, PartialEq)]
pub struct TokenLogprob {
    pub id: u32,
    /// The token's text (a piece of a character shows as U+FFFD).
    pub text: String,
    pub logprob: f32,
}

/// The sampled token and the most likely ones at its place.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenLogprobs {
    pub chosen: TokenLogprob,
    pub top: Vec<TokenLogprob>,
}

/// What the engine tells the requester while a reply is generated.
#[derive(Debug)]
pub enum EngineEvent {
    /// The request waits for a free sequence slot behind `ahead` others.
    Waiting { ahead: usize },
    /// The prompt is being read: `done` of `total` tokens so far.
    Reading { done: usize, total: usize },
    /// Reply text, never splitting a UTF-8 character.
    Text(String),
    /// The next token's log-probabilities (when the job asked), sent
    /// before its text.
    Logprobs(TokenLogprobs),
    /// The reply ended; the last event.
    Finished {
        reason: FinishReason,
        stats: GenerationStats,
    },
    /// Generation failed; the last event.
    Failed(EngineError),
}
