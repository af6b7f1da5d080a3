//! The in-process inference engine: one worker thread owns the model; the
//! [`Engine`] handle queues jobs onto it and hands back a stream of events.

mod detokenize;
mod device;
mod error;
#[cfg(test)]
mod fake;
mod generate;
mod gguf;
mod loader;
mod model;
mod sampler;
mod stop;
mod tokenizer;
mod worker;

use std::{
    collections::HashMap,
    path::Path,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    task::{Context, Poll},
    time::Instant,
};

use futures::Stream;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

pub use detokenize::{IncrementalDecoder, TokenDecoder};
pub use device::DeviceSpec;
pub use error::EngineError;
pub use generate::{EngineEvent, GenerationJob};
pub use loader::{load_model, load_tokenizer, ModelInfo, ModelParts};
pub use model::LanguageModel;
pub use tokenizer::TextTokenizer;

use worker::{spawn_worker, QueuedJob, WorkerQueue};

/// Cancellation flags of the generations in flight, by request id.
type ActiveMap = Arc<Mutex<HashMap<String, Arc<AtomicBool>>>>;

pub struct Engine {
    state: Result<(Arc<ModelParts>, WorkerQueue), String>,
    active: ActiveMap,
}

impl Engine {
    /// Loads the model and starts its worker. A model that fails to load
    /// leaves an engine that explains why on every request, so the server
    /// keeps serving.
    pub fn load(path: &Path, device: DeviceSpec, queue_capacity: usize) -> Self {
        match load_model(path, device) {
            Ok((parts, model)) => {
                let decoder = parts.tokenizer.clone();
                Self::with_model(parts, model, decoder, queue_capacity)
            }
            Err(e) => {
                tracing::error!(model = %path.display(), error = %e, "model not loaded");
                Self::without_model(e.to_string())
            }
        }
    }

    pub fn with_model(
        parts: ModelParts,
        model: Box<dyn LanguageModel>,
        decoder: Arc<dyn TokenDecoder + Send + Sync>,
        queue_capacity: usize,
    ) -> Self {
        let queue = spawn_worker(model, decoder, queue_capacity);
        Self {
            state: Ok((Arc::new(parts), queue)),
            active: ActiveMap::default(),
        }
    }

    pub fn without_model(reason: String) -> Self {
        Self {
            state: Err(reason),
            active: ActiveMap::default(),
        }
    }

    /// The loaded model's tokenizer, template and facts.
    pub fn model(&self) -> Result<&Arc<ModelParts>, EngineError> {
        self.state
            .as_ref()
            .map(|(parts, _)| parts)
            .map_err(|reason| EngineError::NoModel(reason.clone()))
    }

    /// Queues a job. Dropping the returned stream cancels it.
    pub fn submit(&self, request_id: &str, job: GenerationJob) -> Result<ReplyStream, EngineError> {
        let (_, queue) = self
            .state
            .as_ref()
            .map_err(|reason| EngineError::NoModel(reason.clone()))?;
        let (events, receiver) = unbounded_channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let registration = Registration::new(&self.active, request_id, cancel.clone());
        queue.submit(QueuedJob {
            job,
            events,
            cancel,
            received: Instant::now(),
        })?;
        Ok(ReplyStream {
            receiver,
            _registration: registration,
        })
    }

    /// Ends the named generation before its next token.
    pub fn stop(&self, request_id: &str) -> bool {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        match active.get(request_id) {
            Some(flag) => {
                flag.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Ends every generation in flight or waiting; returns how many.
    pub fn stop_all(&self) -> usize {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        active
            .values()
            .for_each(|f| f.store(true, Ordering::Relaxed));
        active.len()
    }

    /// Jobs waiting or running.
    pub fn queue_depth(&self) -> usize {
        self.state.as_ref().map_or(0, |(_, q)| q.depth())
    }
}

/// Keeps a request's cancel flag findable by id while its stream lives.
struct Registration {
    active: ActiveMap,
    id: String,
}

impl Registration {
    fn new(active: &ActiveMap, id: &str, cancel: Arc<AtomicBool>) -> Self {
        active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), cancel);
        Self {
            active: active.clone(),
            id: id.to_string(),
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
    }
}

/// The events of one reply. Dropping it closes the channel, which the worker
/// notices before the next token.
pub struct ReplyStream {
    receiver: UnboundedReceiver<EngineEvent>,
    _registration: Registration,
}

impl Stream for ReplyStream {
    type Item = EngineEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<EngineEvent>> {
        self.receiver.poll_recv(cx)
    }
}
