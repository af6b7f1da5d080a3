//! `sampler_priority`: the order in which the samplers shape the
//! distribution, written as text-generation-webui writes it (one name a
//! line, or separated by commas, or a JSON list). TGW's default list is
//! the order candlelight applies anyway; another order takes a slower,
//! general path that applies the stages one by one.
//!
//! The logit processors (repetition, presence and frequency penalties,
//! DRY) always run first, on the raw logits, wherever they are listed.
//! Samplers TGW lists that candlelight does not implement (epsilon_cutoff,
//! eta_cutoff, tfs, top_a, encoder_repetition_penalty, no_repeat_ngram)
//! are accepted and do nothing, so TGW's presets load unchanged.

use serde::{Deserialize, Serialize};

/// One reorderable stage of the sampler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SamplerStage {
    TopNSigma,
    Temperature,
    DynamicTemperature,
    QuadraticSampling,
    TopK,
    TopP,
    TypicalP,
    MinP,
    Mirostat,
    Xtc,
}

impl SamplerStage {
    /// TGW's default order (and candlelight's fixed path's).
    pub const DEFAULT_ORDER: [SamplerStage; 10] = [
        SamplerStage::TopNSigma,
        SamplerStage::Temperature,
        SamplerStage::DynamicTemperature,
        SamplerStage::QuadraticSampling,
        SamplerStage::TopK,
        SamplerStage::TopP,
        SamplerStage::TypicalP,
        SamplerStage::MinP,
        SamplerStage::Mirostat,
        SamplerStage::Xtc,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SamplerStage::TopNSigma => "top_n_sigma",
            SamplerStage::Temperature => "temperature",
            SamplerStage::DynamicTemperature => "dynamic_temperature",
            SamplerStage::QuadraticSampling => "quadratic_sampling",
            SamplerStage::TopK => "top_k",
            SamplerStage::TopP => "top_p",
            SamplerStage::TypicalP => "typical_p",
            SamplerStage::MinP => "min_p",
            SamplerStage::Mirostat => "mirostat",
            SamplerStage::Xtc => "xtc",
        }
    }

    /// Stages `temperature_last` moves to the end.
    pub fn is_temperature(self) -> bool {
        matches!(
            self,
            SamplerStage::Temperature
                | SamplerStage::DynamicTemperature
                | SamplerStage::QuadraticSampling
        )
    }
}

/// TGW's default `sampler_priority`, as its Parameters tab shows it.
pub const DEFAULT_SAMPLER_PRIORITY: &str = "repetition_penalty\npresence_penalty\n\
frequency_penalty\ndry\ntop_n_sigma\ntemperature\ndynamic_temperature\nquadratic_sampling\n\
top_k\ntop_p\ntypical_p\nepsilon_cutoff\neta_cutoff\ntfs\ntop_a\nmin_p\nmirostat\nxtc\n\
encoder_repetition_penalty\nno_repeat_ngram";

/// Names that are not reorderable stages here: the logit processors
/// (always first) and TGW's samplers candlelight does not implement.
const FIXED_OR_ABSENT: [&str; 10] = [
    "repetition_penalty",
    "presence_penalty",
    "frequency_penalty",
    "dry",
    "epsilon_cutoff",
    "eta_cutoff",
    "tfs",
    "top_a",
    "encoder_repetition_penalty",
    "no_repeat_ngram",
];

/// Reads the field as text or as a list of names (presets and settings
/// written either way), keeping it as text.
pub(crate) fn text_or_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Field {
        Text(String),
        List(Vec<String>),
    }
    Ok(match Field::deserialize(d)? {
        Field::Text(text) => text,
        Field::List(names) => names.join("\n"),
    })
}

/// The most names a list may hold (TGW's has 20).
const MAX_NAMES: usize = 64;

/// The stage order `text` asks for: every stage once, those it leaves out
/// after those it names, in the default order. Empty text is the default.
pub fn parse_sampler_priority(text: &str) -> Result<Vec<SamplerStage>, String> {
    let trimmed = text.trim();
    let names: Vec<String> = if trimmed.starts_with('[') {
        serde_json::from_str(trimmed)
            .map_err(|_| "sampler_priority must be sampler names, one a line".to_string())?
    } else {
        trimmed
            .split(['\n', ','])
            .map(|n| n.trim().trim_matches('"').to_string())
            .filter(|n| !n.is_empty())
            .collect()
    };
    if names.len() > MAX_NAMES {
        return Err(format!(
            "sampler_priority may name at most {MAX_NAMES} samplers"
        ));
    }
    let mut order = Vec::new();
    for name in &names {
        let name = name.trim().to_ascii_lowercase();
        if FIXED_OR_ABSENT.contains(&name.as_str()) {
            continue;
        }
        let Some(stage) = SamplerStage::DEFAULT_ORDER
            .into_iter()
            .find(|s| s.name() == name)
        else {
            return Err(format!(
                "sampler_priority names an unknown sampler `{}`; known: {}",
                name.chars().take(40).collect::<String>(),
                SamplerStage::DEFAULT_ORDER
                    .map(SamplerStage::name)
                    .join(", ")
            ));
        };
        if order.contains(&stage) {
            return Err(format!("sampler_priority names `{name}` twice"));
        }
        order.push(stage);
    }
    for stage in SamplerStage::DEFAULT_ORDER {
        if !order.contains(&stage) {
            order.push(stage);
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tgw_default_is_the_default_order() {
        assert_eq!(
            parse_sampler_priority(DEFAULT_SAMPLER_PRIORITY).unwrap(),
            SamplerStage::DEFAULT_ORDER
        );
        assert_eq!(
            parse_sampler_priority("").unwrap(),
            SamplerStage::DEFAULT_ORDER
        );
    }

    #[test]
    fn names_may_be_lines_commas_or_a_json_list_and_the_rest_follow() {
        let order = parse_sampler_priority("min_p, temperature").unwrap();
        assert_eq!(
            &order[..3],
            [
                SamplerStage::MinP,
                SamplerStage::Temperature,
                SamplerStage::TopNSigma
            ]
        );
        assert_eq!(order.len(), 10);
        assert_eq!(
            parse_sampler_priority(r#"["xtc", "top_k"]"#).unwrap()[..2],
            [SamplerStage::Xtc, SamplerStage::TopK]
        );
        assert_eq!(
            parse_sampler_priority("dry\ntfs\nTOP_P\n").unwrap()[0],
            SamplerStage::TopP
        );
    }

    #[test]
    fn params_read_the_order_as_text_or_as_a_list() {
        let p: crate::GenerationParams =
            serde_json::from_str(r#"{"sampler_priority": ["top_k", "temperature"]}"#).unwrap();
        assert_eq!(p.sampler_priority, "top_k\ntemperature");
        assert_eq!(
            p.sampler_order()[..2],
            [SamplerStage::TopK, SamplerStage::Temperature]
        );
        let p: crate::GenerationParams = serde_json::from_str("{}").unwrap();
        assert_eq!(p.sampler_order(), SamplerStage::DEFAULT_ORDER);
    }

    #[test]
    fn unknown_and_repeated_names_are_refused_with_the_list() {
        let e = parse_sampler_priority("temperature\ntop_z").unwrap_err();
        assert!(e.contains("`top_z`") && e.contains("min_p"), "{e}");
        assert!(parse_sampler_priority("top_k,top_k")
            .unwrap_err()
            .contains("twice"));
        assert!(parse_sampler_priority("[1, 2]").is_err());
    }
}
