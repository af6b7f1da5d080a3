//! The domain types (crate `domain`, shared with the server) and the UI's
//! error type, which carries leptos's server-function traits.

mod error;

pub use domain::*;
pub use error::AppError;
