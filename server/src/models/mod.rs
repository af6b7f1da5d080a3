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

use engine::Engine;

pub struct ModelLibrary {
    pub catalog: Catalog,
    pub downloads: Arc<Downloads>,
    loading: Mutex<Option<String>>,
    load_error: Mutex<Option<String>>,
}

impl ModelLibrary {
    pub fn new(dir: &Path, hf_endpoint: &str) -> Self {
        Self {
            catalog: Catalog::new(dir),
            downloads: Arc::new(Downloads::new(hf_endpoint, dir)),
            loading: Mutex::default(),
            load_error: Mutex::default(),
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

    /// Starts loading `name` from the model folder on its own thread.
    pub fn load_in_background(
        self: &Arc<Self>,
        engine: Arc<Engine>,
        name: &str,
    ) -> Result<(), String> {
        let path = self
            .catalog
            .path_of(name)
            .ok_or_else(|| format!("{name} is not a GGUF file in the model folder"))?;
        {
            let mut loading = self.loading.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(other) = loading.as_ref() {
                return Err(format!("{other} is being loaded; wait for it to finish"));
            }
            *loading = Some(name.to_string());
        }
        *self.load_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let this = self.clone();
        std::thread::spawn(move || {
            let result = engine.switch_to(&path);
            *this.load_error.lock().unwrap_or_else(|e| e.into_inner()) =
                result.err().map(|e| e.to_string());
            *this.loading.lock().unwrap_or_else(|e| e.into_inner()) = None;
        });
        Ok(())
    }
}
