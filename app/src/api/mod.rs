//! Server functions: one-line adapters from the browser onto [`crate::services`].

mod account;
mod chat;
mod library;
mod logs;
mod models;

pub use account::load_account;
pub use chat::{
    generate_completion, generate_reply, load_model_status, load_model_template, stop_reply,
    GenerateReply, LoadModelStatus,
};
pub use library::*;
pub use logs::*;
pub use models::*;
