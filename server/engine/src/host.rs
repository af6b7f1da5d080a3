//! The model host: loads, switches and unloads the model, releases its
//! weights when idle, and queues jobs onto the scheduler thread that owns
//! it. Who asked for a reply and how to stop it by name is the server's
//! business (its reply registry): a job comes with its [`Cancel`] flag, and
//! the events come back on a channel.

use std::{
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, RwLock,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use crate::{
    loader::{load_model, load_weights},
    scheduler::{self, QueuedJob, Reload, SchedulerHandle, SchedulerSetup},
    BatchModel, Cancel, EngineError, EngineEvent, GenerationJob, LoadOptions, ModelParts,
    SchedulerMetrics, Speculative, TokenDecoder,
};

/// How models are loaded and served.
#[derive(Clone, Copy, Debug)]
pub struct EngineOptions {
    pub load: LoadOptions,
    /// Requests that may wait for a free sequence slot.
    pub queue_capacity: usize,
    /// Whether replies draft tokens ahead (`--speculative`).
    pub speculative: Speculative,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            load: LoadOptions::default(),
            queue_capacity: 16,
            speculative: Speculative::Off,
        }
    }
}

/// What the host holds: a model and the scheduler running it, or why
/// there is none.
enum Hosted {
    Loaded {
        parts: Arc<ModelParts>,
        queue: SchedulerHandle,
        path: Option<PathBuf>,
    },
    Empty(String),
}

/// The model host: loads, switches, unloads and releases the model. What
/// answers requests holds a [`Submitter`] instead, which can only read the
/// model's parts and queue jobs.
pub struct Engine {
    shared: Arc<Shared>,
    metrics: Arc<SchedulerMetrics>,
    options: EngineOptions,
}

/// What the host and its submit handles share.
struct Shared {
    hosted: RwLock<Hosted>,
    /// Unix seconds of the last request, for the idle timeout.
    last_used: AtomicU64,
    released: AtomicBool,
}

/// The handle replies are started through: the loaded model's tokenizer
/// and facts, and its queue. It cannot load, switch or unload a model.
#[derive(Clone)]
pub struct Submitter {
    shared: Arc<Shared>,
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
            shared: Arc::new(Shared {
                hosted: RwLock::new(Hosted::Empty(reason.into())),
                last_used: AtomicU64::new(now_secs()),
                released: AtomicBool::new(false),
            }),
            metrics: Arc::default(),
            options,
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

    pub fn without_model(reason: String) -> Self {
        Self::new(EngineOptions::default(), reason)
    }

    /// A handle for starting replies on whatever model this host holds.
    pub fn submitter(&self) -> Submitter {
        Submitter {
            shared: self.shared.clone(),
        }
    }

    fn write_hosted(&self) -> std::sync::RwLockWriteGuard<'_, Hosted> {
        self.shared.write_hosted()
    }

    fn read_hosted(&self) -> std::sync::RwLockReadGuard<'_, Hosted> {
        self.shared.read_hosted()
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
            speculative: self.options.speculative,
        })
    }

    /// Loads `path` (blocking: seconds) and makes it the model; the old
    /// model's replies end as interrupted. If loading fails, the old model
    /// stays.
    pub fn switch_to(&self, path: &Path) -> Result<(), EngineError> {
        self.switch_with(path, self.options.load)
    }

    /// The options models load with unless a load names its own.
    pub fn load_options(&self) -> LoadOptions {
        self.options.load
    }

    /// [`Engine::switch_to`] with other load options (the Model tab's
    /// context and parallel replies); the model's reloads keep them.
    pub fn switch_with(&self, path: &Path, load: LoadOptions) -> Result<(), EngineError> {
        let (parts, model) = match load_model(path, load) {
            Ok(loaded) => loaded,
            Err(e) => {
                tracing::error!(model = %path.display(), error = %e, "model not loaded");
                if let Hosted::Empty(reason) = &mut *self.write_hosted() {
                    *reason = e.to_string();
                }
                return Err(e);
            }
        };
        let reload_path = path.to_path_buf();
        let reload: Reload = Box::new(move || load_weights(&reload_path, load));
        let queue = self.start(model, parts.tokenizer.clone(), Some(reload));
        let old = std::mem::replace(
            &mut *self.write_hosted(),
            Hosted::Loaded {
                parts: Arc::new(parts),
                queue,
                path: Some(path.to_path_buf()),
            },
        );
        if let Hosted::Loaded { queue, .. } = old {
            queue.interrupt_all();
        }
        self.shared.released.store(false, Ordering::SeqCst);
        self.shared.touch();
        Ok(())
    }

    /// Ends all replies (as interrupted) and frees the model.
    pub fn unload(&self) {
        let old = std::mem::replace(
            &mut *self.write_hosted(),
            Hosted::Empty("it was unloaded; load one on the Model tab".into()),
        );
        if let Hosted::Loaded { queue, .. } = old {
            queue.interrupt_all();
        }
    }

    /// Ends every reply in flight or waiting as interrupted by the server
    /// (shutting down); returns how many there were.
    pub fn interrupt_all(&self) -> usize {
        match &*self.read_hosted() {
            Hosted::Loaded { queue, .. } => {
                let running = queue.depth();
                queue.interrupt_all();
                running
            }
            Hosted::Empty(_) => 0,
        }
    }

    /// The loaded model's tokenizer, template source and facts.
    pub fn model(&self) -> Result<Arc<ModelParts>, EngineError> {
        self.shared.model()
    }

    /// The file the model came from.
    pub fn model_path(&self) -> Option<PathBuf> {
        match &*self.read_hosted() {
            Hosted::Loaded { path, .. } => path.clone(),
            Hosted::Empty(_) => None,
        }
    }

    /// Jobs waiting for a slot or running.
    pub fn queue_depth(&self) -> usize {
        match &*self.read_hosted() {
            Hosted::Loaded { queue, .. } => queue.depth(),
            Hosted::Empty(_) => 0,
        }
    }

    /// What the scheduler is doing (sequences, batches, cache).
    pub fn metrics(&self) -> &SchedulerMetrics {
        &self.metrics
    }

    /// Frees the weights if nothing used the model for `idle`; the next
    /// request loads them again. Returns true when it released them.
    pub fn release_if_idle(&self, idle: Duration) -> bool {
        let idle_for = now_secs().saturating_sub(self.shared.last_used.load(Ordering::Relaxed));
        if idle_for < idle.as_secs()
            || self.shared.released.load(Ordering::Relaxed)
            || self.queue_depth() > 0
        {
            return false;
        }
        match &*self.read_hosted() {
            Hosted::Loaded { queue, .. } => {
                queue.release();
                self.shared.released.store(true, Ordering::Relaxed);
                true
            }
            Hosted::Empty(_) => false,
        }
    }

    /// True while the weights are released for being idle.
    pub fn is_released(&self) -> bool {
        self.shared.released.load(Ordering::Relaxed)
    }
}

impl Shared {
    fn write_hosted(&self) -> std::sync::RwLockWriteGuard<'_, Hosted> {
        self.hosted.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read_hosted(&self) -> std::sync::RwLockReadGuard<'_, Hosted> {
        self.hosted.read().unwrap_or_else(|e| e.into_inner())
    }

    fn touch(&self) {
        self.last_used.store(now_secs(), Ordering::Relaxed);
        self.released.store(false, Ordering::Relaxed);
    }

    fn model(&self) -> Result<Arc<ModelParts>, EngineError> {
        match &*self.read_hosted() {
            Hosted::Loaded { parts, .. } => Ok(parts.clone()),
            Hosted::Empty(reason) => Err(EngineError::NoModel(reason.clone())),
        }
    }
}

impl Submitter {
    /// The loaded model's tokenizer, template source and facts.
    pub fn model(&self) -> Result<Arc<ModelParts>, EngineError> {
        self.shared.model()
    }

    /// Queues `job`; its events arrive on the returned channel, the last
    /// one `Finished` or `Failed`. Setting `cancel` (or dropping the
    /// receiver) ends the reply before its next token.
    pub fn submit(
        &self,
        job: GenerationJob,
        cancel: Cancel,
    ) -> Result<UnboundedReceiver<EngineEvent>, EngineError> {
        let queue = match &*self.shared.read_hosted() {
            Hosted::Loaded { queue, .. } => queue.clone(),
            Hosted::Empty(reason) => return Err(EngineError::NoModel(reason.clone())),
        };
        self.shared.touch();
        let (events, receiver) = unbounded_channel();
        queue.submit(QueuedJob {
            job,
            events,
            cancel,
            received: Instant::now(),
        })?;
        Ok(receiver)
    }
}
