use serde::{Deserialize, Serialize};

/// What the UI shows about the model: loaded and ready, or why not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ModelStatus {
    Ready {
        /// File name of the model, e.g. `qwen2.5-coder-0.5b-instruct-q4_k_m.gguf`.
        name: String,
        architecture: String,
        context_length: usize,
        device: String,
    },
    /// The model could not be loaded; the server keeps serving and says why.
    Failed { reason: String },
}
