//! Characters in text-generation-webui's format: `characters/<name>.yaml`
//! (or `.yml`, `.json`) with `name`, `greeting` and `context`, plus the older
//! Pygmalion-style keys TGW still reads. Keys we do not know are kept when a
//! character is saved again.

use std::path::Path;

use app::types::Character;
use serde_json::{Map, Value};

use super::{folder::Folder, StoreError};

pub const DEFAULTS: &[(&str, &str)] = &[
    (
        "AI助理.yaml",
        include_str!("../../defaults/characters/AI助理.yaml"),
    ),
    (
        "Assistant.yaml",
        include_str!("../../defaults/characters/Assistant.yaml"),
    ),
    (
        "Captain Mara.yaml",
        include_str!("../../defaults/characters/Captain Mara.yaml"),
    ),
];

pub struct Characters {
    folder: Folder,
}

impl Characters {
    pub fn new(root: &Path) -> Self {
        Self {
            folder: Folder::new(root, "characters", "character"),
        }
    }

    pub fn seed(&self) -> Result<(), StoreError> {
        self.folder.seed(DEFAULTS)
    }

    pub fn list(&self) -> Result<Vec<String>, StoreError> {
        self.folder.list()
    }

    pub fn load(&self, name: &str) -> Result<Character, StoreError> {
        let (_, map) = self.folder.read_mapping(name)?;
        Ok(from_mapping(name, &map))
    }

    /// Saves under `character.name`, keeping keys of an existing file that we
    /// do not edit (card fields, for example).
    pub fn save(&self, character: &Character) -> Result<(), StoreError> {
        let mut map = match self.folder.read_mapping(&character.name) {
            Ok((_, map)) => map,
            Err(StoreError::NotFound { .. }) => Map::new(),
            Err(e) => return Err(e),
        };
        map.insert("name".into(), Value::String(character.name.clone()));
        map.insert("greeting".into(), Value::String(character.greeting.clone()));
        map.insert("context".into(), Value::String(character.context.clone()));
        self.folder.write_mapping(&character.name, &map)?;
        Ok(())
    }

    pub fn delete(&self, name: &str) -> Result<(), StoreError> {
        self.folder.delete(name)
    }

    /// The folder, for pictures and imports that sit beside the YAML files.
    pub fn dir(&self) -> &Path {
        &self.folder.dir
    }
}

fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// text-generation-webui's reading of a character file, older keys included.
pub fn from_mapping(file_name: &str, map: &Map<String, Value>) -> Character {
    let name = text(map, "name")
        .or_else(|| text(map, "char_name"))
        .unwrap_or_else(|| file_name.to_string());
    let greeting = text(map, "greeting")
        .or_else(|| text(map, "char_greeting"))
        .unwrap_or_default();
    let context = text(map, "context").unwrap_or_else(|| pygmalion_context(&name, map));
    Character {
        name,
        context,
        greeting,
    }
}

/// The context TGW builds from Pygmalion-style keys.
fn pygmalion_context(name: &str, map: &Map<String, Value>) -> String {
    let mut out = String::new();
    if let Some(persona) = text(map, "char_persona") {
        out.push_str(&format!("{name}'s Persona: {persona}\n"));
    }
    if let Some(scenario) = text(map, "world_scenario") {
        out.push_str(&format!("Scenario: {scenario}\n"));
    }
    if let Some(example) = text(map, "example_dialogue") {
        out.push_str(example.trim());
        out.push('\n');
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Characters) {
        let dir = tempfile::tempdir().unwrap();
        let chars = Characters::new(dir.path());
        chars.seed().unwrap();
        (dir, chars)
    }

    #[test]
    fn shipped_characters_load() {
        let (_d, chars) = store();
        assert_eq!(
            chars.list().unwrap(),
            vec!["AI助理", "Assistant", "Captain Mara"]
        );
        let ai = chars.load("AI助理").unwrap();
        assert_eq!(ai.name, "AI助理");
        assert!(ai.greeting.contains("你好"));
        assert!(ai.context.contains("{{char}}"));
    }

    #[test]
    fn yaml_round_trips_and_keeps_unknown_keys() {
        let (_d, chars) = store();
        std::fs::write(
            chars.dir().join("Zed.yaml"),
            "name: Zed\ngreeting: Hi\ncontext: |-\n  Line one\n  Line two\ncreator_notes: keep me\n",
        )
        .unwrap();
        let mut zed = chars.load("Zed").unwrap();
        assert_eq!(zed.context, "Line one\nLine two");
        zed.greeting = "Hello there".into();
        chars.save(&zed).unwrap();
        assert_eq!(chars.load("Zed").unwrap(), zed);
        let text = std::fs::read_to_string(chars.dir().join("Zed.yaml")).unwrap();
        assert!(text.contains("creator_notes: keep me"), "{text}");
    }

    #[test]
    fn older_keys_and_json_files_are_read() {
        let (_d, chars) = store();
        std::fs::write(
            chars.dir().join("Old.json"),
            r#"{"char_name": "Old", "char_persona": "grumpy", "world_scenario": "a shop", "char_greeting": "What?", "example_dialogue": "You: hi\nOld: go away"}"#,
        )
        .unwrap();
        let old = chars.load("Old").unwrap();
        assert_eq!(old.greeting, "What?");
        assert_eq!(
            old.context,
            "Old's Persona: grumpy\nScenario: a shop\nYou: hi\nOld: go away"
        );
    }

    #[test]
    fn malformed_yaml_is_refused_with_the_file_named() {
        let (_d, chars) = store();
        std::fs::write(chars.dir().join("Bad.yaml"), "name: [unclosed\n").unwrap();
        let err = chars.load("Bad").unwrap_err().to_string();
        assert!(
            err.contains("Bad.yaml") && err.contains("not valid"),
            "{err}"
        );
        std::fs::write(chars.dir().join("List.yaml"), "- a\n- b\n").unwrap();
        assert!(chars.load("List").is_err());
    }

    #[test]
    fn missing_and_unsafe_names() {
        let (_d, chars) = store();
        assert!(matches!(
            chars.load("Nobody"),
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            chars.load("../etc/passwd"),
            Err(StoreError::InvalidName(_))
        ));
    }
}
