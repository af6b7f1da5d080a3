//! Each user's settings in text-generation-webui's `settings.yaml`: the
//! samplers under their own names, the chat settings under TGW's keys
//! (`name1`, `user_bio`, `mode`, `character`, `chat-instruct_command`...).
//! The owner's file is `user_data/settings.yaml`; an `--auth` user's is
//! under `users/<name>/`. Keys this program does not know (TGW's UI
//! options) are kept as they were when it saves.

use std::path::Path;

use domain::{ChatSettings, ChatStyle, GenerationParams, Mode, UserSettings};
use serde_json::{json, Map, Value};

use super::{check_name, folder::Folder, presets::to_map, StoreError};

/// The file's name, without its extension.
const FILE: &str = "settings";
/// Longest text a setting may hold (the file is read back whole).
const MAX_FIELD_CHARS: usize = 256 << 10;
/// Names are replaced into prompts: the bound the API sets on them.
const MAX_NAME_CHARS: usize = 256;

#[derive(Clone)]
pub struct SettingsStore {
    root: std::path::PathBuf,
}

impl SettingsStore {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    fn folder(&self, user: Option<&str>) -> Result<Folder, StoreError> {
        Ok(match user {
            None => Folder::new(&self.root, "", "settings"),
            Some(name) => Folder::new(
                &self.root.join("users").join(check_name(name)?),
                "",
                "settings",
            ),
        })
    }

    /// `user`'s settings, or `None` before they were first saved.
    pub fn load(&self, user: Option<&str>) -> Result<Option<UserSettings>, StoreError> {
        let folder = self.folder(user)?;
        match folder.read_mapping(FILE) {
            Ok((_, map)) => Ok(Some(from_map(&map))),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Saves `settings` for `user`, keeping the file's other keys.
    pub fn save(&self, user: Option<&str>, settings: &UserSettings) -> Result<(), StoreError> {
        check(settings)?;
        let folder = self.folder(user)?;
        let lock = folder.lock(FILE)?;
        let _held = lock.hold();
        let mut map = match folder.read_mapping(FILE) {
            Ok((_, map)) => map,
            Err(StoreError::NotFound { .. }) => Map::new(),
            Err(e) => return Err(e),
        };
        map.extend(to_tgw_map(settings));
        folder.write_mapping(FILE, &map)?;
        Ok(())
    }
}

/// Refuses what no user types: invalid samplers, huge texts, long names.
fn check(s: &UserSettings) -> Result<(), StoreError> {
    s.params
        .check()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let c = &s.settings;
    for (what, name) in [
        ("the user name", &c.user.name),
        ("the character", &c.character),
    ] {
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(StoreError::Invalid(format!(
                "{what} may have at most {MAX_NAME_CHARS} characters"
            )));
        }
    }
    for (what, text) in [
        ("user_bio", &c.user.bio),
        ("the system message", &c.system_message),
        ("the chat-instruct command", &c.chat_instruct_command),
        ("start reply with", &c.start_reply_with),
    ] {
        if text.len() > MAX_FIELD_CHARS {
            return Err(StoreError::Invalid(format!(
                "{what} may hold at most {} KB",
                MAX_FIELD_CHARS >> 10
            )));
        }
    }
    Ok(())
}

/// The settings under TGW's keys (and ours where TGW has none).
fn to_tgw_map(s: &UserSettings) -> Map<String, Value> {
    let mut map = to_map(&s.params);
    let c = &s.settings;
    let mode = serde_json::to_value(c.mode).unwrap_or(json!("instruct"));
    map.extend([
        ("mode".to_string(), mode),
        ("character".to_string(), json!(c.character)),
        ("name1".to_string(), json!(c.user.name)),
        ("user_bio".to_string(), json!(c.user.bio)),
        ("custom_system_message".to_string(), json!(c.system_message)),
        (
            "chat-instruct_command".to_string(),
            json!(c.chat_instruct_command),
        ),
        ("start_with".to_string(), json!(c.start_reply_with)),
        ("enable_thinking".to_string(), json!(c.thinking)),
        ("chat_style".to_string(), json!(c.chat_style.as_str())),
        (
            "instruction_template".to_string(),
            json!(c.instruction_template),
        ),
        (
            "candlelight_template_model".to_string(),
            json!(c.template_model),
        ),
        ("preset".to_string(), json!(s.preset)),
    ]);
    map
}

/// Settings from a file: each known key that reads as its type is taken;
/// anything else keeps its default (a hand-edited typo costs that key,
/// not the file). Samplers that fail their ranges are all left at their
/// defaults.
fn from_map(map: &Map<String, Value>) -> UserSettings {
    let mut s = UserSettings::default();
    let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_string);
    let c: &mut ChatSettings = &mut s.settings;
    if let Some(mode) = map
        .get("mode")
        .and_then(|v| serde_json::from_value::<Mode>(v.clone()).ok())
    {
        c.mode = mode;
    }
    if let Some(v) = text("character") {
        c.character = v;
    }
    if let Some(v) = text("name1") {
        c.user.name = v;
    }
    if let Some(v) = text("user_bio") {
        c.user.bio = v;
    }
    if let Some(v) = text("custom_system_message") {
        c.system_message = v;
    }
    if let Some(v) = text("chat-instruct_command") {
        c.chat_instruct_command = v;
    }
    if let Some(v) = text("start_with") {
        c.start_reply_with = v;
    }
    if let Some(v) = map.get("enable_thinking").and_then(Value::as_bool) {
        c.thinking = v;
    }
    if let Some(v) = text("chat_style") {
        c.chat_style = ChatStyle::from_name(&v);
    }
    c.instruction_template = text("instruction_template").filter(|t| !t.is_empty());
    c.template_model = text("candlelight_template_model");
    s.preset = text("preset").filter(|p| !p.is_empty());

    let mut params = to_map(&GenerationParams::default());
    for (key, value) in map {
        if let Some(slot) = params.get_mut(key) {
            // Only values of the field's own JSON type: a typo stays out.
            if std::mem::discriminant(slot) == std::mem::discriminant(value) {
                *slot = value.clone();
            }
        }
    }
    match serde_json::from_value::<GenerationParams>(Value::Object(params)) {
        Ok(p) if p.check().is_ok() => s.params = p,
        Ok(p) => tracing::warn!(
            error = %p.check().unwrap_err(),
            "settings.yaml holds a sampler value out of range; the defaults are used"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "settings.yaml's samplers do not read; the defaults are used")
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SettingsStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::new(dir.path());
        (dir, store)
    }

    #[test]
    fn settings_round_trip_under_text_generation_webui_s_keys() {
        let (dir, store) = store();
        assert_eq!(store.load(None).unwrap(), None);
        let mut s = UserSettings::default();
        s.settings.user.name = "小明".into();
        s.settings.user.bio = "Likes otters.".into();
        s.settings.mode = Mode::ChatInstruct;
        s.settings.character = "AI助理".into();
        s.settings.chat_style = ChatStyle::CaiChat;
        s.params.temperature = 1.23;
        s.params.dry_multiplier = 0.8;
        s.preset = Some("Creative".into());
        store.save(None, &s).unwrap();
        let text = std::fs::read_to_string(dir.path().join("settings.yaml")).unwrap();
        for line in [
            "name1: 小明",
            "mode: chat-instruct",
            "temperature: 1.23",
            "preset: Creative",
            "chat_style: cai-chat",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert_eq!(store.load(None).unwrap(), Some(s));
    }

    #[test]
    fn a_tgw_file_is_read_with_its_unknown_keys_kept_and_typos_skipped() {
        let (dir, store) = store();
        std::fs::write(
            dir.path().join("settings.yaml"),
            "show_controls: true\nchat_style: cai-chat\nname1: Ann\ntemperature: hot\ntop_p: 0.5\nmode: chat\n",
        )
        .unwrap();
        let s = store.load(None).unwrap().unwrap();
        assert_eq!(s.settings.user.name, "Ann");
        assert_eq!(s.settings.mode, Mode::Chat);
        assert_eq!(s.params.top_p, 0.5);
        assert_eq!(
            s.params.temperature,
            GenerationParams::default().temperature
        );
        store.save(None, &s).unwrap();
        let text = std::fs::read_to_string(dir.path().join("settings.yaml")).unwrap();
        assert!(text.contains("chat_style: cai-chat"), "{text}");
        assert!(text.contains("show_controls: true"), "{text}");
    }

    #[test]
    fn each_user_has_their_own_file_and_bad_values_are_refused() {
        let (dir, store) = store();
        let mut ann = UserSettings::default();
        ann.settings.user.name = "Ann".into();
        store.save(Some("ann"), &ann).unwrap();
        assert!(dir.path().join("users/ann/settings.yaml").exists());
        assert_eq!(store.load(Some("bob")).unwrap(), None);
        assert_eq!(store.load(None).unwrap(), None);
        assert!(store.load(Some("../x")).is_err());
        let mut bad = UserSettings::default();
        bad.params.top_p = 3.0;
        let e = store.save(None, &bad).unwrap_err().to_string();
        assert!(e.contains("top_p must be in (0, 1]"), "{e}");
        let mut long = UserSettings::default();
        long.settings.user.name = "x".repeat(300);
        assert!(store.save(None, &long).is_err());
    }
}
