//! Work on untrusted input in child processes: chat templates (anyone may
//! write one) and attached documents (a PDF or docx can unpack to far more
//! than its size). Each child caps its own heap before it reads anything,
//! so input that asks for too much memory kills that child alone, never the
//! server, and a deadline stops one that runs too long. Browsers isolate
//! untrusted content the same way.
//!
//! [`Pool`] is the server's side (a few long-lived children, one request
//! at a time each, one JSON line each way); [`serve_lines`] is the child's.

mod child;
mod pool;

pub use child::serve_lines;
pub use pool::{Lost, Pool};
