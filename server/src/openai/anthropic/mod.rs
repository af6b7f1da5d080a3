//! The Anthropic Messages API (`/v1/messages`), as Claude Code and many
//! agent kits speak it: an adapter onto the shared request and replies of
//! [`shared`](super::shared); errors in Anthropic's shape.

mod convert;
pub mod error;
pub mod messages;
mod types;
