//! Server functions: one-line adapters from the browser onto [`crate::services`].

mod chat;

pub use chat::{generate_reply, load_model_status, stop_reply};
