//! candlelight's own CPU inference path for the GGUF architectures in
//! `model_port::arch` (llama, qwen2, qwen3, qwen3moe, gemma3, phi3):
//! quantized weights used in place from the memory-mapped file, integer dot
//! products on AVX-512 VNNI, both cores, a KV cache that reuses the prompt
//! prefix a chat's next turn shares with the last. candle's models remain
//! the reference it is tested against (and the path on other CPUs).

mod attention;
mod gemm;
mod layer;
mod matmul;
mod model;
mod moe;
mod ops;
mod project;
#[cfg(target_arch = "x86_64")]
mod prompt_gemm;
pub mod quant;
mod team;
mod weights;

pub use model::CpuModel;
