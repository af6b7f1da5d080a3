use thiserror::Error;

/// Why a tool gave no result. The message is what the chat shows and the
/// model reads as the call's result, so it names no paths or internals.
#[derive(Debug, Error)]
pub enum ToolError {
    #[error("there is no tool named {0}")]
    Unknown(String),
    #[error("bad arguments: {0}")]
    Arguments(String),
    #[error("{0}")]
    Failed(String),
    #[error("the tool did not answer within {0} seconds")]
    Timeout(u64),
    #[error("{server}: {reason}")]
    Unavailable { server: String, reason: String },
}
