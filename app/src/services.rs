//! What the server functions need from the server, as a trait the server
//! crate implements and puts into the Leptos context. The UI crate never
//! names a server type, so it keeps compiling to wasm and every server piece
//! stays testable without a browser.

use std::{pin::Pin, sync::Arc};

use futures::Stream;

use crate::types::{AppError, ModelStatus, ReplyRequest, StreamEvent};

/// A reply as it is generated; dropping it cancels the generation.
pub type EventStream = Pin<Box<dyn Stream<Item = StreamEvent> + Send>>;

pub trait ChatService: Send + Sync + 'static {
    /// Starts generating the assistant's next message for this conversation.
    fn start_reply(&self, request: ReplyRequest) -> Result<EventStream, AppError>;
    /// Ends the named generation at its next token; false if it was not running.
    fn stop_reply(&self, request_id: &str) -> bool;
    fn model_status(&self) -> ModelStatus;
}

/// The services server functions find in their context.
#[derive(Clone)]
pub struct Services {
    pub chat: Arc<dyn ChatService>,
}

/// The services of the current request, or a clear error if the server forgot
/// to provide them.
pub fn services() -> Result<Services, AppError> {
    leptos::prelude::use_context::<Services>()
        .ok_or_else(|| AppError::Misconfigured("chat services are not in the context".into()))
}
