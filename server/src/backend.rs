//! The UI's [`ChatService`], implemented on the in-process engine.

use std::sync::Arc;

use app::{
    services::{ChatService, EventStream},
    types::{AppError, ModelStatus, ReplyRequest, StreamEvent},
};
use futures::StreamExt;

use crate::engine::{Engine, EngineEvent, GenerationJob};

pub struct EngineChatService {
    engine: Arc<Engine>,
}

impl EngineChatService {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

impl ChatService for EngineChatService {
    fn start_reply(&self, request: ReplyRequest) -> Result<EventStream, AppError> {
        request
            .params
            .validate()
            .map_err(|e| AppError::InvalidParameter(e.0))?;
        let model = self.engine.model()?;
        let template = model
            .template
            .as_ref()
            .map_err(|e| AppError::Generation(format!("this model cannot chat: {e}")))?;
        let prompt = template.render(&request.messages, true)?;
        let job = GenerationJob {
            prompt_tokens: model.tokenizer.encode(&prompt)?,
            stop_strings: request.params.custom_stopping_strings.clone(),
            eos_ids: model.tokenizer.eos_ids().to_vec(),
            params: request.params,
        };
        let events = self.engine.submit(&request.request_id, job)?;
        Ok(Box::pin(events.map(to_stream_event)))
    }

    fn stop_reply(&self, request_id: &str) -> bool {
        self.engine.stop(request_id)
    }

    fn model_status(&self) -> ModelStatus {
        match self.engine.model() {
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
