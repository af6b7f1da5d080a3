//! The in-process inference engine: one scheduler thread owns the model and
//! steps every running reply together (continuous batching); the [`Engine`]
//! handle queues jobs onto it and hands back a stream of events. The model
//! can be switched or unloaded while the server runs.
//!
//! Below it, [`crate::model_port`] is what a backend implements: our CPU
//! kernels (`crate::cpu`) and candle's models (`candle.rs`).

mod cancel;
mod candle;
mod constraint;
mod detokenize;
mod device;
#[cfg(test)]
mod fake;
mod gbnf;
mod gguf;
mod lead;
mod loader;
pub mod metrics;
mod sampler;
mod scheduler;
mod spm;
mod stop;
mod token_bytes;
mod tokenizer;
mod types;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    pin::Pin,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex, RwLock,
    },
    task::{Context, Poll},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use futures::Stream;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

pub use crate::model_port::{shown_file, EngineError};
pub use crate::model_port::{BatchModel, ModelShape, SeqChunk};
pub use cancel::Cancel;
pub use constraint::{Constraints, Grammar, TokenConstraint};
pub use detokenize::{IncrementalDecoder, TokenDecoder};
pub use device::DeviceSpec;
pub use gbnf::gbnf_to_lark;
pub use gguf::GgufFile;
pub use loader::{
    load_model, load_tokenizer, load_weights, Kernels, LoadOptions, ModelInfo, ModelParts,
    DEFAULT_PARALLEL,
};
pub use metrics::Metrics;
pub use tokenizer::{TextTokenizer, TEXT_BYTES_PER_CONTEXT_TOKEN};
pub use types::{
    EngineEvent, FinishReason, GenerationJob, GenerationStats, Sampling, TokenLogprob,
    TokenLogprobs,
};

use scheduler::{QueuedJob, Reload, SchedulerHandle, SchedulerSetup};

/// Whose a reply is and its request id: a reply can be stopped only by
/// its owner (a user under `--auth`; everyone shares the empty owner).
type ReplyKey = (String, String);

/// Cancellation flags of the generations in flight.
type ActiveMap = Arc<Mutex<HashMap<ReplyKey, Cancel>>>;

/// How models are loaded and served.
#[derive(Clone, Copy, Debug)]
pub struct EngineOptions {
    pub load: LoadOptions,
    /// Requests that may wait for a free sequence slot.
    pub queue_capacity: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            load: LoadOptions::default(),
            queue_capacity: 16,
        }
    }
}

enum Slot {
    Loaded {
        parts: Arc<ModelParts>,
        queue: SchedulerHandle,
        path: Option<PathBuf>,
    },
    Empty(String),
}

pub struct Engine {
    slot: RwLock<Slot>,
    active: ActiveMap,
    metrics: Arc<Metrics>,
    options: EngineOptions,
    /// Unix seconds of the last request, for the idle timeout.
    last_used: AtomicU64,
    released: AtomicBool,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Engine {
    /// An engine with no model yet; `reason` says why.
    pub fn new(options: EngineOptions, reason: impl Into<String>) -> Self {
        Self {
            slot: RwLock::new(Slot::Empty(reason.into())),
            active: ActiveMap::default(),
            metrics: Arc::default(),
            options,
            last_used: AtomicU64::new(now_secs()),
            released: AtomicBool::new(false),
        }
    }

    /// Loads the model and starts its scheduler. A model that fails to load
    /// leaves an engine that explains why on every request, so the server
    /// keeps serving.
    pub fn load(path: &Path, options: EngineOptions) -> Self {
        let engine = Self::new(options, "no model loaded");
        let _ = engine.switch_to(path);
        engine
    }

    /// An engine around an already loaded model (tests use fakes).
    pub fn with_model(
        parts: ModelParts,
        model: Box<dyn BatchModel>,
        decoder: Arc<dyn TokenDecoder + Send + Sync>,
        queue_capacity: usize,
    ) -> Self {
        let engine = Self::new(
            EngineOptions {
                queue_capacity,
                ..EngineOptions::default()
            },
            "",
        );
        let queue = engine.start(model, decoder, None);
        *engine.write_slot() = Slot::Loaded {
            parts: Arc::new(parts),
            queue,
            path: None,
        };
        engine
    }

    pub fn without_model(reason: String) -> Self {
        Self::new(EngineOptions::default(), reason)
    }

    fn write_slot(&self) -> std::sync::RwLockWriteGuard<'_, Slot> {
        self.slot.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read_slot(&self) -> std::sync::RwLockReadGuard<'_, Slot> {
        self.slot.read().unwrap_or_else(|e| e.into_inner())
    }

    fn start(
        &self,
        model: Box<dyn BatchModel>,
        decoder: Arc<dyn TokenDecoder + Send + Sync>,
        reload: Option<Reload>,
    ) -> SchedulerHandle {
        scheduler::spawn(SchedulerSetup {
            model,
            decoder,
            queue_capacity: self.options.queue_capacity,
            metrics: self.metrics.clone(),
            reload,
        })
    }

    /// Loads `path` (blocking: seconds) and makes it the model, ending the
    /// old model's replies. If loading fails, the old model stays.
    pub fn switch_to(&self, path: &Path) -> Result<(), EngineError> {
        let load = self.options.load;
        let (parts, model) = match load_model(path, load) {
            Ok(loaded) => loaded,
            Err(e) => {
                tracing::error!(model = %path.display(), error = %e, "model not loaded");
                if let Slot::Empty(reason) = &mut *self.write_slot() {
                    *reason = e.to_string();
                }
                return Err(e);
            }
        };
        let reload_path = path.to_path_buf();
        let reload: Reload = Box::new(move || load_weights(&reload_path, load));
        let queue = self.start(model, parts.tokenizer.clone(), Some(reload));
        self.stop_all();
        *self.write_slot() = Slot::Loaded {
            parts: Arc::new(parts),
            queue,
            path: Some(path.to_path_buf()),
        };
        self.released.store(false, Ordering::SeqCst);
        self.touch();
        Ok(())
    }

    /// Ends all replies and frees the model.
    pub fn unload(&self) {
        self.stop_all();
        *self.write_slot() =
            Slot::Empty("the model was unloaded; load one on the Model tab".into());
    }

    /// The loaded model's tokenizer, template and facts.
    pub fn model(&self) -> Result<Arc<ModelParts>, EngineError> {
        match &*self.read_slot() {
            Slot::Loaded { parts, .. } => Ok(parts.clone()),
            Slot::Empty(reason) => Err(EngineError::NoModel(reason.clone())),
        }
    }

    /// The file the model came from.
    pub fn model_path(&self) -> Option<PathBuf> {
        match &*self.read_slot() {
            Slot::Loaded { path, .. } => path.clone(),
            Slot::Empty(_) => None,
        }
    }

    pub fn options(&self) -> EngineOptions {
        self.options
    }

    /// Queues `owner`'s job. Dropping the returned stream cancels it.
    pub fn submit(
        &self,
        owner: &str,
        request_id: &str,
        job: GenerationJob,
    ) -> Result<ReplyStream, EngineError> {
        let queue = match &*self.read_slot() {
            Slot::Loaded { queue, .. } => queue.clone(),
            Slot::Empty(reason) => return Err(EngineError::NoModel(reason.clone())),
        };
        self.touch();
        let (events, cancel, stream) = self.open_reply(owner, request_id);
        queue.submit(QueuedJob {
            job,
            events,
            cancel,
            received: Instant::now(),
        })?;
        Ok(stream)
    }

    /// A reply stream fed by someone other than the worker (a remote
    /// backend), registered so that Stop finds it.
    pub fn open_reply(
        &self,
        owner: &str,
        request_id: &str,
    ) -> (UnboundedSender<EngineEvent>, Cancel, ReplyStream) {
        let (events, receiver) = unbounded_channel();
        let cancel = Cancel::default();
        let key = (owner.to_string(), request_id.to_string());
        let registration = Registration::new(&self.active, key, cancel.clone());
        let stream = ReplyStream {
            receiver,
            _registration: registration,
        };
        (events, cancel, stream)
    }

    /// Ends `owner`'s named generation before its next token.
    pub fn stop(&self, owner: &str, request_id: &str) -> bool {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        match active.get(&(owner.to_string(), request_id.to_string())) {
            Some(flag) => {
                flag.stop();
                true
            }
            None => false,
        }
    }

    /// Ends every generation in flight or waiting as interrupted by the
    /// server (shutdown, a model switch or unload); returns how many.
    pub fn stop_all(&self) -> usize {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        active.values().for_each(Cancel::interrupt);
        active.len()
    }

    /// Ends every generation of `owner`; returns how many.
    pub fn stop_owned_by(&self, owner: &str) -> usize {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let mine: Vec<_> = active.iter().filter(|((o, _), _)| o == owner).collect();
        mine.iter().for_each(|(_, f)| f.stop());
        mine.len()
    }

    /// Jobs waiting for a slot or running.
    pub fn queue_depth(&self) -> usize {
        match &*self.read_slot() {
            Slot::Loaded { queue, .. } => queue.depth(),
            Slot::Empty(_) => 0,
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The metrics, for a task that outlives this borrow.
    pub fn metrics_handle(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    fn touch(&self) {
        self.last_used.store(now_secs(), Ordering::Relaxed);
        self.released.store(false, Ordering::Relaxed);
    }

    /// Frees the weights if nothing used the model for `idle`; the next
    /// request loads them again. Returns true when it released them.
    pub fn release_if_idle(&self, idle: Duration) -> bool {
        let idle_for = now_secs().saturating_sub(self.last_used.load(Ordering::Relaxed));
        if idle_for < idle.as_secs()
            || self.released.load(Ordering::Relaxed)
            || self.queue_depth() > 0
        {
            return false;
        }
        match &*self.read_slot() {
            Slot::Loaded { queue, .. } => {
                queue.release();
                self.released.store(true, Ordering::Relaxed);
                true
            }
            Slot::Empty(_) => false,
        }
    }

    /// True while the weights are released for being idle.
    pub fn is_released(&self) -> bool {
        self.released.load(Ordering::Relaxed)
    }
}

/// Keeps a request's cancel flag findable by id while its stream lives.
struct Registration {
    active: ActiveMap,
    key: ReplyKey,
}

impl Registration {
    fn new(active: &ActiveMap, key: ReplyKey, cancel: Cancel) -> Self {
        active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), cancel);
        Self {
            active: active.clone(),
            key,
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A request id names a reply only among its owner's: another user who
    /// learns (or guesses) it cannot stop it.
    #[test]
    fn only_the_owner_stops_a_reply() {
        let engine = Engine::without_model("none".into());
        let (_events, cancel, _stream) = engine.open_reply("ann", "r1");
        let (_b_events, b_cancel, _b_stream) = engine.open_reply("bob", "r1");
        assert!(!engine.stop("eve", "r1"));
        assert!(!cancel.is_set());
        assert!(engine.stop("ann", "r1"));
        assert_eq!(cancel.reason(), Some(FinishReason::Cancelled));
        assert!(!b_cancel.is_set(), "bob's reply of the same id runs on");
        assert_eq!(engine.stop_owned_by("bob"), 1);
        assert!(b_cancel.is_set());
    }
}
