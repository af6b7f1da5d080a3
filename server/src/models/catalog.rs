//! The GGUF files in the model folder, with size and architecture (read
//! from each file's header, remembered while the file is unchanged).

use std::{
    collections::HashMap,
    fs,
    path::{Path, PathBuf},
    sync::Mutex,
    time::SystemTime,
};

use domain::ModelFile;

use engine::{model_port::hyperparams::Hyperparams, GgufFile};

/// A file's size and modification time: a changed file is read again.
type Stamp = (u64, SystemTime);
/// What a header says, or why it could not be read.
type Header = Result<HeaderFacts, String>;

#[derive(Clone)]
struct HeaderFacts {
    architecture: String,
    context_length: Option<u32>,
    kv_bytes_per_token: Option<u64>,
}

pub struct Catalog {
    dir: PathBuf,
    headers: Mutex<HashMap<PathBuf, (Stamp, Header)>>,
}

impl Catalog {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            headers: Mutex::default(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A model file by its name in the folder; names with a path are refused.
    pub fn path_of(&self, name: &str) -> Option<PathBuf> {
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && !name.contains(['/', '\\'])
            && name.ends_with(".gguf");
        let path = self.dir.join(name);
        (plain && path.is_file()).then_some(path)
    }

    pub fn list(&self) -> Vec<ModelFile> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut files: Vec<ModelFile> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "gguf") && p.is_file())
            .filter_map(|p| {
                let name = p.file_name()?.to_str()?.to_string();
                let meta = fs::metadata(&p).ok()?;
                let stamp = (
                    meta.len(),
                    meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                );
                let header = self.header(&p, stamp);
                let facts = header.as_ref().ok();
                Some(ModelFile {
                    name,
                    size_bytes: stamp.0,
                    architecture: facts.map(|f| f.architecture.clone()),
                    context_length: facts.and_then(|f| f.context_length),
                    kv_bytes_per_token: facts.and_then(|f| f.kv_bytes_per_token),
                    problem: header.err(),
                })
            })
            .collect();
        files.sort_by_key(|f| f.name.to_lowercase());
        files
    }

    fn header(&self, path: &Path, stamp: Stamp) -> Header {
        let mut headers = self.headers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((seen, arch)) = headers.get(path) {
            if *seen == stamp {
                return arch.clone();
            }
        }
        let arch = GgufFile::open(path)
            .map_err(|e| e.to_string())
            .and_then(|g| {
                // The hyperparameters a load reads, for the memory estimate
                // (none for an architecture the engine does not run).
                let shape = Hyperparams::read(&g.content).ok();
                Ok(HeaderFacts {
                    architecture: g.architecture().map_err(|e| e.to_string())?.to_string(),
                    context_length: shape.as_ref().map(|h| h.trained_context as u32),
                    // The CPU cache holds f16 values.
                    kv_bytes_per_token: shape.map(|h| h.kv_values_per_token() as u64 * 2),
                })
            });
        headers.insert(path.to_path_buf(), (stamp, arch.clone()));
        arch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_gguf_files_and_refuses_paths() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("broken.gguf"), b"not gguf").unwrap();
        fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        let catalog = Catalog::new(dir.path());
        let list = catalog.list();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].name, "broken.gguf");
        assert!(list[0].architecture.is_none());
        assert!(list[0]
            .problem
            .as_deref()
            .unwrap_or("")
            .contains("not a valid GGUF"));
        assert!(catalog.path_of("broken.gguf").is_some());
        assert!(catalog.path_of("../broken.gguf").is_none());
        assert!(catalog.path_of("notes.txt").is_none());
    }
}
