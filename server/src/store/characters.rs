//! Characters in text-generation-webui's format: `characters/<name>.yaml`
//! (or `.yml`, `.json`) with `name`, `greeting` and `context`, plus the older
//! Pygmalion-style keys TGW still reads. Keys we do not know are kept when a
//! character is saved again.

use std::{
    fs,
    path::{Path, PathBuf},
};

use domain::Character;
use serde_json::{Map, Value};

use super::{
    atomic::write_atomic,
    card::{self, read_lore},
    folder::Folder,
    names::check_name,
    StoreError,
};

/// Picture file types, as text-generation-webui looks for them.
const PICTURE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg"];
/// Larger uploads are refused rather than stored.
pub const MAX_PICTURE_BYTES: usize = 8 << 20;

/// What an imported card became.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportReport {
    /// The character's name (a suffix is added if the name was taken).
    pub name: String,
    /// Card fields mapped into the prompt.
    pub used: Vec<String>,
    /// Card fields kept in the file but not used in prompts.
    pub kept: Vec<String>,
}

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
    /// do not edit (card fields, for example). With `copy_from` (Save as), the
    /// other character's extra keys and picture come along.
    ///
    /// Saving over a damaged file (one that no longer parses) replaces it.
    pub fn save(&self, character: &Character, copy_from: Option<&str>) -> Result<(), StoreError> {
        let lock = self.folder.lock(&character.name)?;
        let _held = lock.hold();
        let source = copy_from.unwrap_or(&character.name);
        let mut map = match self.folder.read_mapping(source) {
            Ok((_, map)) => map,
            Err(StoreError::NotFound { .. }) => Map::new(),
            Err(e @ StoreError::Malformed { .. }) if copy_from.is_none() => {
                tracing::warn!(error = %e, "replacing a damaged character file");
                Map::new()
            }
            Err(e) => return Err(e),
        };
        write_fields(&mut map, character);
        self.folder.write_mapping(&character.name, &map)?;
        if let (Some(from), None) = (copy_from, self.picture(&character.name)) {
            if let Some(picture) = self.picture(from) {
                let bytes = fs::read(&picture).map_err(|e| StoreError::io(&picture, e))?;
                self.write_picture(&character.name, &bytes)?;
            }
        }
        Ok(())
    }

    /// Deletes the character and its picture.
    pub fn delete(&self, name: &str) -> Result<(), StoreError> {
        self.folder.delete(name)?;
        let lock = self.folder.lock(name)?;
        let _held = lock.hold();
        if let Some(picture) = self.picture(name) {
            fs::remove_file(&picture).map_err(|e| StoreError::io(&picture, e))?;
        }
        Ok(())
    }

    /// The character's picture file, if it has one.
    pub fn picture(&self, name: &str) -> Option<PathBuf> {
        check_name(name).ok()?;
        PICTURE_EXTENSIONS
            .iter()
            .map(|ext| self.folder.dir.join(format!("{name}.{ext}")))
            .find(|p| p.is_file())
    }

    /// Stores a PNG or JPEG as the character's picture, replacing any other.
    pub fn save_picture(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let lock = self.folder.lock(name)?;
        let _held = lock.hold();
        self.write_picture(name, bytes)
    }

    /// [`Characters::save_picture`] for a caller that holds the lock.
    fn write_picture(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        check_name(name)?;
        if bytes.len() > MAX_PICTURE_BYTES {
            return Err(StoreError::Invalid(format!(
                "the picture is {} MB; the limit is {} MB",
                bytes.len() >> 20,
                MAX_PICTURE_BYTES >> 20
            )));
        }
        let ext = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            "png"
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            "jpg"
        } else {
            return Err(StoreError::Invalid(
                "the picture must be a PNG or JPEG image".into(),
            ));
        };
        if let Some(old) = self.picture(name) {
            fs::remove_file(&old).map_err(|e| StoreError::io(&old, e))?;
        }
        let path = self.folder.dir.join(format!("{name}.{ext}"));
        write_atomic(&path, bytes).map_err(|e| StoreError::io(&path, e))
    }

    /// Imports a TavernAI / SillyTavern card PNG. Nothing is written unless
    /// the whole card parses.
    pub fn import_card(&self, png: &[u8]) -> Result<ImportReport, StoreError> {
        let mut imported = card::from_card_json(&card::card_json(png)?)?;
        let base = sanitize(&imported.character.name);
        // Imports of one card at once must not pick the same name: each
        // candidate is checked and written under its lock, so the second
        // import finds the first's file and takes the next name.
        for n in 1..=MAX_NAME_TRIES {
            let name = if n == 1 {
                base.clone()
            } else {
                format!("{base} ({n})")
            };
            let lock = self.folder.lock(&name)?;
            let _held = lock.hold();
            let free = matches!(self.folder.find(&name), Err(StoreError::NotFound { .. }))
                && self.picture(&name).is_none();
            if !free {
                continue;
            }
            imported.character.name = name.clone();
            let mut map = Map::new();
            write_fields(&mut map, &imported.character);
            map.insert("card".into(), Value::Object(imported.card));
            self.write_picture(&name, png)?;
            if let Err(e) = self.folder.write_mapping(&name, &map) {
                if let Some(picture) = self.picture(&name) {
                    let _ = fs::remove_file(picture);
                }
                return Err(e);
            }
            return Ok(ImportReport {
                name,
                used: imported.used,
                kept: imported.kept,
            });
        }
        Err(StoreError::Invalid(format!(
            "no free name for the imported character: `{base}` and {MAX_NAME_TRIES} numbered names are taken"
        )))
    }

    /// The folder, for pictures and imports that sit beside the YAML files.
    pub fn dir(&self) -> &Path {
        &self.folder.dir
    }
}

/// Names an imported card tries: `Name`, `Name (2)` … `Name (1000)`.
const MAX_NAME_TRIES: usize = 1000;

/// Sets the keys we edit; optional ones are removed when empty.
fn write_fields(map: &mut Map<String, Value>, c: &Character) {
    map.insert("name".into(), Value::String(c.name.clone()));
    map.insert("greeting".into(), Value::String(c.greeting.clone()));
    map.insert("context".into(), Value::String(c.context.clone()));
    if c.alternate_greetings.is_empty() {
        map.remove("alternate_greetings");
    } else {
        let list = c
            .alternate_greetings
            .iter()
            .cloned()
            .map(Value::String)
            .collect();
        map.insert("alternate_greetings".into(), Value::Array(list));
    }
    if c.post_history_instructions.is_empty() {
        map.remove("post_history_instructions");
    } else {
        map.insert(
            "post_history_instructions".into(),
            Value::String(c.post_history_instructions.clone()),
        );
    }
}

/// A file-safe version of a card's name.
fn sanitize(name: &str) -> String {
    let cleaned: String = name
        .trim()
        .trim_start_matches('.')
        .chars()
        .map(|c| {
            if check_name(&c.to_string()).is_ok() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_end_matches('.').trim_end().to_string();
    if check_name(&cleaned).is_ok() {
        cleaned
    } else {
        "Imported character".into()
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
    let alternate_greetings = map
        .get("alternate_greetings")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    // Keyword lore comes from the imported card kept in the file.
    let lore = match map.get("card") {
        Some(Value::Object(card)) => Some(read_lore(card)),
        _ => None,
    };
    Character {
        name,
        context,
        greeting,
        alternate_greetings,
        post_history_instructions: text(map, "post_history_instructions").unwrap_or_default(),
        lore_scan_depth: lore.as_ref().and_then(|l| l.scan_depth),
        lore: lore.map(|l| l.keyword).unwrap_or_default(),
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
        chars.save(&zed, None).unwrap();
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
        assert!(err.starts_with("characters/Bad.yaml is damaged"), "{err}");
        std::fs::write(chars.dir().join("List.yaml"), "- a\n- b\n").unwrap();
        assert!(chars.load("List").is_err());
        // A damaged character is replaced by saving it, or deleted.
        let fresh = Character {
            name: "Bad".into(),
            greeting: "Fixed.".into(),
            ..Character::default()
        };
        chars.save(&fresh, None).unwrap();
        assert_eq!(chars.load("Bad").unwrap().greeting, "Fixed.");
        chars.delete("List").unwrap();
        assert!(!chars.list().unwrap().contains(&"List".to_string()));
    }

    /// Two saves of one character at once, a short one and a long one,
    /// 20 rounds: the file is always one of the two, whole.
    #[test]
    fn concurrent_saves_of_one_character_never_mix() {
        let (_d, chars) = store();
        let version = |context: String| Character {
            name: "Racer".into(),
            greeting: "Hi".into(),
            context,
            ..Character::default()
        };
        let short = version("short".into());
        let long = version("long ".repeat(20_000));
        for round in 0..20 {
            std::thread::scope(|s| {
                for c in [&short, &long, &short, &long] {
                    let chars = &chars;
                    s.spawn(move || chars.save(c, None).unwrap());
                }
            });
            let loaded = chars
                .load("Racer")
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert!(
                loaded == short || loaded == long,
                "round {round}: a mixed file"
            );
        }
    }

    #[test]
    fn a_card_imports_with_its_picture_and_all_fields() {
        let (_d, chars) = store();
        let png = card::tests::card_png(&card::tests::v2_card());
        let report = chars.import_card(&png).unwrap();
        assert_eq!(report.name, "Seraphina");
        assert!(report.kept.contains(&"creator_notes".to_string()));
        let c = chars.load("Seraphina").unwrap();
        assert_eq!(c.alternate_greetings, vec!["*She hums.* Hello there."]);
        assert_eq!(c.post_history_instructions, "Stay in character.");
        assert_eq!(c.lore[0].content, "The river is cold.");
        // Saving the edited character keeps the card, and so its lore.
        chars
            .save(
                &Character {
                    greeting: "Hello.".into(),
                    lore: Vec::new(),
                    ..c
                },
                None,
            )
            .unwrap();
        assert_eq!(chars.load("Seraphina").unwrap().lore.len(), 1);
        assert_eq!(
            std::fs::read(chars.picture("Seraphina").unwrap()).unwrap(),
            png
        );
        let text = std::fs::read_to_string(chars.dir().join("Seraphina.yaml")).unwrap();
        assert!(text.contains("creator_notes: Be kind to her."), "{text}");
        // Importing again keeps both.
        assert_eq!(chars.import_card(&png).unwrap().name, "Seraphina (2)");
    }

    /// Sixteen imports of one card at once each get a name of their own;
    /// none is refused.
    #[test]
    fn concurrent_imports_of_one_card_all_succeed() {
        let (_d, chars) = store();
        let png = card::tests::card_png(&card::tests::v2_card());
        let names: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..16)
                .map(|_| s.spawn(|| chars.import_card(&png).map(|r| r.name)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().unwrap())
                .collect()
        });
        let mut distinct = names.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 16, "{names:?}");
        assert!(names.contains(&"Seraphina (16)".to_string()), "{names:?}");
        for name in &names {
            assert_eq!(chars.load(name).unwrap().name, *name);
            assert!(chars.picture(name).is_some());
        }
    }

    #[test]
    fn a_malformed_card_writes_nothing() {
        let (_d, chars) = store();
        let before = chars.list().unwrap();
        assert!(chars.import_card(b"\x89PNG\r\n\x1a\nbroken").is_err());
        assert!(chars.import_card(b"not even a png").is_err());
        assert_eq!(chars.list().unwrap(), before);
        assert_eq!(
            std::fs::read_dir(chars.dir()).unwrap().count(),
            before.len()
        );
    }

    #[test]
    fn save_as_copies_the_picture_and_delete_removes_it() {
        let (_d, chars) = store();
        let png = card::tests::card_png(&serde_json::json!({"name": "Pic"}));
        chars.save_picture("Assistant", &png).unwrap();
        let mut copy = chars.load("Assistant").unwrap();
        copy.name = "Assistant 2".into();
        chars.save(&copy, Some("Assistant")).unwrap();
        assert!(chars.picture("Assistant 2").is_some());
        chars.delete("Assistant 2").unwrap();
        assert!(chars.picture("Assistant 2").is_none());
        assert!(chars.save_picture("Assistant", b"GIF89a").is_err());
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
            Err(StoreError::InvalidName { .. })
        ));
    }
}
