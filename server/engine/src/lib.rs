//! candlelight's inference engine, with no web in it: the model port and
//! its backends (our AVX-512 CPU kernels in [`cpu`], the GPU model in
//! [`gpu`], candle's modules as the fallback), the tokenizers read from the
//! GGUF, the sampler, constrained decoding, and the scheduler thread that
//! steps every running reply together (continuous batching). The
//! [`Engine`] hosts one model and queues jobs onto its scheduler. The
//! server hands it token ids and stop rules; templates, chats and HTTP
//! live above it.

mod cancel;
mod candle;
mod constraint;
pub mod cpu;
mod detokenize;
mod device;
mod draft_model;
#[cfg(test)]
mod fake;
mod gbnf;
mod gguf;
pub mod gpu;
mod host;
mod loader;
pub mod memory;
mod metrics;
pub mod model_port;
pub mod sampler;
mod scheduler;
mod speculative;
mod spm;
mod stop;
#[cfg(test)]
mod test_support;
mod token_bytes;
mod tokenizer;
pub mod tools;
mod types;

pub use cancel::Cancel;
pub use constraint::{Constraints, Grammar, TokenConstraint};
pub use detokenize::{IncrementalDecoder, TokenDecoder};
pub use device::DeviceSpec;
pub use gbnf::gbnf_to_lark;
pub use gguf::GgufFile;
pub use host::{must_free_first, Engine, EngineOptions, Submitter, Switched};
pub use loader::{
    gpu_plan_bytes, load_model, load_tokenizer, load_weights, LoadOptions, ModelImpl, ModelInfo,
    ModelParts, DEFAULT_PARALLEL,
};
pub use metrics::SchedulerMetrics;
pub use model_port::{shown_file, BatchModel, EngineError, ModelShape, SeqChunk};
pub use speculative::{Speculative, MAX_DRAFT};
pub use tokenizer::{TextTokenizer, TEXT_BYTES_PER_CONTEXT_TOKEN};
pub use types::{
    EngineEvent, FinishReason, GenerationJob, GenerationStats, Sampling, TokenLogprob,
    TokenLogprobs,
};
