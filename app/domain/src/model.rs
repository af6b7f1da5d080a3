use serde::{Deserialize, Serialize};

use crate::CacheType;

/// What the UI shows about the model: loaded and ready, or why not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ModelStatus {
    Ready {
        /// File name of the model, e.g. `qwen2.5-coder-0.5b-instruct-q4_k_m.gguf`
        /// (or the remote model's id).
        name: String,
        architecture: String,
        context_length: usize,
        device: String,
    },
    /// The model could not be loaded; the server keeps serving and says why.
    Failed { reason: String },
}

/// A GGUF file in the model folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelFile {
    pub name: String,
    pub size_bytes: u64,
    pub architecture: Option<String>,
    /// The context it was trained for (tokens), from its header.
    #[serde(default)]
    pub context_length: Option<u32>,
    /// Bytes one token takes in the f16 cache, from its header: with the
    /// context and parallel replies, what loading it will take.
    #[serde(default)]
    pub kv_bytes_per_token: Option<u64>,
    /// Why the header could not be read, if it could not.
    pub problem: Option<String>,
}

/// How the Model tab asks for a model to be loaded; 0 keeps the server's
/// setting (`--ctx-size`, `--parallel`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadChoice {
    /// Tokens each reply may use (prompt and reply).
    pub ctx_size: u32,
    /// Replies generated at once, each with its own cache.
    pub parallel: u32,
    /// Threads for candlelight's CPU kernels (0 keeps `--threads`).
    #[serde(default)]
    pub threads: u32,
    /// How the KV cache stores keys and values (`None` keeps
    /// `--cache-type`).
    #[serde(default)]
    pub cache_type: Option<CacheType>,
    /// Where the model runs: `cpu`, `cuda` or `cuda:N` (`None` keeps
    /// `--device`).
    #[serde(default)]
    pub device: Option<String>,
}

/// The most threads a load may ask for.
pub const MAX_THREADS: u32 = 256;

/// The most replies one load may run at once.
pub const MAX_PARALLEL: u32 = 16;

/// The Model tab's view of the engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelPanel {
    pub status: ModelStatus,
    /// The loaded file's name in the model folder, if any.
    pub loaded_file: Option<String>,
    /// A model being loaded right now.
    pub loading: Option<String>,
    /// The last load's error, if it failed.
    pub load_error: Option<String>,
    /// What the last load had to do that the user should know (the old
    /// model freed first, for want of GPU memory).
    #[serde(default)]
    pub load_note: Option<String>,
    /// Parallel replies a load gets unless the Model tab asks for others
    /// (`--parallel`).
    #[serde(default)]
    pub server_parallel: u32,
    /// How a load stores the KV cache unless the Model tab asks otherwise
    /// (`--cache-type`).
    #[serde(default)]
    pub server_cache_type: CacheType,
    /// Where a load runs unless the Model tab asks otherwise (`--device`),
    /// and the devices this build and machine can load on.
    #[serde(default)]
    pub server_device: String,
    #[serde(default)]
    pub devices: Vec<String>,
    /// Resident memory of the server process, MiB.
    pub rss_mib: Option<f64>,
    /// GPU memory in use, MiB (CUDA builds).
    pub gpu_mib: Option<f64>,
    /// True while the weights are released after the idle timeout.
    pub idle_released: bool,
    /// Set when generation goes to a remote OpenAI-compatible server.
    pub remote: Option<String>,
    /// How the loaded model serves many replies at once.
    pub batching: Option<Batching>,
}

/// Replies generated at once, and the KV cache memory they share: each
/// slot holds up to `context_length` tokens and its cache grows as used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Batching {
    pub slots: usize,
    pub context_length: usize,
    /// KV cache of one full slot, MiB.
    pub full_slot_mib: f64,
    /// KV cache memory in use now, MiB.
    pub cache_mib: f64,
    /// Threads candlelight's CPU kernels run on (none on other backends).
    #[serde(default)]
    pub cpu_threads: Option<usize>,
    /// How the cache stores keys and values.
    #[serde(default)]
    pub cache_type: CacheType,
    /// Tokens of KV cache that fit next to the weights (GPU memory plan).
    pub kv_tokens_that_fit: Option<usize>,
    /// How replies draft tokens ahead (`--speculative`): "off", "ngram",
    /// "draft model FILE", or "off: " and why a draft model is not used.
    #[serde(default)]
    pub speculative: String,
    pub active: usize,
    pub waiting: usize,
}

/// A GGUF file offered by a Hugging Face repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteModelFile {
    pub name: String,
    pub size_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DownloadState {
    Running,
    Done,
    Failed(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadStatus {
    pub id: u64,
    pub repo: String,
    pub file: String,
    pub bytes: u64,
    pub total: Option<u64>,
    pub state: DownloadState,
}
