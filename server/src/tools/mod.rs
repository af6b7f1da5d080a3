//! Subcommands besides serving. Those that need only the engine (bench,
//! quantize, synth-gguf) live in it; these three run the server's own
//! stack (templates, the router).

pub mod bench_serve;
pub mod complete;
pub mod prefix_bench;
pub mod speculative_bench;

pub use engine::tools::{bench, quantize, synth, tiny, ToolError};
