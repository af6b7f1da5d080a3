use serde::{Deserialize, Serialize};

use crate::sampler_priority::{parse_sampler_priority, SamplerStage, DEFAULT_SAMPLER_PRIORITY};

/// Sampling parameters, with text-generation-webui's names and meanings so
/// its users (and its presets) feel at home.
///
/// Neutral values switch a sampler off: `top_k = 0`, `top_p = 1`,
/// `min_p = 0`, `typical_p = 1`, `repetition_penalty = 1`, penalties `0`.
/// `temperature = 0` or `do_sample = false` means greedy decoding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerationParams {
    pub max_new_tokens: u32,
    pub temperature: f32,
    pub top_p: f32,
    pub top_k: u32,
    pub min_p: f32,
    pub typical_p: f32,
    pub repetition_penalty: f32,
    /// How many of the most recent tokens the repetition penalties look at;
    /// 0 means all of them.
    pub repetition_penalty_range: u32,
    pub presence_penalty: f32,
    pub frequency_penalty: f32,
    pub do_sample: bool,
    /// -1 picks a random seed.
    pub seed: i64,
    /// Generation ends (and the text is cut) where any of these appear.
    pub custom_stopping_strings: Vec<String>,
    /// Keep generating past the end-of-sequence token (until max_new_tokens).
    pub ban_eos_token: bool,
    /// The prompt is cut (oldest turns first) to this many tokens minus
    /// `max_new_tokens`; 0 means the model's whole context.
    pub truncation_length: u32,
    /// DRY ("don't repeat yourself"): a token that would extend a sequence
    /// already in the context by more than `dry_allowed_length` tokens
    /// loses `dry_multiplier * dry_base ^ (length - dry_allowed_length)`
    /// from its logit. 0 is off.
    pub dry_multiplier: f32,
    pub dry_base: f32,
    pub dry_allowed_length: u32,
    /// Strings that end a repeated sequence for DRY, written as
    /// text-generation-webui writes them: JSON strings separated by commas.
    pub dry_sequence_breakers: String,
    /// XTC ("exclude top choices"): with probability `xtc_probability`,
    /// every token at least `xtc_threshold` likely is removed but the least
    /// likely of them. 0 is off.
    pub xtc_threshold: f32,
    pub xtc_probability: f32,
    /// Keep only tokens whose logit is within this many standard deviations
    /// of the largest. 0 is off.
    pub top_n_sigma: f32,
    /// Dynamic temperature (replaces `temperature`): from `dynatemp_low`
    /// where the model is sure to `dynatemp_high` where it is not.
    pub dynamic_temperature: bool,
    pub dynatemp_low: f32,
    pub dynatemp_high: f32,
    pub dynatemp_exponent: f32,
    /// Quadratic sampling; 0 is off.
    pub smoothing_factor: f32,
    pub smoothing_curve: f32,
    /// 0 off, 2 mirostat 2 (1, the first version, is not offered).
    pub mirostat_mode: u32,
    pub mirostat_tau: f32,
    pub mirostat_eta: f32,
    /// The temperature after the truncation samplers, not before (in a
    /// custom `sampler_priority` too, wherever it lists them).
    pub temperature_last: bool,
    /// The order of the samplers, one name a line (TGW's names and
    /// default; see `sampler_priority.rs`).
    #[serde(deserialize_with = "crate::sampler_priority::text_or_list")]
    pub sampler_priority: String,
    /// A reply may use all the context the prompt leaves, not only
    /// `max_new_tokens` (which still sets how much room the prompt keeps).
    pub auto_max_new_tokens: bool,
}

/// text-generation-webui's default DRY sequence breakers: a new line, a
/// colon (chat names), a quote, an asterisk (roleplay actions).
pub const DEFAULT_DRY_SEQUENCE_BREAKERS: &str = r#""\n", ":", "\"", "*""#;

impl Default for GenerationParams {
    /// Qwen's recommended sampling for its instruct models: focused but not
    /// repetitive, and sensible for small models too.
    fn default() -> Self {
        Self {
            max_new_tokens: 512,
            temperature: 0.7,
            top_p: 0.8,
            top_k: 20,
            min_p: 0.0,
            typical_p: 1.0,
            repetition_penalty: 1.05,
            repetition_penalty_range: 1024,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            do_sample: true,
            seed: -1,
            custom_stopping_strings: Vec::new(),
            ban_eos_token: false,
            truncation_length: 0,
            dry_multiplier: 0.0,
            dry_base: 1.75,
            dry_allowed_length: 2,
            dry_sequence_breakers: DEFAULT_DRY_SEQUENCE_BREAKERS.to_string(),
            xtc_threshold: 0.1,
            xtc_probability: 0.0,
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
            sampler_priority: DEFAULT_SAMPLER_PRIORITY.to_string(),
            auto_max_new_tokens: false,
        }
    }
}

/// A sampling parameter outside its valid range; the message names the
/// parameter and the range.
#[derive(Clone, Debug, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[error("{message}")]
pub struct ParamError {
    /// The parameter's name, as the API and the Parameters tab call it.
    pub field: String,
    pub message: String,
}

/// Parameters that passed [`GenerationParams::validate`]. Generation takes
/// only this type, so an unchecked request cannot reach the engine; it
/// reads as the parameters it holds.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidParams(pub(crate) GenerationParams);

impl std::ops::Deref for ValidParams {
    type Target = GenerationParams;

    fn deref(&self) -> &GenerationParams {
        &self.0
    }
}

impl ValidParams {
    /// The same parameters with another seed (any non-negative seed is
    /// valid): each of several choices samples with its own.
    pub fn with_seed(mut self, seed: i64) -> Self {
        self.0.seed = seed.max(-1);
        self
    }

    pub fn into_inner(self) -> GenerationParams {
        self.0
    }
}

impl GenerationParams {
    /// Every sampler switched off (temperature 1): what text-generation-webui
    /// presets are written against, and what OpenAI clients expect when
    /// they leave a field out.
    pub fn neutral() -> Self {
        Self {
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
            min_p: 0.0,
            typical_p: 1.0,
            repetition_penalty: 1.0,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            do_sample: true,
            ..Self::default()
        }
    }

    /// Greedy decoding: the most likely token every time.
    pub fn greedy(max_new_tokens: u32) -> Self {
        Self {
            max_new_tokens,
            do_sample: false,
            temperature: 0.0,
            ..Self::default()
        }
    }

    /// The DRY sequence breakers as strings (they were checked by
    /// [`GenerationParams::check`]; unreadable text gives none).
    pub fn dry_breakers(&self) -> Vec<String> {
        parse_breakers(&self.dry_sequence_breakers).unwrap_or_default()
    }

    /// The sampler stages in the order asked for (checked by
    /// [`GenerationParams::check`]; unreadable text gives the default).
    pub fn sampler_order(&self) -> Vec<SamplerStage> {
        parse_sampler_priority(&self.sampler_priority)
            .unwrap_or_else(|_| SamplerStage::DEFAULT_ORDER.to_vec())
    }

    /// True when sampling reduces to picking the most likely token.
    pub fn is_greedy(&self) -> bool {
        !self.do_sample || self.temperature == 0.0 || self.top_k == 1
    }
}

/// The most DRY sequence breakers, and the longest one, a request may
/// name (each is tokenized per request).
pub const MAX_DRY_BREAKERS: usize = 32;
pub const MAX_DRY_BREAKER_CHARS: usize = 64;

/// `"\n", ":", "\""` → the strings, or why the text is not that.
pub fn parse_breakers(text: &str) -> Result<Vec<String>, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    let list = if trimmed.starts_with('[') {
        trimmed.to_string()
    } else {
        format!("[{trimmed}]")
    };
    let breakers: Vec<String> = serde_json::from_str(&list).map_err(|_| {
        "dry_sequence_breakers must be JSON strings separated by commas, like \"\\n\", \":\""
            .to_string()
    })?;
    if breakers.len() > MAX_DRY_BREAKERS {
        return Err(format!(
            "dry_sequence_breakers may hold at most {MAX_DRY_BREAKERS} strings"
        ));
    }
    if breakers
        .iter()
        .any(|b| b.is_empty() || b.chars().count() > MAX_DRY_BREAKER_CHARS)
    {
        return Err(format!(
            "each of dry_sequence_breakers must have 1 to {MAX_DRY_BREAKER_CHARS} characters"
        ));
    }
    Ok(breakers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_breakers_read_as_text_generation_webui_writes_them() {
        let p = GenerationParams::default();
        assert_eq!(p.dry_breakers(), ["\n", ":", "\"", "*"]);
        assert_eq!(parse_breakers(r#"["a", "b"]"#).unwrap(), ["a", "b"]);
        assert_eq!(parse_breakers("  ").unwrap(), Vec::<String>::new());
        assert!(parse_breakers("\\n, :")
            .unwrap_err()
            .contains("JSON strings"));
        let many = vec!["\"x\""; MAX_DRY_BREAKERS + 1].join(",");
        assert!(parse_breakers(&many).unwrap_err().contains("at most 32"));
    }

    #[test]
    fn defaults_are_valid() {
        GenerationParams::default().validate().unwrap();
        GenerationParams::greedy(10).check().unwrap();
    }

    #[test]
    fn out_of_range_values_are_named() {
        let bad = |f: fn(&mut GenerationParams)| {
            let mut p = GenerationParams::default();
            f(&mut p);
            p.check().unwrap_err().message
        };
        assert_eq!(bad(|p| p.top_p = 0.0), "top_p must be in (0, 1]");
        assert_eq!(bad(|p| p.top_p = 1.5), "top_p must be in (0, 1]");
        assert_eq!(
            bad(|p| p.temperature = -1.0),
            "temperature must be 0 (greedy) or in [0.0001, 5]"
        );
        assert_eq!(
            bad(|p| p.temperature = 1e-40),
            "temperature must be 0 or a normal number, not a subnormal one"
        );
        assert_eq!(
            bad(|p| p.temperature = 1e-9),
            "temperature must be 0 (greedy) or in [0.0001, 5]"
        );
        assert_eq!(
            bad(|p| p.max_new_tokens = 0),
            "max_new_tokens must be in [1, 32768]"
        );
        assert_eq!(bad(|p| p.min_p = f32::NAN), "min_p must be a finite number");
        assert_eq!(
            bad(|p| p.seed = -7),
            "seed must be -1 (random) or a non-negative integer"
        );
    }

    #[test]
    fn missing_fields_take_defaults() {
        let p: GenerationParams = serde_json::from_str(r#"{"temperature": 0}"#).unwrap();
        assert_eq!(p.temperature, 0.0);
        assert_eq!(p.max_new_tokens, GenerationParams::default().max_new_tokens);
        assert!(p.is_greedy());
    }
}
