//! The UI's [`ChatService`], implemented on the shared chat engine.

use std::sync::Arc;

use app::{
    services::{ChatService, EventStream},
    types::{AppError, ModelStatus, ReplyRequest, StreamEvent},
};
use futures::StreamExt;

use crate::{
    chat::{ChatEngine, ChatRequest},
    engine::EngineEvent,
};

pub struct EngineChatService {
    chat: Arc<ChatEngine>,
}

impl EngineChatService {
    pub fn new(chat: Arc<ChatEngine>) -> Self {
        Self { chat }
    }
}

impl ChatService for EngineChatService {
    fn start_reply(&self, request: ReplyRequest) -> Result<EventStream, AppError> {
        let chat = ChatRequest::instruct(request.messages, request.params);
        let (events, _prompt) = self.chat.start(&request.request_id, &chat)?;
        Ok(Box::pin(events.map(to_stream_event)))
    }

    fn stop_reply(&self, request_id: &str) -> bool {
        self.chat.engine().stop(request_id)
    }

    fn model_status(&self) -> ModelStatus {
        match self.chat.engine().model() {
            Ok(m) => ModelStatus::Ready {
                name: m.info.name.clone(),
                architecture: m.info.architecture.clone(),
                context_length: m.info.context_length,
                device: m.info.device.to_string(),
            },
            Err(e) => ModelStatus::Failed {
                reason: AppError::from(e).to_string(),
            },
        }
    }
}

fn to_stream_event(event: EngineEvent) -> StreamEvent {
    match event {
        EngineEvent::Text(text) => StreamEvent::Text { text },
        EngineEvent::Finished { reason, stats } => StreamEvent::Done {
            finish_reason: reason,
            stats,
        },
        EngineEvent::Failed(e) => StreamEvent::Error {
            message: AppError::from(e).to_string(),
        },
    }
}
