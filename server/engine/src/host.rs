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
    draft_model::load_draft,
    loader::{gpu_plan_bytes, load_model, load_weights},
    scheduler::{self, DraftModel, QueuedJob, Reload, SchedulerHandle, SchedulerSetup},
    shown_file, BatchModel, Cancel, EngineError, EngineEvent, GenerationJob, LoadOptions,
    ModelParts, SchedulerMetrics, Speculative, TokenDecoder,
};

/// How models are loaded and served.
#[derive(Clone, Debug)]
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
        /// What it loaded with, and the GPU memory its plan takes (none
        /// off the GPU path): a switch weighs it against the next model.
        load: LoadOptions,
        gpu_bytes: Option<usize>,
    },
    Empty(String),
}

/// How a switch went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Switched {
    /// The old model was freed before the new one loaded: both did not fit
    /// in the GPU memory.
    pub freed_old_first: bool,
}

/// Longest a switch waits for the old model's scheduler to let go of it.
const FREE_WAIT: Duration = Duration::from_secs(120);

/// Whether the old model (`old` bytes) must be freed before the new one
/// (`new` bytes) loads: with `--gpu-memory`, when both exceed it; without,
/// when the card has less free than the new one needs. Never when the new
/// one would not fit even alone: its load is refused with the numbers, and
/// the old one goes on serving. Knowing neither, the new one loads beside
/// the old, and a load that does not fit says so.
pub fn must_free_first(
    new: usize,
    old: usize,
    limit: Option<usize>,
    free_now: Option<usize>,
) -> bool {
    match (limit, free_now) {
        (Some(limit), _) => new + old > limit && new <= limit,
        (None, Some(free)) => new > free && new <= free + old,
        (None, None) => false,
    }
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
        draft_model: Option<DraftModel>,
    ) -> SchedulerHandle {
        scheduler::spawn(SchedulerSetup {
            model,
            decoder,
            queue_capacity: self.options.queue_capacity,
            metrics: self.metrics.clone(),
            reload,
            speculative: self.options.speculative.clone(),
            draft_model,
        })
    }

    /// GPU memory the draft model `--speculative` names will plan (about:
    /// its context is the main model's, capped by `ctx_size` here); 0
    /// without one, off the GPU path, or where its file cannot be read
    /// (its load then says why).
    fn draft_plan_bytes(&self, load: LoadOptions) -> usize {
        let Speculative::Model(draft) = &self.options.speculative else {
            return 0;
        };
        let options = LoadOptions {
            gpu_memory: None,
            ..load
        };
        gpu_plan_bytes(draft, options).ok().flatten().unwrap_or(0)
    }

    /// The draft model `--speculative` names, loaded to draft for the
    /// model just loaded from `path`, and how replies will draft (for the
    /// Model tab). A draft model that cannot draft for this model (another
    /// vocabulary, no room on the card) leaves the model serving without
    /// drafts, and says why.
    fn draft_for(
        &self,
        path: &Path,
        model: &dyn BatchModel,
        load: LoadOptions,
        gpu_bytes: Option<usize>,
    ) -> (Option<DraftModel>, String) {
        let shape = model.shape();
        let speculative = &self.options.speculative;
        if *speculative != Speculative::Off && !shape.all_logits {
            return (
                None,
                "off: this model runs on candle's kernels, which check no drafts".into(),
            );
        }
        let Speculative::Model(draft) = speculative else {
            return (None, speculative.to_string());
        };
        match load_draft(draft, path, &shape, load, gpu_bytes) {
            Ok(loaded) => {
                tracing::info!(draft = %shown_file(draft), "drafting with a draft model");
                (Some(loaded), format!("draft model {}", shown_file(draft)))
            }
            Err(e) => {
                tracing::warn!(error = %e, "speculative decoding is off");
                (None, format!("off: {e}"))
            }
        }
    }

    /// Loads `path` (blocking: seconds) and makes it the model; the old
    /// model's replies end as interrupted. If loading fails, the old model
    /// stays (or, where it had to be freed first, is loaded again).
    pub fn switch_to(&self, path: &Path) -> Result<Switched, EngineError> {
        self.switch_with(path, self.options.load)
    }

    /// The options models load with unless a load names its own.
    pub fn load_options(&self) -> LoadOptions {
        self.options.load
    }

    /// [`Engine::switch_to`] with other load options (the Model tab's
    /// context and parallel replies); the model's reloads keep them.
    pub fn switch_with(&self, path: &Path, load: LoadOptions) -> Result<Switched, EngineError> {
        let main_bytes = match gpu_plan_bytes(path, load) {
            Ok(bytes) => bytes,
            Err(e) => return Err(self.load_failed(path, e)),
        };
        // The draft model takes the card's memory too.
        let gpu_bytes = main_bytes.map(|main| main + self.draft_plan_bytes(load));
        let freed = self.free_if_both_do_not_fit(path, load, gpu_bytes);
        let (mut parts, model) = match load_model(path, load) {
            Ok(loaded) => loaded,
            Err(e) => {
                let e = self.load_failed(path, e);
                if let Some((old_path, old_load)) = freed {
                    return Err(self.load_again(&old_path, old_load, e));
                }
                return Err(e);
            }
        };
        let (draft, speculative) = self.draft_for(path, model.as_ref(), load, main_bytes);
        parts.info.speculative = speculative;
        let reload_path = path.to_path_buf();
        let reload: Reload = Box::new(move || load_weights(&reload_path, load));
        let queue = self.start(model, parts.tokenizer.clone(), Some(reload), draft);
        let old = std::mem::replace(
            &mut *self.write_hosted(),
            Hosted::Loaded {
                parts: Arc::new(parts),
                queue,
                path: Some(path.to_path_buf()),
                load,
                gpu_bytes,
            },
        );
        if let Hosted::Loaded { queue, .. } = old {
            queue.interrupt_all();
        }
        self.shared.released.store(false, Ordering::SeqCst);
        self.shared.touch();
        Ok(Switched {
            freed_old_first: freed.is_some(),
        })
    }

    /// Logs a failed load; with no model held, the error is why.
    fn load_failed(&self, path: &Path, e: EngineError) -> EngineError {
        tracing::error!(model = %path.display(), error = %e, "model not loaded");
        if let Hosted::Empty(reason) = &mut *self.write_hosted() {
            *reason = e.to_string();
        }
        e
    }

    /// Frees the model held when it and the next one (`new_bytes` on the
    /// GPU) would not fit together; returns what it held, to load again
    /// should the next one fail.
    fn free_if_both_do_not_fit(
        &self,
        path: &Path,
        load: LoadOptions,
        new_bytes: Option<usize>,
    ) -> Option<(PathBuf, LoadOptions)> {
        let new = new_bytes?;
        let (old, old_path, old_load) = match &*self.read_hosted() {
            Hosted::Loaded {
                gpu_bytes: Some(old),
                path: Some(old_path),
                load: old_load,
                ..
            } => (*old, old_path.clone(), *old_load),
            _ => return None,
        };
        // Models on different cards do not compete for memory.
        if old_load.device != load.device {
            return None;
        }
        // The card's free memory is read through a context current on this
        // thread, which opening the device makes (as the loader does).
        let free_now = match load.device {
            crate::DeviceSpec::Cuda(_) => load
                .device
                .open()
                .ok()
                .and_then(|_device| crate::memory::gpu_free_bytes()),
            _ => None,
        };
        if !must_free_first(new, old, load.gpu_memory, free_now) {
            return None;
        }
        let gib = |b: usize| b as f64 / (1u64 << 30) as f64;
        tracing::warn!(
            old = %shown_file(&old_path),
            new = %shown_file(path),
            old_gib = format!("{:.1}", gib(old)),
            new_gib = format!("{:.1}", gib(new)),
            "the two models do not fit in the GPU memory together: freeing the old one first"
        );
        let old_hosted = std::mem::replace(
            &mut *self.write_hosted(),
            Hosted::Empty(format!(
                "{} was freed to make room for {}, which is loading",
                shown_file(&old_path),
                shown_file(path)
            )),
        );
        if let Hosted::Loaded { queue, .. } = old_hosted {
            if !queue.free_and_wait(FREE_WAIT) {
                tracing::warn!("the old model's scheduler did not let go of it in time");
            }
        }
        Some((old_path, old_load))
    }

    /// After the next model failed to load in the room the old one left,
    /// loads the old one again; returns the next model's error.
    fn load_again(&self, path: &Path, load: LoadOptions, failed: EngineError) -> EngineError {
        match self.switch_with(path, load) {
            Ok(_) => tracing::info!(model = %shown_file(path), "loaded the previous model again"),
            Err(e) => {
                tracing::error!(model = %shown_file(path), error = %e, "the previous model did not load again")
            }
        }
        failed
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

#[cfg(test)]
mod tests {
    use super::must_free_first;

    const GIB: usize = 1 << 30;

    /// A 24 GiB card holding a 20 GiB 32B model: a second 32B plan cannot
    /// load beside it; a 1 GiB model can.
    #[test]
    fn the_old_model_goes_first_only_when_both_do_not_fit() {
        let limit = Some(24 * GIB);
        assert!(must_free_first(21 * GIB, 21 * GIB, limit, None));
        assert!(!must_free_first(GIB, 21 * GIB, limit, None));
        // Without --gpu-memory: what the card has free now decides.
        assert!(must_free_first(21 * GIB, 21 * GIB, None, Some(3 * GIB)));
        assert!(!must_free_first(GIB, 21 * GIB, None, Some(3 * GIB)));
        // Knowing neither, the new one loads beside the old.
        assert!(!must_free_first(21 * GIB, 21 * GIB, None, None));
        // A model that cannot fit even alone never costs the old one.
        assert!(!must_free_first(25 * GIB, GIB, limit, None));
        assert!(!must_free_first(25 * GIB, 21 * GIB, None, Some(3 * GIB)));
    }
}
