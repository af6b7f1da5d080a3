//! The one thread that owns the model. Requests wait on a bounded queue; a
//! full queue is refused at once rather than left to hang. After an idle
//! timeout the weights can be released; the next request loads them again.

use std::{
    panic::{catch_unwind, AssertUnwindSafe},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        mpsc::{sync_channel, Receiver, SyncSender, TrySendError},
        Arc,
    },
    thread,
    time::Instant,
};

use app::types::{FinishReason, GenerationStats};
use tokio::sync::mpsc::UnboundedSender;

use super::{
    detokenize::TokenDecoder,
    generate::{generate, Control, EngineEvent, GenerationJob},
    EngineError, LanguageModel,
};
use crate::metrics::Metrics;

/// A job with the means to report on it and to cancel it.
pub struct QueuedJob {
    pub job: GenerationJob,
    pub events: UnboundedSender<EngineEvent>,
    pub cancel: Arc<AtomicBool>,
    pub received: Instant,
}

enum Message {
    Job(QueuedJob),
    /// Drop the weights until the next job (idle timeout).
    Release,
}

/// Loads the weights again after a release.
pub type Reload = Box<dyn Fn() -> Result<Box<dyn LanguageModel>, EngineError> + Send>;

/// The sending side of the queue; cheap to clone.
#[derive(Clone)]
pub struct WorkerQueue {
    sender: SyncSender<Message>,
    depth: Arc<AtomicUsize>,
}

impl WorkerQueue {
    pub fn submit(&self, job: QueuedJob) -> Result<(), EngineError> {
        self.depth.fetch_add(1, Ordering::SeqCst);
        self.sender.try_send(Message::Job(job)).map_err(|e| {
            self.depth.fetch_sub(1, Ordering::SeqCst);
            match e {
                TrySendError::Full(_) => EngineError::QueueFull,
                TrySendError::Disconnected(_) => EngineError::WorkerGone,
            }
        })
    }

    /// Asks the worker to drop its weights once it is idle.
    pub fn release(&self) {
        let _ = self.sender.try_send(Message::Release);
    }

    /// Jobs waiting or running.
    pub fn depth(&self) -> usize {
        self.depth.load(Ordering::SeqCst)
    }
}

pub struct WorkerSetup {
    pub model: Box<dyn LanguageModel>,
    pub decoder: Arc<dyn TokenDecoder + Send + Sync>,
    /// How many jobs may wait behind the running one.
    pub capacity: usize,
    pub metrics: Arc<Metrics>,
    pub reload: Option<Reload>,
}

/// Starts the worker thread; it ends when every queue handle is dropped.
pub fn spawn_worker(setup: WorkerSetup) -> WorkerQueue {
    let (sender, receiver) = sync_channel(setup.capacity);
    let depth = Arc::new(AtomicUsize::new(0));
    let worker_depth = depth.clone();
    thread::Builder::new()
        .name("candlelight-engine".into())
        .spawn(move || run(setup, receiver, worker_depth))
        .expect("spawning the engine thread");
    WorkerQueue { sender, depth }
}

fn run(setup: WorkerSetup, receiver: Receiver<Message>, depth: Arc<AtomicUsize>) {
    let WorkerSetup {
        model,
        decoder,
        metrics,
        reload,
        ..
    } = setup;
    let mut model = Some(model);
    for message in receiver {
        let queued = match message {
            Message::Job(q) => q,
            Message::Release => {
                if model.take().is_some() {
                    tracing::info!(
                        "idle: released the model's weights; the next request loads them again"
                    );
                }
                continue;
            }
        };
        let outcome = if queued.cancel.load(Ordering::Relaxed) || queued.events.is_closed() {
            Ok((FinishReason::Cancelled, GenerationStats::default()))
        } else {
            run_job(&mut model, reload.as_ref(), decoder.as_ref(), &queued)
        };
        let event = match outcome {
            Ok((reason, stats)) => {
                tracing::info!(
                    prompt_tokens = stats.prompt_tokens,
                    cached_tokens = stats.cached_tokens,
                    completion_tokens = stats.completion_tokens,
                    prompt_tps = format!("{:.1}", stats.prompt_tokens_per_second),
                    decode_tps = format!("{:.1}", stats.decode_tokens_per_second),
                    ttft_ms = format!("{:.0}", stats.time_to_first_token_ms),
                    finish = reason.as_str(),
                    "reply finished"
                );
                metrics.record(reason, &stats);
                EngineEvent::Finished { reason, stats }
            }
            Err(e) => {
                tracing::warn!(error = %e, "generation failed");
                metrics.record_failure();
                EngineEvent::Failed(e)
            }
        };
        let _ = queued.events.send(event);
        depth.fetch_sub(1, Ordering::SeqCst);
    }
}

fn run_job(
    model: &mut Option<Box<dyn LanguageModel>>,
    reload: Option<&Reload>,
    decoder: &dyn TokenDecoder,
    queued: &QueuedJob,
) -> Result<(FinishReason, GenerationStats), EngineError> {
    if model.is_none() {
        let reload = reload.ok_or_else(|| EngineError::NoModel("the model was released".into()))?;
        tracing::info!("loading the model's weights again");
        *model = Some(reload()?);
    }
    let Some(m) = model.as_mut() else {
        return Err(EngineError::NoModel("the model was released".into()));
    };
    let control = Control {
        events: &queued.events,
        cancel: &queued.cancel,
        received: queued.received,
    };
    // A panic inside candle must not take the engine down with it.
    catch_unwind(AssertUnwindSafe(|| {
        generate(m.as_mut(), decoder, &queued.job, &control)
    }))
    .unwrap_or_else(|_| {
        Err(EngineError::Compute(
            "the model computation panicked".into(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use app::types::GenerationParams;
    use tokio::sync::mpsc::unbounded_channel;

    use super::*;
    use crate::engine::fake::{FakeDecoder, FakeModel};

    fn queue(delay_ms: u64, script: Vec<u32>, capacity: usize) -> WorkerQueue {
        let model = FakeModel {
            script,
            delay: Duration::from_millis(delay_ms),
            prompt_len: 0,
        };
        spawn_worker(WorkerSetup {
            model: Box::new(model),
            decoder: Arc::new(FakeDecoder),
            capacity,
            metrics: Arc::default(),
            reload: None,
        })
    }

    fn job(max_new_tokens: u32) -> GenerationJob {
        GenerationJob {
            prompt_tokens: vec![5, 6, 7],
            params: GenerationParams::greedy(max_new_tokens),
            stop_strings: vec![],
            eos_ids: vec![0],
        }
    }

    fn submit(
        q: &WorkerQueue,
        job: GenerationJob,
    ) -> (
        tokio::sync::mpsc::UnboundedReceiver<EngineEvent>,
        Arc<AtomicBool>,
    ) {
        let (events, rx) = unbounded_channel();
        let cancel = Arc::new(AtomicBool::new(false));
        q.submit(QueuedJob {
            job,
            events,
            cancel: cancel.clone(),
            received: Instant::now(),
        })
        .unwrap();
        (rx, cancel)
    }

    fn drain(
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<EngineEvent>,
    ) -> (String, Option<FinishReason>) {
        let mut text = String::new();
        while let Some(ev) = rx.blocking_recv() {
            match ev {
                EngineEvent::Text(t) => text.push_str(&t),
                EngineEvent::Finished { reason, .. } => return (text, Some(reason)),
                EngineEvent::Failed(e) => panic!("{e}"),
            }
        }
        (text, None)
    }

    #[test]
    fn generates_until_eos() {
        let q = queue(0, vec![1, 2, 3], 2);
        let (mut rx, _) = submit(&q, job(10));
        assert_eq!(
            drain(&mut rx),
            ("abc".to_string(), Some(FinishReason::Stop))
        );
    }

    #[test]
    fn cancel_flag_stops_before_the_next_token() {
        let q = queue(30, vec![1; 100], 2);
        let (mut rx, cancel) = submit(&q, job(100));
        let mut seen = 0;
        while seen < 2 {
            if let Some(EngineEvent::Text(_)) = rx.blocking_recv() {
                seen += 1;
            }
        }
        cancel.store(true, Ordering::Relaxed);
        let (rest, reason) = drain(&mut rx);
        assert_eq!(reason, Some(FinishReason::Cancelled));
        // At most the token whose forward pass was under way.
        assert!(rest.len() <= 1, "{rest:?}");
    }

    #[test]
    fn dropped_receiver_frees_the_worker_for_the_next_job() {
        let q = queue(30, vec![1; 1000], 2);
        let (rx, _) = submit(&q, job(1000));
        drop(rx);
        let started = Instant::now();
        let (mut rx2, _) = submit(&q, job(2));
        assert_eq!(drain(&mut rx2).1, Some(FinishReason::Length));
        // 1000 tokens at 30 ms would take 30 s; the abandoned job must end at once.
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_full_queue_is_refused_not_blocked() {
        let q = queue(50, vec![1; 100], 1);
        let _running = submit(&q, job(100));
        std::thread::sleep(Duration::from_millis(100)); // the worker picks it up
        let _waiting = submit(&q, job(100));
        let (events, _rx) = unbounded_channel();
        let third = q.submit(QueuedJob {
            job: job(1),
            events,
            cancel: Arc::new(AtomicBool::new(false)),
            received: Instant::now(),
        });
        assert!(matches!(third, Err(EngineError::QueueFull)));
        assert_eq!(q.depth(), 2);
    }

    #[test]
    fn prompt_longer_than_the_context_fails_cleanly() {
        let q = queue(0, vec![1], 1);
        let mut long = job(5);
        long.prompt_tokens = vec![3; 2000];
        let (mut rx, _) = submit(&q, long);
        match rx.blocking_recv() {
            Some(EngineEvent::Failed(EngineError::PromptTooLong {
                prompt_tokens: 2000,
                ..
            })) => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn released_weights_are_loaded_again_for_the_next_job() {
        let reloads = Arc::new(AtomicUsize::new(0));
        let counter = reloads.clone();
        let q = spawn_worker(WorkerSetup {
            model: Box::new(FakeModel {
                script: vec![1, 2],
                delay: Duration::ZERO,
                prompt_len: 0,
            }),
            decoder: Arc::new(FakeDecoder),
            capacity: 2,
            metrics: Arc::default(),
            reload: Some(Box::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(Box::new(FakeModel {
                    script: vec![3],
                    delay: Duration::ZERO,
                    prompt_len: 0,
                }) as Box<dyn LanguageModel>)
            })),
        });
        let (mut rx, _) = submit(&q, job(5));
        assert_eq!(drain(&mut rx).0, "ab");
        q.release();
        let (mut rx, _) = submit(&q, job(5));
        assert_eq!(drain(&mut rx).0, "c");
        assert_eq!(reloads.load(Ordering::SeqCst), 1);
    }
}
