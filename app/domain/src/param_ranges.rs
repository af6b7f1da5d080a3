//! Where each numeric sampling parameter may lie: one table that both
//! `GenerationParams::validate` and the Parameters tab's fields read, so the
//! page never offers a value the server refuses, nor hides one it accepts.

use super::{
    params::parse_breakers, parse_sampler_priority, GenerationParams, ParamError, ValidParams,
};

/// One numeric parameter: its valid range, what its field's slider covers,
/// and how to read and write it.
#[derive(Clone, Copy)]
pub struct NumericParam {
    /// The name the API, presets and the Parameters tab use.
    pub name: &'static str,
    /// The smallest ordinary value; whether it is allowed itself is
    /// `min_inclusive` (top_p 0 would keep no token).
    pub min: f64,
    pub min_inclusive: bool,
    pub max: f64,
    /// A value outside the range that means "off" or "automatic":
    /// temperature 0 (greedy), truncation_length 0, seed -1.
    pub special: Option<f64>,
    /// The slider's end; the number box still takes anything up to `max`
    /// (sliders over a range of a million are unusable).
    pub slider_max: f64,
    pub step: f64,
    /// The allowed values in words, for the error message.
    pub allowed: &'static str,
    pub help: &'static str,
    pub get: fn(&GenerationParams) -> f64,
    pub set: fn(&mut GenerationParams, f64),
}

impl NumericParam {
    /// The lowest value allowed at all (the special value where it is
    /// below the range): where the field's slider starts.
    pub fn lowest(&self) -> f64 {
        self.special.map_or(self.min, |s| s.min(self.min))
    }

    /// Whether `value` may be used: finite, normal (subnormals slow the
    /// sampler down and mean nothing), and in range or the special value.
    pub fn check(&self, value: f64) -> Result<(), &'static str> {
        if !value.is_finite() {
            return Err("a finite number");
        }
        if (value as f32).is_subnormal() {
            return Err("0 or a normal number, not a subnormal one");
        }
        let above_min = if self.min_inclusive {
            value >= self.min
        } else {
            value > self.min
        };
        if self.special == Some(value) || (above_min && value <= self.max) {
            Ok(())
        } else {
            Err(self.allowed)
        }
    }
}

/// Below this a temperature is greedy decoding in all but name (and far
/// below it, logits / temperature overflow); 0 asks for greedy outright.
pub const MIN_TEMPERATURE: f32 = 1e-4;

/// Upper bound on one reply; the context length bounds it further.
pub const MAX_NEW_TOKENS_LIMIT: u32 = 32_768;

/// Largest context we accept a truncation length for (tokens).
const MAX_CONTEXT: f64 = 1_048_576.0;

macro_rules! numeric {
    ($name:ident, $min:expr, $incl:expr, $max:expr, $special:expr, $slider:expr, $step:expr, $allowed:expr, $help:expr) => {
        NumericParam {
            name: stringify!($name),
            min: $min,
            min_inclusive: $incl,
            max: $max,
            special: $special,
            slider_max: $slider,
            step: $step,
            allowed: $allowed,
            help: $help,
            get: |p| p.$name as f64,
            set: |p, v| p.$name = v as _,
        }
    };
}

/// Every numeric parameter, in the order the Parameters tab shows them.
pub const NUMERIC_PARAMS: &[NumericParam] = &[
    numeric!(
        max_new_tokens,
        1.0,
        true,
        MAX_NEW_TOKENS_LIMIT as f64,
        None,
        4096.0,
        1.0,
        "in [1, 32768]",
        "Longest reply, in tokens"
    ),
    numeric!(
        temperature,
        MIN_TEMPERATURE as f64,
        true,
        5.0,
        Some(0.0),
        5.0,
        0.01,
        "0 (greedy) or in [0.0001, 5]",
        "Randomness; 0 is greedy"
    ),
    numeric!(
        top_p,
        0.0,
        false,
        1.0,
        None,
        1.0,
        0.01,
        "in (0, 1]",
        "Keep the most likely tokens whose probabilities add up to this; 1 is off"
    ),
    numeric!(
        top_k,
        0.0,
        true,
        262_144.0,
        None,
        200.0,
        1.0,
        "in [0, 262144]",
        "Keep only the k most likely tokens; 0 is off"
    ),
    numeric!(
        min_p,
        0.0,
        true,
        1.0,
        None,
        1.0,
        0.01,
        "in [0, 1]",
        "Drop tokens less likely than this fraction of the best one; 0 is off"
    ),
    numeric!(
        typical_p,
        0.0,
        false,
        1.0,
        None,
        1.0,
        0.01,
        "in (0, 1]",
        "Locally typical sampling; 1 is off"
    ),
    numeric!(
        repetition_penalty,
        0.0,
        false,
        10.0,
        None,
        2.0,
        0.01,
        "in (0, 10]",
        "Penalise tokens already in the context; 1 is off"
    ),
    numeric!(
        repetition_penalty_range,
        0.0,
        true,
        MAX_CONTEXT,
        None,
        4096.0,
        1.0,
        "in [0, 1048576]",
        "How many recent tokens the penalties see; 0 is all"
    ),
    numeric!(
        presence_penalty,
        -2.0,
        true,
        2.0,
        None,
        2.0,
        0.05,
        "in [-2, 2]",
        "Penalise any token already present"
    ),
    numeric!(
        frequency_penalty,
        -2.0,
        true,
        2.0,
        None,
        2.0,
        0.05,
        "in [-2, 2]",
        "Penalise tokens by how often they appeared"
    ),
    numeric!(
        seed,
        0.0,
        true,
        i64::MAX as f64,
        Some(-1.0),
        4_294_967_295.0,
        1.0,
        "-1 (random) or a non-negative integer",
        "-1 is random"
    ),
    numeric!(
        truncation_length,
        16.0,
        true,
        MAX_CONTEXT,
        Some(0.0),
        32_768.0,
        256.0,
        "0 (the model's context) or in [16, 1048576]",
        "Prompt limit in tokens (oldest turns go first); 0 is the model's context"
    ),
    numeric!(
        dry_multiplier,
        0.0,
        true,
        5.0,
        None,
        5.0,
        0.05,
        "in [0, 5]",
        "DRY: how hard repeating a sequence from the context is penalised; 0 is off, 0.8 is typical"
    ),
    numeric!(
        dry_base,
        1.0,
        false,
        4.0,
        None,
        4.0,
        0.01,
        "in (1, 4]",
        "DRY: how fast the penalty grows with the repeated sequence's length"
    ),
    numeric!(
        dry_allowed_length,
        1.0,
        true,
        20.0,
        None,
        20.0,
        1.0,
        "in [1, 20]",
        "DRY: sequences this long may repeat without penalty"
    ),
    numeric!(
        xtc_threshold,
        0.0,
        true,
        0.5,
        None,
        0.5,
        0.01,
        "in [0, 0.5]",
        "XTC: tokens at least this likely are top choices"
    ),
    numeric!(
        xtc_probability,
        0.0,
        true,
        1.0,
        None,
        1.0,
        0.01,
        "in [0, 1]",
        "XTC: how often all top choices but the least likely are removed; 0 is off"
    ),
    numeric!(
        top_n_sigma,
        0.0,
        true,
        5.0,
        None,
        5.0,
        0.05,
        "in [0, 5]",
        "Keep tokens whose logit is within n standard deviations of the best; 0 is off"
    ),
    numeric!(
        dynatemp_low,
        0.0,
        true,
        5.0,
        None,
        5.0,
        0.01,
        "in [0, 5]",
        "Dynamic temperature: the temperature where the model is sure"
    ),
    numeric!(
        dynatemp_high,
        0.0,
        true,
        5.0,
        None,
        5.0,
        0.01,
        "in [0, 5]",
        "Dynamic temperature: the temperature where the model is unsure"
    ),
    numeric!(
        dynatemp_exponent,
        0.0,
        false,
        5.0,
        None,
        5.0,
        0.01,
        "in (0, 5]",
        "Dynamic temperature: how the temperature follows the uncertainty"
    ),
    numeric!(
        smoothing_factor,
        0.0,
        true,
        10.0,
        None,
        10.0,
        0.01,
        "in [0, 10]",
        "Quadratic sampling: how strongly unlikely tokens are pushed down; 0 is off"
    ),
    numeric!(
        smoothing_curve,
        1.0,
        true,
        3.0,
        None,
        3.0,
        0.01,
        "in [1, 3]",
        "Quadratic sampling: 1 is quadratic, higher spares the likely tokens more"
    ),
    numeric!(
        mirostat_mode,
        2.0,
        true,
        2.0,
        Some(0.0),
        2.0,
        2.0,
        "0 (off) or in [2, 2]",
        "2 is mirostat 2 (keeps the surprise near tau); 0 is off"
    ),
    numeric!(
        mirostat_tau,
        0.0,
        true,
        10.0,
        None,
        10.0,
        0.01,
        "in [0, 10]",
        "Mirostat: the target surprise, in bits per token"
    ),
    numeric!(
        mirostat_eta,
        0.0,
        true,
        1.0,
        None,
        1.0,
        0.01,
        "in [0, 1]",
        "Mirostat: how fast it corrects toward tau"
    ),
];

/// Validation against the table: `GenerationParams` is plain data, and
/// what makes it valid lives here beside the ranges.
impl GenerationParams {
    /// Checks every field once, at the edge, so the engine never sees a
    /// value it could choke on.
    pub fn validate(self) -> Result<ValidParams, ParamError> {
        self.check()?;
        Ok(ValidParams(self))
    }

    /// Checks every field against `NUMERIC_PARAMS` (and the stop strings).
    pub fn check(&self) -> Result<(), ParamError> {
        for entry in NUMERIC_PARAMS {
            entry
                .check((entry.get)(self))
                .map_err(|allowed| ParamError {
                    field: entry.name.to_string(),
                    message: format!("{} must be {allowed}", entry.name),
                })?;
        }
        parse_breakers(&self.dry_sequence_breakers).map_err(|message| ParamError {
            field: "dry_sequence_breakers".into(),
            message,
        })?;
        parse_sampler_priority(&self.sampler_priority).map_err(|message| ParamError {
            field: "sampler_priority".into(),
            message,
        })?;
        if self.custom_stopping_strings.iter().any(String::is_empty) {
            return Err(ParamError {
                field: "custom_stopping_strings".into(),
                message: "custom_stopping_strings must be non-empty strings".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every numeric field of `GenerationParams` (as it serializes) has a
    /// row, and every row names a field: a new sampler without a range
    /// fails here.
    #[test]
    fn every_numeric_field_is_in_the_table() {
        let value = serde_json::to_value(GenerationParams::default()).unwrap();
        let mut numeric: Vec<&str> = value
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, v)| v.is_number())
            .map(|(k, _)| k.as_str())
            .collect();
        numeric.sort_unstable();
        let mut table: Vec<&str> = NUMERIC_PARAMS.iter().map(|p| p.name).collect();
        table.sort_unstable();
        assert_eq!(numeric, table);
    }

    /// Each row's `allowed` text says the bounds the row enforces: the
    /// interval's brackets and ends, and the special value where there is
    /// one; values just outside the bounds are refused.
    #[test]
    fn each_allowed_text_matches_its_bounds() {
        // The table's numbers are f32 values widened: shown as f32.
        let shown = |x: f64| format!("{}", x as f32);
        for p in NUMERIC_PARAMS {
            let open = if p.min_inclusive { '[' } else { '(' };
            let interval = format!("in {open}{}, {}]", shown(p.min), shown(p.max));
            let unbounded = p.max == i64::MAX as f64 && p.min == 0.0;
            assert!(
                p.allowed.ends_with(&interval)
                    || (unbounded && p.allowed.ends_with("a non-negative integer")),
                "{}: {} (expected {interval})",
                p.name,
                p.allowed
            );
            if let Some(special) = p.special {
                assert!(
                    p.allowed.starts_with(&shown(special)),
                    "{}: {}",
                    p.name,
                    p.allowed
                );
            }
            let above = p.max + p.max.abs().max(1.0) * 1e-3;
            assert_eq!(p.check(above), Err(p.allowed), "{} above its max", p.name);
            let below = p.min - p.min.abs().max(1.0) * 1e-3;
            if p.special != Some(below) {
                assert_eq!(p.check(below), Err(p.allowed), "{} below its min", p.name);
            }
            assert_eq!(
                p.check(p.min).is_ok(),
                p.min_inclusive || p.special == Some(p.min),
                "{} at its min",
                p.name
            );
            assert!(p.check(p.max).is_ok(), "{} at its max", p.name);
        }
    }

    #[test]
    fn defaults_and_slider_ends_are_allowed() {
        let p = GenerationParams::default();
        for entry in NUMERIC_PARAMS {
            entry.check((entry.get)(&p)).unwrap();
            entry.check(entry.slider_max).unwrap();
            assert!(entry.slider_max <= entry.max, "{}", entry.name);
        }
    }
}
