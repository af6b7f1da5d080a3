//! The model folder: which GGUF files there are, loading one (in the
//! background, so the server keeps answering), and downloads.

mod catalog;
mod download;

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

pub use catalog::Catalog;
pub use download::Downloads;

use domain::{LoadChoice, MAX_PARALLEL, MAX_THREADS};
use engine::Engine;

/// The shortest context a load may ask for (tokens).
const MIN_CTX_SIZE: u32 = 256;

pub struct ModelLibrary {
    pub catalog: Catalog,
    pub downloads: Arc<Downloads>,
    loading: Mutex<Option<String>>,
    load_error: Mutex<Option<String>>,
    load_note: Mutex<Option<String>>,
}

impl ModelLibrary {
    pub fn new(dir: &Path, hf_endpoint: &str) -> Self {
        Self {
            catalog: Catalog::new(dir),
            downloads: Arc::new(Downloads::new(hf_endpoint, dir)),
            loading: Mutex::default(),
            load_error: Mutex::default(),
            load_note: Mutex::default(),
        }
    }

    /// `--model`: a path, or a file name in the model folder.
    pub fn resolve(&self, model: &Path) -> PathBuf {
        if model.is_file() || model.components().count() > 1 {
            return model.to_path_buf();
        }
        let in_dir = self.catalog.dir().join(model);
        if in_dir.is_file() {
            in_dir
        } else {
            model.to_path_buf()
        }
    }

    pub fn loading(&self) -> Option<String> {
        self.loading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn load_error(&self) -> Option<String> {
        self.load_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// What the last load had to do that the user should know.
    pub fn load_note(&self) -> Option<String> {
        self.load_note
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Starts loading `name` from the model folder on its own thread.
    pub fn load_in_background(
        self: &Arc<Self>,
        engine: Arc<Engine>,
        name: &str,
        choice: LoadChoice,
    ) -> Result<(), String> {
        let path = self
            .catalog
            .path_of(name)
            .ok_or_else(|| format!("{name} is not a GGUF file in the model folder"))?;
        let mut options = engine.load_options();
        if choice.parallel > MAX_PARALLEL {
            return Err(format!(
                "parallel replies must be 1 to {MAX_PARALLEL} (0 keeps the server's {})",
                options.parallel
            ));
        }
        if choice.ctx_size != 0 && choice.ctx_size < MIN_CTX_SIZE {
            return Err(format!(
                "the context must be at least {MIN_CTX_SIZE} tokens (0 keeps the model's)"
            ));
        }
        if choice.threads > MAX_THREADS {
            return Err(format!(
                "CPU threads must be 1 to {MAX_THREADS} (0 keeps the server's)"
            ));
        }
        if choice.parallel > 0 {
            options.parallel = choice.parallel as usize;
        }
        if choice.threads > 0 {
            options.threads = Some(choice.threads as usize);
        }
        if choice.ctx_size > 0 {
            options.ctx_size = Some(choice.ctx_size as usize);
        }
        if let Some(cache_type) = choice.cache_type {
            options.cache_type = cache_type;
        }
        if let Some(device) = &choice.device {
            options.device = device.parse()?;
        }
        {
            let mut loading = self.loading.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(other) = loading.as_ref() {
                return Err(format!("{other} is being loaded; wait for it to finish"));
            }
            *loading = Some(name.to_string());
        }
        *self.load_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
        *self.load_note.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let this = self.clone();
        let (name, old) = (name.to_string(), engine.model_path());
        std::thread::spawn(move || {
            let result = engine.switch_with(&path, options);
            let freed = result.as_ref().is_ok_and(|s| s.freed_old_first);
            *this.load_note.lock().unwrap_or_else(|e| e.into_inner()) = freed.then(|| {
                let old = old.map_or_else(|| "the previous model".into(), |p| engine::shown_file(&p));
                format!(
                    "{old} was unloaded before {name} loaded: the two do not fit in the GPU memory together."
                )
            });
            *this.load_error.lock().unwrap_or_else(|e| e.into_inner()) =
                result.err().map(|e| e.to_string());
            *this.loading.lock().unwrap_or_else(|e| e.into_inner()) = None;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A load's options are checked before anything loads: an unknown
    /// device is named, with the forms that work.
    #[test]
    fn a_load_on_an_unknown_device_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.gguf"), b"GGUF").unwrap();
        let library = Arc::new(ModelLibrary::new(dir.path(), "http://127.0.0.1:9"));
        let engine = Arc::new(Engine::new(engine::EngineOptions::default(), "none"));
        let choice = LoadChoice {
            device: Some("tpu".into()),
            ..LoadChoice::default()
        };
        let err = library
            .load_in_background(engine, "m.gguf", choice)
            .unwrap_err();
        assert!(
            err.contains("unknown device `tpu`") && err.contains("cuda:N"),
            "{err}"
        );
        assert_eq!(library.loading(), None);
    }
}
