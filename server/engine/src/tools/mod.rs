//! Subcommands that need only the engine: measuring speed, and making or
//! rewriting model files. The server's binary runs them.

pub mod bench;
pub mod quantize;
pub mod sampler_bench;

mod shapes;
pub mod synth;
pub mod tiny;

use thiserror::Error;

use crate::EngineError;

/// Errors of the command-line tools.
#[derive(Debug, Error)]
pub enum ToolError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{0}")]
    Invalid(String),
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
}
