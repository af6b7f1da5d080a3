//! The engine with the real model files (`make test` fetches them): our
//! kernels and every architecture against references, batching, the
//! prefix cache, constrained decoding, tokenizers, the GPU model on
//! candle's CPU device. One test binary: each links the whole engine.

mod architectures;
mod batching;
#[path = "../common/mod.rs"]
mod common;
mod constrained;
mod generation;
mod gpu_model;
mod kernels;
mod kv_cache_type;
mod model_errors;
mod prefix_cache;
mod sampler;
mod speculative;
mod tokenizer;
