//! Subcommands besides serving: measuring speed, comparing devices, and
//! making test models. They share the engine's loading code.

pub mod bench;
pub mod bench_serve;
pub mod complete;
pub mod prefix_bench;
pub mod quantize;

mod shapes;
pub mod synth;
pub mod tiny;

use thiserror::Error;

use crate::engine::EngineError;

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
