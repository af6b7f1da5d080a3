//! A folder of named YAML (or JSON) files, text-generation-webui style:
//! `characters/<name>.yaml`, `presets/<name>.yaml`, ...

use std::{
    fs,
    path::{Path, PathBuf},
};

use serde_json::{Map, Value};

use std::sync::Arc;

use super::{
    atomic::{file_lock, write_atomic, FileLock},
    names::check_name,
    read::{read_text, MAX_DATA_FILE_BYTES},
    StoreError,
};

/// File extensions read, in order of preference; new files are `.yaml`.
const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

pub struct Folder {
    pub dir: PathBuf,
    /// What the files hold, for messages ("character", "preset").
    pub kind: &'static str,
}

impl Folder {
    pub fn new(root: &Path, sub: &str, kind: &'static str) -> Self {
        Self {
            dir: root.join(sub),
            kind,
        }
    }

    /// Creates the folder with the shipped files the first time only, so a
    /// file the user deleted stays deleted.
    pub fn seed(&self, defaults: &[(&str, &str)]) -> Result<(), StoreError> {
        if self.dir.exists() {
            return Ok(());
        }
        for (file, text) in defaults {
            write_atomic(&self.dir.join(file), text.as_bytes())
                .map_err(|e| StoreError::io(&self.dir, e))?;
        }
        fs::create_dir_all(&self.dir).map_err(|e| StoreError::io(&self.dir, e))
    }

    /// Names of the stored items, sorted, each once.
    pub fn list(&self) -> Result<Vec<String>, StoreError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(&self.dir, e)),
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let path = e.path();
                let ext = path.extension()?.to_str()?.to_ascii_lowercase();
                EXTENSIONS
                    .contains(&ext.as_str())
                    .then(|| path.file_stem()?.to_str().map(str::to_string))
                    .flatten()
            })
            .filter(|n| check_name(n).is_ok())
            .collect();
        names.sort_by_key(|n| n.to_lowercase());
        names.dedup();
        Ok(names)
    }

    /// The lock every writer of `name` (whatever its extension, picture
    /// included) holds while it reads, changes and writes.
    pub fn lock(&self, name: &str) -> Result<Arc<FileLock>, StoreError> {
        check_name(name)?;
        Ok(file_lock(&self.dir.join(name)))
    }

    /// The existing file for `name`, whichever extension it has.
    pub fn find(&self, name: &str) -> Result<PathBuf, StoreError> {
        check_name(name)?;
        EXTENSIONS
            .iter()
            .map(|ext| self.dir.join(format!("{name}.{ext}")))
            .find(|p| p.is_file())
            .ok_or_else(|| StoreError::NotFound {
                kind: self.kind,
                name: name.to_string(),
            })
    }

    /// The file's top-level mapping (YAML or JSON by extension).
    pub fn read_mapping(&self, name: &str) -> Result<(PathBuf, Map<String, Value>), StoreError> {
        let path = self.find(name)?;
        let text = read_text(&path, MAX_DATA_FILE_BYTES)?.ok_or_else(|| StoreError::NotFound {
            kind: self.kind,
            name: name.to_string(),
        })?;
        let value: Value = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| StoreError::malformed(&path, e))?
        } else {
            parse_yaml(&text).map_err(|e| StoreError::malformed(&path, e))?
        };
        match value {
            Value::Object(map) => Ok((path, map)),
            Value::Null => Ok((path, Map::new())),
            _ => Err(StoreError::malformed(
                &path,
                "expected a mapping of keys to values",
            )),
        }
    }

    /// Writes `name.yaml` (or updates the JSON file it already has). The
    /// caller holds [`Folder::lock`] for `name`.
    pub fn write_mapping(
        &self,
        name: &str,
        map: &Map<String, Value>,
    ) -> Result<PathBuf, StoreError> {
        check_name(name)?;
        let path = match self.find(name) {
            Ok(p) => p,
            Err(_) => self.dir.join(format!("{name}.yaml")),
        };
        let text = if path.extension().is_some_and(|e| e == "json") {
            serde_json::to_string_pretty(map).map_err(|e| StoreError::malformed(&path, e))?
        } else {
            serde_saphyr::to_string(map).map_err(|e| StoreError::malformed(&path, e))?
        };
        write_atomic(&path, text.as_bytes()).map_err(|e| StoreError::io(&path, e))?;
        Ok(path)
    }

    pub fn delete(&self, name: &str) -> Result<(), StoreError> {
        let lock = self.lock(name)?;
        let _held = lock.hold();
        let path = self.find(name)?;
        fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))
    }
}

/// YAML text to a JSON-like value (mappings, lists, strings, numbers).
pub fn parse_yaml(text: &str) -> Result<Value, serde_saphyr::Error> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_saphyr::from_str(text)
}
