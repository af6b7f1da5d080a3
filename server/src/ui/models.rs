//! The Model tab's service: the folder's GGUF files, loading and unloading,
//! memory use, downloads.

use std::{future::Future, pin::Pin};

use app::{
    services::{ChatService, ModelService},
    types::{
        AppError, Batching, DownloadStatus, LoadChoice, ModelFile, ModelPanel, RemoteModelFile,
    },
};

use super::chat::UiChat;
use crate::state::{AppState, Generator};
use engine::memory;

pub struct UiModels {
    state: AppState,
}

impl UiModels {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl ModelService for UiModels {
    fn files(&self) -> Vec<ModelFile> {
        self.state.models.catalog.list()
    }

    fn panel(&self) -> ModelPanel {
        let status = UiChat::new(self.state.clone()).model_status();
        let host = self.state.host();
        let loaded_file = host
            .and_then(|e| e.model_path())
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
        ModelPanel {
            status,
            loaded_file,
            loading: self.state.models.loading(),
            load_error: self.state.models.load_error(),
            load_note: self.state.models.load_note(),
            server_parallel: host.map_or(0, |e| e.load_options().parallel as u32),
            server_cache_type: host.map_or_else(Default::default, |e| e.load_options().cache_type),
            server_device: host.map_or_else(String::new, |e| e.load_options().device.to_string()),
            devices: engine::DeviceSpec::available()
                .iter()
                .map(ToString::to_string)
                .collect(),
            rss_mib: memory::rss_mib(),
            gpu_mib: memory::gpu_used_mib(),
            idle_released: host.is_some_and(|e| e.is_released()),
            remote: match &self.state.generator {
                Generator::Remote { url } => Some(url.clone()),
                Generator::Local(_) => None,
            },
            batching: host.and_then(|engine| {
                let m = engine.model().ok()?;
                let metrics = engine.metrics();
                let mib = |bytes: usize| bytes as f64 / (1 << 20) as f64;
                Some(Batching {
                    slots: m.info.slots,
                    context_length: m.info.context_length,
                    full_slot_mib: mib(m.info.kv_bytes_per_token * m.info.context_length),
                    cache_mib: mib(metrics.cache_bytes()),
                    kv_tokens_that_fit: m.info.kv_tokens_that_fit,
                    speculative: metrics
                        .speculative_note()
                        .unwrap_or_else(|| m.info.speculative.clone()),
                    cpu_threads: m.info.cpu_threads,
                    cache_type: m.info.cache_type,
                    active: metrics.active(),
                    waiting: metrics.waiting(),
                })
            }),
        }
    }

    fn load(&self, name: &str, choice: LoadChoice) -> Result<(), AppError> {
        let Some(engine) = self.state.host() else {
            return Err(AppError::InvalidParameter(
                "models run on the remote server (--backend openai)".into(),
            ));
        };
        self.state
            .models
            .load_in_background(engine.clone(), name, choice)
            .map_err(AppError::InvalidParameter)
    }

    fn unload(&self) -> Result<(), AppError> {
        if let Some(engine) = self.state.host() {
            engine.unload();
        }
        Ok(())
    }

    fn remote_files(
        &self,
        repo: String,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<RemoteModelFile>, AppError>> + Send>> {
        let downloads = self.state.models.downloads.clone();
        Box::pin(async move {
            downloads
                .files(&repo)
                .await
                .map_err(|e| AppError::InvalidParameter(e.to_string()))
        })
    }

    fn download(&self, repo: &str, file: &str) -> Result<u64, AppError> {
        self.state
            .models
            .downloads
            .start(repo, file)
            .map_err(|e| AppError::InvalidParameter(e.to_string()))
    }

    fn downloads(&self) -> Vec<DownloadStatus> {
        self.state.models.downloads.list()
    }
}
