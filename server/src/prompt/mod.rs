//! Prompt building: the model's chat template (and, later, the chat modes).

mod error;
mod template;

pub use error::PromptError;
pub use template::ChatTemplate;
