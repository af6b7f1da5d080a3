//! Prompt building: the model's chat template, the three chat modes, and
//! fitting the conversation into the context.

mod error;
mod lore;
mod modes;
pub mod sandbox;
mod template;
mod truncate;
mod turn_end;

pub use error::PromptError;
pub use modes::{chat_instruct_message, chat_mode_prompt, Continuation, PromptSettings};
pub use template::{ChatTemplate, TemplateVars, MAX_RENDER_BYTES};
pub use truncate::{build_prompt, BuiltPrompt};
