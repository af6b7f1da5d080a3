use std::path::Path;

use domain::ErrorClass;
use thiserror::Error;

/// Everything a model backend and the engine can fail with. Mapped once to
/// UI messages (`errors.rs`) and once to HTTP statuses (`openai/error.rs`).
#[derive(Debug, Error)]
pub enum EngineError {
    #[error("model file {file} could not be opened: {reason}")]
    ModelFile { file: String, reason: String },
    #[error("model file {file} is not a valid GGUF file: {reason}")]
    CorruptModel { file: String, reason: String },
    #[error("the model does not fit in the memory of {device}: {reason}")]
    OutOfMemory { device: String, reason: String },
    #[error("model architecture `{0}` is not supported (supported: {list})", list = super::arch::supported_names())]
    UnsupportedArchitecture(String),
    #[error("the model's tokenizer cannot be used: {0}")]
    Tokenizer(String),
    #[error("device `{0}` is not available: {1}")]
    Device(String, String),
    #[error("the prompt has {prompt_tokens} tokens but the context holds {context_length}")]
    PromptTooLong {
        prompt_tokens: usize,
        context_length: usize,
    },
    #[error("the text is {} KB, far more than this model's {context_tokens}-token context can hold: at most {} KB of text is tokenized", bytes.div_ceil(1024), limit / 1024)]
    TextTooLong {
        bytes: usize,
        limit: usize,
        context_tokens: usize,
    },
    #[error("the request queue is full")]
    QueueFull,
    #[error("no model is loaded: {0}")]
    NoModel(String),
    #[error("model computation failed: {0}")]
    Compute(String),
    /// The device can no longer run this model (a sticky CUDA fault): the
    /// engine drops the model and loads it again for the next request.
    #[error("the GPU failed while computing, and the model is being loaded again: {0}")]
    DeviceFault(String),
    #[error("the engine worker has stopped")]
    WorkerGone,
    #[error("the grammar or schema cannot be used: {0}")]
    Grammar(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("the remote backend failed: {0}")]
    Remote(String),
    /// The remote server refused the request (its 4xx), in its words.
    #[error("the remote server refused the request: {0}")]
    RemoteRefused(String),
}

impl EngineError {
    /// What kind of failure this is, for every place that shows it.
    pub fn class(&self) -> ErrorClass {
        match self {
            EngineError::PromptTooLong { .. }
            | EngineError::TextTooLong { .. }
            | EngineError::Grammar(_)
            | EngineError::Unsupported(_)
            | EngineError::RemoteRefused(_) => ErrorClass::BadInput,
            EngineError::QueueFull => ErrorClass::Busy,
            EngineError::NoModel(_)
            | EngineError::ModelFile { .. }
            | EngineError::CorruptModel { .. }
            | EngineError::OutOfMemory { .. }
            | EngineError::UnsupportedArchitecture(_)
            | EngineError::Tokenizer(_)
            | EngineError::Device(..)
            // A retry is answered once the model has loaded again.
            | EngineError::DeviceFault(_)
            | EngineError::Remote(_) => ErrorClass::Unavailable,
            EngineError::Compute(_) | EngineError::WorkerGone => ErrorClass::Internal,
        }
    }
}

/// How a model file is named in messages: its file name, never where it
/// lives (messages reach browsers and API clients).
pub fn shown_file(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "the model file".into())
}

/// A candle error as users may read it: without the backtrace candle adds
/// when `RUST_BACKTRACE` is set, without the file paths it wraps around
/// errors, on one line.
pub fn candle_reason(e: &candle_core::Error) -> String {
    match e {
        candle_core::Error::WithBacktrace { inner, .. }
        | candle_core::Error::WithPath { inner, .. } => candle_reason(inner),
        other => first_line(&other.to_string()),
    }
}

/// The first line of a message, cut to a readable length.
pub fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or("").trim();
    let mut shown: String = line.chars().take(300).collect();
    if line.chars().count() > 300 {
        shown.push('…');
    }
    shown
}

/// A failed weight load: out of device memory, or a file that is not what
/// its header promised.
pub fn load_error(path: &Path, device: &candle_core::Device, e: candle_core::Error) -> EngineError {
    let reason = candle_reason(&e);
    if is_sticky(&reason) {
        // A load after a fault that the context kept: only a new process
        // gets a working one.
        return EngineError::Device(
            "the GPU".into(),
            format!("it faulted ({reason}) and cannot be used until candlelight is restarted"),
        );
    }
    if reason.contains("OUT_OF_MEMORY") || reason.to_ascii_lowercase().contains("out of memory") {
        EngineError::OutOfMemory {
            device: if device.is_cuda() {
                "the GPU"
            } else {
                "system memory"
            }
            .to_string(),
            reason,
        }
    } else {
        EngineError::CorruptModel {
            file: shown_file(path),
            reason,
        }
    }
}

/// CUDA errors after which the context cannot run anything more: every
/// later call fails too, so the model must be dropped and loaded again
/// (CUDA's documentation of `cudaError`: "sticky" errors).
const STICKY_CUDA_ERRORS: &[&str] = &[
    "CUDA_ERROR_ILLEGAL_ADDRESS",
    "CUDA_ERROR_LAUNCH_FAILED",
    "CUDA_ERROR_ILLEGAL_INSTRUCTION",
    "CUDA_ERROR_MISALIGNED_ADDRESS",
    "CUDA_ERROR_INVALID_ADDRESS_SPACE",
    "CUDA_ERROR_INVALID_PC",
    "CUDA_ERROR_HARDWARE_STACK_ERROR",
    "CUDA_ERROR_ASSERT",
    "CUDA_ERROR_ECC_UNCORRECTABLE",
    "CUDA_ERROR_CONTEXT_IS_DESTROYED",
];

/// Whether a device error is one of CUDA's sticky ones.
fn is_sticky(reason: &str) -> bool {
    STICKY_CUDA_ERRORS.iter().any(|code| reason.contains(code))
}

impl From<candle_core::Error> for EngineError {
    fn from(e: candle_core::Error) -> Self {
        let reason = candle_reason(&e);
        if is_sticky(&reason) {
            EngineError::DeviceFault(reason)
        } else {
            EngineError::Compute(reason)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sticky CUDA error is a fault to reload from while serving, and a
    /// plain "restart" when it meets a load.
    #[test]
    fn sticky_cuda_errors_are_faults_and_a_load_after_one_says_restart() {
        let sticky = || {
            candle_core::Error::Msg(
                "DriverError(CUDA_ERROR_ILLEGAL_ADDRESS, \"an illegal memory access\")".into(),
            )
        };
        assert!(matches!(
            EngineError::from(sticky()),
            EngineError::DeviceFault(_)
        ));
        let plain = candle_core::Error::Msg("shape mismatch".into());
        assert!(matches!(EngineError::from(plain), EngineError::Compute(_)));
        let e = load_error(Path::new("/m/x.gguf"), &candle_core::Device::Cpu, sticky());
        assert!(matches!(e, EngineError::Device(..)), "{e}");
        assert!(e.to_string().contains("restarted"), "{e}");
    }

    /// With RUST_BACKTRACE=1 candle appends a backtrace (and may wrap a
    /// path around the error): neither reaches a user.
    #[test]
    fn candle_errors_lose_their_backtrace_and_paths() {
        let inner = candle_core::Error::Msg("unknown dtype for tensor 30".into());
        let wrapped = candle_core::Error::WithBacktrace {
            inner: Box::new(candle_core::Error::WithPath {
                inner: Box::new(inner),
                path: "/home/ann/models/x.gguf".into(),
            }),
            backtrace: Box::new(std::backtrace::Backtrace::force_capture()),
        };
        assert!(
            wrapped.to_string().lines().count() > 1,
            "candle shows a backtrace"
        );
        assert_eq!(candle_reason(&wrapped), "unknown dtype for tensor 30");
        let e: EngineError = wrapped.into();
        assert_eq!(
            e.to_string(),
            "model computation failed: unknown dtype for tensor 30"
        );
    }
}
