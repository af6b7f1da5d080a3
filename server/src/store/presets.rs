//! Generation presets in text-generation-webui's format: a YAML mapping with
//! only the keys that differ from the neutral settings.

use std::path::Path;

use domain::GenerationParams;
use serde_json::{Map, Value};

use super::{folder::Folder, StoreError};

pub const DEFAULTS: &[(&str, &str)] = &[
    (
        "Top-P.yaml",
        include_str!("../../defaults/presets/Top-P.yaml"),
    ),
    (
        "Creative.yaml",
        include_str!("../../defaults/presets/Creative.yaml"),
    ),
    (
        "Deterministic.yaml",
        include_str!("../../defaults/presets/Deterministic.yaml"),
    ),
    (
        "min_p.yaml",
        include_str!("../../defaults/presets/min_p.yaml"),
    ),
    (
        "Qwen (recommended).yaml",
        include_str!("../../defaults/presets/Qwen (recommended).yaml"),
    ),
];

/// A loaded preset and the keys it had that this engine does not support
/// (such as `epsilon_cutoff`), so the UI can say they were ignored.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedPreset {
    pub params: GenerationParams,
    pub ignored: Vec<String>,
}

pub struct Presets {
    folder: Folder,
}

impl Presets {
    pub fn new(root: &Path) -> Self {
        Self {
            folder: Folder::new(root, "presets", "preset"),
        }
    }

    pub fn seed(&self) -> Result<(), StoreError> {
        self.folder.seed(DEFAULTS)
    }

    pub fn list(&self) -> Result<Vec<String>, StoreError> {
        self.folder.list()
    }

    pub fn load(&self, name: &str) -> Result<LoadedPreset, StoreError> {
        let (path, map) = self.folder.read_mapping(name)?;
        apply(&GenerationParams::neutral(), &map).map_err(|e| StoreError::malformed(&path, e))
    }

    /// Writes only the values that differ from neutral.
    pub fn save(&self, name: &str, params: &GenerationParams) -> Result<(), StoreError> {
        params
            .check()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let neutral = to_map(&GenerationParams::neutral());
        let mine = to_map(params);
        let diff: Map<String, Value> = mine
            .into_iter()
            .filter(|(k, v)| neutral.get(k) != Some(v))
            .collect();
        self.folder.write_mapping(name, &diff)?;
        Ok(())
    }

    pub fn delete(&self, name: &str) -> Result<(), StoreError> {
        self.folder.delete(name)
    }
}

/// The parameters as a mapping, each number as the user typed it: the
/// fields are f32, and 1.23f32 widened to f64 reads 1.2300000190734863, so
/// every fraction is written back through f32's shortest decimal form.
pub(super) fn to_map(params: &GenerationParams) -> Map<String, Value> {
    let Ok(Value::Object(map)) = serde_json::to_value(params) else {
        return Map::new();
    };
    map.into_iter()
        .map(|(key, value)| (key, shortest_decimal(value)))
        .collect()
}

fn shortest_decimal(value: Value) -> Value {
    match value.as_f64() {
        Some(x) if value.is_f64() && x.fract() != 0.0 => (x as f32)
            .to_string()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(value, Value::Number),
        _ => value,
    }
}

/// `base` with the preset's known keys set; unknown keys are reported.
pub fn apply(base: &GenerationParams, preset: &Map<String, Value>) -> Result<LoadedPreset, String> {
    let mut merged = to_map(base);
    let mut ignored = Vec::new();
    for (key, value) in preset {
        if merged.contains_key(key) {
            merged.insert(key.clone(), value.clone());
        } else {
            ignored.push(key.clone());
        }
    }
    let params: GenerationParams = serde_json::from_value(Value::Object(merged))
        .map_err(|e| format!("a value has the wrong type: {e}"))?;
    params.check().map_err(|e| e.to_string())?;
    Ok(LoadedPreset { params, ignored })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Presets) {
        let dir = tempfile::tempdir().unwrap();
        let presets = Presets::new(dir.path());
        presets.seed().unwrap();
        (dir, presets)
    }

    #[test]
    fn shipped_presets_load_on_top_of_neutral() {
        let (_d, presets) = store();
        let names = presets.list().unwrap();
        for n in ["Creative", "Deterministic", "Top-P", "min_p"] {
            assert!(names.contains(&n.to_string()), "{names:?}");
        }
        let top_p = presets.load("Top-P").unwrap();
        assert_eq!(top_p.params.top_p, 0.95);
        assert_eq!(top_p.params.temperature, 1.0);
        assert!(!presets.load("Deterministic").unwrap().params.do_sample);
    }

    #[test]
    fn save_writes_only_differences_and_round_trips() {
        let (_d, presets) = store();
        let params = GenerationParams {
            temperature: 0.6,
            top_k: 40,
            ..GenerationParams::neutral()
        };
        presets.save("Mine", &params).unwrap();
        let text = std::fs::read_to_string(presets.folder.dir.join("Mine.yaml")).unwrap();
        let mut keys: Vec<&str> = text.lines().map(|l| l.split(':').next().unwrap()).collect();
        keys.sort();
        assert_eq!(keys, ["temperature", "top_k"], "{text}");
        assert_eq!(presets.load("Mine").unwrap().params, params);
    }

    #[test]
    fn saved_values_are_the_ones_typed_without_float_noise() {
        let (_d, presets) = store();
        let params = GenerationParams {
            temperature: 1.23,
            top_p: 0.9,
            min_p: 0.07,
            ..GenerationParams::neutral()
        };
        presets.save("Typed", &params).unwrap();
        let text = std::fs::read_to_string(presets.folder.dir.join("Typed.yaml")).unwrap();
        assert!(text.contains("temperature: 1.23\n"), "{text}");
        assert!(text.contains("top_p: 0.9\n"), "{text}");
        assert!(text.contains("min_p: 0.07\n"), "{text}");
        assert_eq!(presets.load("Typed").unwrap().params, params);
    }

    #[test]
    fn unknown_keys_are_reported_and_bad_values_refused() {
        let (_d, presets) = store();
        std::fs::write(
            presets.folder.dir.join("X.yaml"),
            "min_p: 0.1\nepsilon_cutoff: 3\ndry_multiplier: 0.8\nxtc_probability: 0.5\n",
        )
        .unwrap();
        let x = presets.load("X").unwrap();
        assert_eq!(x.ignored, vec!["epsilon_cutoff".to_string()]);
        assert_eq!(
            (x.params.dry_multiplier, x.params.xtc_probability),
            (0.8, 0.5)
        );
        std::fs::write(presets.folder.dir.join("Bad.yaml"), "top_p: 7\n").unwrap();
        let err = presets.load("Bad").unwrap_err().to_string();
        assert!(err.contains("top_p must be in (0, 1]"), "{err}");
        std::fs::write(presets.folder.dir.join("Typo.yaml"), "top_p: high\n").unwrap();
        assert!(presets.load("Typo").is_err());
    }

    /// A sampler order reads as TGW's text or as a YAML list, saves as
    /// text and loads back; an unknown sampler is refused by name.
    #[test]
    fn sampler_priority_loads_as_text_or_list_and_round_trips() {
        let (_d, presets) = store();
        std::fs::write(
            presets.folder.dir.join("Order.yaml"),
            "min_p: 0.1\nsampler_priority:\n  - min_p\n  - temperature\n",
        )
        .unwrap();
        let loaded = presets.load("Order").unwrap().params;
        assert_eq!(
            loaded.sampler_order()[..2],
            [
                domain::SamplerStage::MinP,
                domain::SamplerStage::Temperature
            ]
        );
        presets.save("Saved", &loaded).unwrap();
        assert_eq!(presets.load("Saved").unwrap().params, loaded);
        std::fs::write(
            presets.folder.dir.join("Unknown.yaml"),
            "sampler_priority: |-\n  temperature\n  top_z\n",
        )
        .unwrap();
        let err = presets.load("Unknown").unwrap_err().to_string();
        assert!(err.contains("unknown sampler `top_z`"), "{err}");
    }
}
