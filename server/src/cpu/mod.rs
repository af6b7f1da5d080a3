//! candlelight's own CPU inference path for llama and qwen2 GGUF models:
//! quantized weights used in place from the memory-mapped file, integer dot
//! products on AVX-512 VNNI, both cores, a KV cache that reuses the prompt
//! prefix a chat's next turn shares with the last. candle's models remain
//! the reference it is tested against (and the path on other CPUs).

mod attention;
mod gemm;
mod matmul;
mod model;
mod ops;
mod project;
pub mod quant;
mod team;
mod weights;

pub use model::CpuModel;
