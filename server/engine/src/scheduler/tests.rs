//! The scheduler on the fake model: joining, leaving, cancelling, chunked
//! prefill, slot reuse, the queue, and results that do not depend on what
//! else was in the batch.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use super::*;
use crate::{
    fake::{BatchLog, FakeDecoder, FakeModel},
    Cancel, GenerationJob, Sampling,
};

pub(super) fn start(model: FakeModel, queue_capacity: usize) -> SchedulerHandle {
    start_model(Box::new(model), queue_capacity, None)
}

/// A scheduler on any backend, with the weights' reload when given.
fn start_model(
    model: Box<dyn BatchModel>,
    queue_capacity: usize,
    reload: Option<Reload>,
) -> SchedulerHandle {
    spawn(SchedulerSetup {
        model,
        decoder: Arc::new(FakeDecoder),
        queue_capacity,
        metrics: Arc::default(),
        reload,
        speculative: crate::Speculative::Off,
        draft_model: None,
    })
}

/// A reload that gives a fresh fake model of `slots`, and how many times
/// it ran.
fn counted_reload(slots: usize) -> (Reload, Arc<AtomicUsize>) {
    let reloads = Arc::new(AtomicUsize::new(0));
    let counter = reloads.clone();
    let reload: Reload = Box::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(FakeModel::new(slots)) as Box<dyn BatchModel>)
    });
    (reload, reloads)
}

/// A fake backend whose forward number `at` fails as `fail` says (an
/// error returned, or a panic).
pub(super) struct FailsAt {
    pub(super) model: FakeModel,
    pub(super) forwards: usize,
    pub(super) at: usize,
    pub(super) fail: fn() -> EngineError,
}

impl BatchModel for FailsAt {
    fn shape(&self) -> ModelShape {
        self.model.shape()
    }
    fn forward(&mut self, batch: &[SeqChunk]) -> Result<Vec<Vec<f32>>, EngineError> {
        self.forwards += 1;
        if self.forwards == self.at {
            return Err((self.fail)());
        }
        self.model.forward(batch)
    }
}

/// The error a reply failed with (its other events skipped).
fn first_failure(s: &mut Submitted) -> EngineError {
    loop {
        match s.rx.blocking_recv() {
            Some(EngineEvent::Failed(e)) => return e,
            Some(_) => {}
            None => panic!("no failure"),
        }
    }
}

/// A long reply sampled at a high temperature with `seed`.
pub(super) fn sampled(seed: u64) -> GenerationJob {
    GenerationJob {
        sampling: Sampling {
            greedy: false,
            temperature: 5.0,
            seed: Some(seed),
            ..Sampling::greedy()
        },
        ..long_job(vec![3, 9, 27], 30)
    }
}

/// Four seeded replies, each alone on its own scheduler, and together on `q`.
fn alone_and_together(q: &SchedulerHandle) -> (Vec<String>, Vec<String>) {
    let alone: Vec<String> = (0..4)
        .map(|seed| drain(&mut submit(&start(FakeModel::new(4), 4), sampled(seed))).0)
        .collect();
    let mut together: Vec<Submitted> = (0..4).map(|seed| submit(q, sampled(seed))).collect();
    let together = together.iter_mut().map(|s| drain(s).0).collect();
    (alone, together)
}

pub(super) fn job(prompt: Vec<u32>, max_new: usize) -> GenerationJob {
    GenerationJob::greedy(prompt, max_new, vec![0])
}

/// A reply that goes on until `max_new` (end-of-sequence banned).
pub(super) fn long_job(prompt: Vec<u32>, max_new: usize) -> GenerationJob {
    GenerationJob {
        ban_eos: true,
        ..job(prompt, max_new)
    }
}

pub(super) struct Submitted {
    pub(super) rx: UnboundedReceiver<EngineEvent>,
    pub(super) cancel: Cancel,
}

pub(super) fn submit(q: &SchedulerHandle, job: GenerationJob) -> Submitted {
    let (events, rx) = unbounded_channel();
    let cancel = Cancel::default();
    q.submit(QueuedJob {
        job,
        events,
        cancel: cancel.clone(),
        received: Instant::now(),
    })
    .unwrap();
    Submitted { rx, cancel }
}

/// The reply's text and how it ended, plus the places it was told.
pub(super) fn drain(s: &mut Submitted) -> (String, FinishReason, GenerationStats, Vec<usize>) {
    let (mut text, mut places) = (String::new(), Vec::new());
    while let Some(ev) = s.rx.blocking_recv() {
        match ev {
            EngineEvent::Text(t) => text.push_str(&t),
            EngineEvent::Waiting { ahead } => places.push(ahead),
            EngineEvent::Reading { .. } | EngineEvent::Logprobs(_) => {}
            EngineEvent::Finished { reason, stats } => return (text, reason, stats, places),
            EngineEvent::Failed(e) => panic!("{e}"),
        }
    }
    panic!("no final event");
}

fn letters(tokens: std::ops::RangeInclusive<u32>) -> String {
    tokens
        .map(|t| char::from_u32('a' as u32 + t - 1).unwrap())
        .collect()
}

#[test]
fn generates_until_end_of_sequence() {
    let q = start(FakeModel::new(2), 4);
    let (text, reason, stats, _) = drain(&mut submit(&q, job(vec![5, 60], 10)));
    assert_eq!(text, letters(61..=63));
    assert_eq!(reason, FinishReason::Stop);
    assert_eq!(stats.completion_tokens, 3);
}

#[test]
fn running_replies_are_stepped_together() {
    let model = FakeModel::new(4).slow(Duration::from_millis(2));
    let log = model.log.clone();
    let q = start(model, 4);
    let mut subs: Vec<Submitted> = (0..3)
        .map(|i| submit(&q, long_job(vec![i + 1], 40)))
        .collect();
    for s in &mut subs {
        let (text, reason, _, _) = drain(s);
        assert_eq!(reason, FinishReason::Length);
        assert_eq!(text.chars().count(), 40);
    }
    let batches = log.lock().unwrap();
    let widest = batches.iter().map(Vec::len).max().unwrap();
    assert_eq!(widest, 3, "the three replies shared batches");
    // Three replies of 40 tokens took far fewer than 120 steps.
    assert!(batches.len() < 60, "{} batches", batches.len());
}

#[test]
fn a_reply_is_the_same_alone_and_batched() {
    let q = start(FakeModel::new(4).slow(Duration::from_millis(1)), 4);
    let (alone, together) = alone_and_together(&q);
    assert!(
        alone.iter().any(|t| t != &alone[0]),
        "seeds differ: {alone:?}"
    );
    assert_eq!(alone, together);
}

#[test]
fn a_cancelled_reply_frees_its_slot_within_an_iteration() {
    let q = start(FakeModel::new(1).slow(Duration::from_millis(10)), 4);
    let mut first = submit(&q, long_job(vec![1], 10_000));
    let mut second = submit(&q, job(vec![60], 10));
    // The second waits for the only slot.
    match second.rx.blocking_recv() {
        Some(EngineEvent::Waiting { ahead: 0 }) => {}
        other => panic!("{other:?}"),
    }
    let mut seen = 0;
    while seen < 3 {
        if let Some(EngineEvent::Text(_)) = first.rx.blocking_recv() {
            seen += 1;
        }
    }
    let stopped = Instant::now();
    first.cancel.stop();
    let (_, reason, _, _) = drain(&mut first);
    assert_eq!(reason, FinishReason::Cancelled);
    let (text, _, _, _) = drain(&mut second);
    assert_eq!(text, letters(61..=63));
    assert!(
        stopped.elapsed() < Duration::from_millis(500),
        "{:?}",
        stopped.elapsed()
    );
}

#[test]
fn a_request_whose_client_left_never_starts() {
    let model = FakeModel::new(1).slow(Duration::from_millis(5));
    let log = model.log.clone();
    let q = start(model, 4);
    let mut running = submit(&q, long_job(vec![1], 30));
    let gone = submit(&q, long_job(vec![40; 100], 30));
    drop(gone.rx);
    drain(&mut running);
    let mut after = submit(&q, job(vec![60], 5));
    drain(&mut after);
    let batches = log.lock().unwrap();
    assert!(
        batches.iter().flatten().all(|&(_, _, rows, _)| rows < 100),
        "the abandoned prompt was never read"
    );
}

#[test]
fn a_full_queue_is_refused_and_places_are_reported() {
    let q = start(FakeModel::new(1).slow(Duration::from_millis(20)), 2);
    let mut running = submit(&q, long_job(vec![1], 50));
    let mut a = submit(&q, job(vec![60], 5));
    let mut b = submit(&q, job(vec![61], 5));
    let (events, _rx) = unbounded_channel();
    let refused = q.submit(QueuedJob {
        job: job(vec![1], 1),
        events,
        cancel: Cancel::default(),
        received: Instant::now(),
    });
    assert!(matches!(refused, Err(EngineError::QueueFull)));
    assert_eq!(q.depth(), 3);
    drain(&mut running);
    assert_eq!(drain(&mut a).3, vec![0]);
    assert_eq!(drain(&mut b).3, vec![1, 0], "second in line, then first");
}

/// A long prompt arriving while another reply streams is read in chunks
/// (sized to the measured speed, see `chunks.rs`): the streaming reply gets
/// a token in every batch meanwhile.
#[test]
fn a_long_prompt_does_not_stall_a_streaming_reply() {
    let model = FakeModel::new(2).slow(Duration::from_millis(1));
    let log = model.log.clone();
    let q = start(model, 4);
    let mut streaming = submit(&q, long_job(vec![1], 200));
    match streaming.rx.blocking_recv() {
        Some(EngineEvent::Text(_)) => {}
        other => panic!("{other:?}"),
    }
    let mut long = submit(&q, job(vec![7; 3000], 3));
    let (text, reason, stats, _) = drain(&mut long);
    assert_eq!((text.as_str(), reason), ("hij", FinishReason::Length));
    assert_eq!(stats.prompt_tokens, 3000);
    drain(&mut streaming);
    let batches = log.lock().unwrap();
    let with_prompt: Vec<&Vec<(usize, usize, usize, bool)>> = batches
        .iter()
        .filter(|b| b.iter().any(|c| c.2 > 1))
        .collect();
    assert!(
        with_prompt.len() >= 3000 / 512,
        "{} prompt chunks",
        with_prompt.len()
    );
    for b in with_prompt {
        let rows: usize = b.iter().map(|c| c.2).sum();
        assert!(rows <= 512, "{b:?}");
        assert!(
            b.iter().any(|c| c.2 == 1),
            "the streaming reply stepped too: {b:?}"
        );
        // Every chunk of the long prompt runs on the exact path.
        assert!(b.iter().filter(|c| c.2 > 1).all(|c| c.3), "{b:?}");
    }
}

#[test]
fn the_next_turn_reuses_its_slot_s_prefix() {
    let q = start(FakeModel::new(2), 4);
    let turn1: Vec<u32> = (1..=40).collect();
    let (reply, ..) = drain(&mut submit(&q, job(turn1.clone(), 5)));
    assert_eq!(reply, letters(41..=45));
    // Another chat in between takes the other slot.
    drain(&mut submit(&q, job(vec![50; 30], 2)));
    let mut turn2 = turn1.clone();
    turn2.extend(41..=45);
    turn2.extend([1, 2, 3]);
    let (_, _, stats, _) = drain(&mut submit(&q, job(turn2.clone(), 2)));
    // All of turn 1 and the reply that the slot computed are reused: the
    // reply's last token was sampled but never fed back.
    assert_eq!(stats.cached_tokens as usize, 44);
}

#[test]
fn a_prompt_longer_than_the_context_fails_cleanly() {
    let q = start(FakeModel::new(1), 1);
    let mut s = submit(&q, job(vec![3; 5000], 5));
    match s.rx.blocking_recv() {
        Some(EngineEvent::Failed(EngineError::PromptTooLong {
            prompt_tokens: 5000,
            ..
        })) => {}
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(q.depth(), 0);
}

#[test]
fn released_weights_are_loaded_again_for_the_next_job() {
    let (reload, reloads) = counted_reload(1);
    let q = start_model(Box::new(FakeModel::new(1)), 2, Some(reload));
    assert_eq!(drain(&mut submit(&q, job(vec![62], 5))).0, letters(63..=63));
    q.release();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(drain(&mut submit(&q, job(vec![61], 5))).0, letters(62..=63));
    assert_eq!(reloads.load(Ordering::SeqCst), 1);
}

/// A backend that fails fails the replies in that batch, and the next
/// request still works.
#[test]
fn a_failing_batch_fails_only_its_replies() {
    let flaky = FailsAt {
        model: FakeModel::new(1),
        forwards: 0,
        at: 2,
        fail: || panic!("a kernel bug"),
    };
    let q = start_model(Box::new(flaky), 2, None);
    let failed = first_failure(&mut submit(&q, long_job(vec![1], 10)));
    assert!(failed.to_string().contains("panicked"), "{failed}");
    assert_eq!(drain(&mut submit(&q, job(vec![62], 5))).0, letters(63..=63));
}

#[test]
fn the_log_records_batches_for_inspection() {
    let model = FakeModel::new(1);
    let log: BatchLog = model.log.clone();
    let q = start(model, 1);
    drain(&mut submit(&q, job(vec![60], 5)));
    let batches = log.lock().unwrap();
    // The prompt (1 token, not exact), then one decode step per token.
    assert_eq!(batches[0], vec![(0, 0, 1, false)]);
    assert_eq!(batches.len(), 4);
}

/// Before its speed is measured (or when a step's time allows less), a
/// prompt on the exact path is read in chunks of at least the path's
/// minimum, not in smaller ones that cost nearly as much.
#[test]
fn a_budget_below_the_exact_minimum_still_reads_a_minimum_chunk() {
    let mut model = FakeModel::new(1);
    model.exact_from = Some(300);
    let log = model.log.clone();
    let q = start(model, 1);
    drain(&mut submit(&q, job(vec![5; 700], 1)));
    let first = log.lock().unwrap()[0].clone();
    // The unmeasured budget is 128 tokens.
    assert_eq!(first, vec![(0, 0, 300, true)]);
}

/// A sticky device fault (CUDA's illegal address) fails every running
/// reply, drops the model and loads it again for the next request, which
/// is answered.
#[test]
fn a_device_fault_reloads_the_model_for_the_next_request() {
    let faulting = FailsAt {
        model: FakeModel::new(2),
        forwards: 0,
        at: 3,
        fail: || {
            candle_core::Error::Msg(
                "DriverError(CUDA_ERROR_ILLEGAL_ADDRESS, \"an illegal memory access was encountered\")"
                    .into(),
            )
            .into()
        },
    };
    let (reload, reloads) = counted_reload(2);
    let q = start_model(Box::new(faulting), 2, Some(reload));
    let failed = first_failure(&mut submit(&q, long_job(vec![1], 10)));
    assert!(matches!(failed, EngineError::DeviceFault(_)), "{failed}");
    assert!(failed.to_string().contains("loaded again"), "{failed}");
    assert_eq!(drain(&mut submit(&q, job(vec![62], 5))).0, letters(63..=63));
    assert_eq!(reloads.load(Ordering::SeqCst), 1);
}

/// Replies decoding together are sampled on the backend's worker threads
/// at once (here each on a thread of its own, last first), and each is
/// still what it is alone, seed for seed.
#[test]
fn replies_sampled_on_worker_threads_are_the_replies_alone() {
    struct Spreading(FakeModel, Arc<AtomicUsize>);
    impl BatchModel for Spreading {
        fn shape(&self) -> ModelShape {
            self.0.shape()
        }
        fn forward(&mut self, batch: &[SeqChunk]) -> Result<Vec<Vec<f32>>, EngineError> {
            self.0.forward(batch)
        }
        fn spread(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
            self.1.fetch_max(n, Ordering::SeqCst);
            std::thread::scope(|s| {
                for i in (0..n).rev() {
                    s.spawn(move || f(i));
                }
            });
        }
    }
    let widest = Arc::new(AtomicUsize::new(0));
    let q = start_model(
        Box::new(Spreading(
            FakeModel::new(4).slow(Duration::from_millis(1)),
            widest.clone(),
        )),
        4,
        None,
    );
    let (alone, together) = alone_and_together(&q);
    assert_eq!(alone, together);
    assert!(widest.load(Ordering::SeqCst) >= 2, "sampled one by one");
}

/// Freeing the model for another ends the running reply as interrupted,
/// and a request that reaches the scheduler after the free still gets an
/// answer (no model), not silence.
#[test]
fn a_free_answers_every_request_and_lets_go_of_the_model() {
    let q = start(FakeModel::new(1).slow(Duration::from_millis(30)), 2);
    let mut running = submit(&q, long_job(vec![1], 10_000));
    while !matches!(running.rx.blocking_recv(), Some(EngineEvent::Text(_))) {}
    let (told, heard) = std::sync::mpsc::channel();
    q.sender.send(queue::Message::Free(told)).unwrap();
    let mut late = submit(&q, job(vec![60], 5));
    heard
        .recv_timeout(Duration::from_secs(5))
        .expect("the scheduler let go of the model");
    let (_, reason, _, _) = drain(&mut running);
    assert_eq!(reason, FinishReason::Interrupted);
    match late.rx.blocking_recv() {
        Some(EngineEvent::Failed(EngineError::NoModel(why))) => {
            assert!(why.contains("next model"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}
