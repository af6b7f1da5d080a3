//! Drafting with a draft model (`--speculative MODEL.gguf`) on fake
//! models: replies are the replies without drafts, greedy and sampled,
//! whether the draft model agrees with the main one or not; sequences
//! draft together; a failing draft model only turns drafting off; a
//! released draft model loads again with the main one. The main fake
//! model takes 2 ms a forward and the draft one 1 ms, so drafting pays
//! (see `draft_gate.rs`) where the draft agrees, and only there. The fake models
//! panic when a chunk starts past what their slot holds, so a draft cache
//! that lost track of its sequence fails these tests.

use std::sync::atomic::Ordering;

use super::tests::{drain, long_job, sampled, submit, FailsAt, Submitted};
use super::*;
use crate::{
    fake::{BatchLog, FakeDecoder, FakeModel},
    GenerationJob,
};

/// A main fake model that checks drafts, 2 ms a forward.
fn main_model(slots: usize) -> FakeModel {
    let mut model = FakeModel::new(slots).slow(std::time::Duration::from_millis(2));
    model.all_logits = true;
    model
}

/// A draft fake model that predicts `k + stride` after `k` (1 agrees with
/// the main model), 1 ms a forward.
fn draft_model(slots: usize, stride: usize) -> FakeModel {
    let mut model = FakeModel::new(slots).slow(std::time::Duration::from_millis(1));
    model.stride = stride;
    model
}

fn start_with(
    main: FakeModel,
    draft: Option<Box<dyn BatchModel>>,
    draft_reload: Option<Reload>,
    main_reload: Option<Reload>,
) -> SchedulerHandle {
    spawn(SchedulerSetup {
        model: Box::new(main),
        decoder: Arc::new(FakeDecoder),
        queue_capacity: 4,
        metrics: Arc::default(),
        reload: main_reload,
        speculative: crate::Speculative::Off,
        draft_model: draft.map(|model| DraftModel {
            model,
            reload: draft_reload,
            shared_vocab: crate::fake::FAKE_VOCAB,
        }),
    })
}

fn reply(q: &SchedulerHandle, job: GenerationJob) -> (String, GenerationStats) {
    let (text, _, stats, _) = drain(&mut submit(q, job));
    (text, stats)
}

#[test]
fn replies_drafted_by_a_draft_model_are_the_replies_without() {
    let plain = start_with(main_model(2), None, None, None);
    for stride in [1, 2] {
        let drafting = start_with(
            main_model(2),
            Some(Box::new(draft_model(2, stride))),
            None,
            None,
        );
        // 6 to 45: the reply never reaches the end-of-sequence token the
        // main model bans and the draft model would draft.
        let job = || long_job(vec![3, 9, 5], 40);
        let (expected, _) = reply(&plain, job());
        let (text, stats) = reply(&drafting, job());
        assert_eq!(text, expected, "stride {stride}");
        assert!(stats.draft_tokens > 0, "stride {stride}: nothing drafted");
        if stride == 1 {
            // An agreeing draft model: every drafted token is kept, a step
            // gives up to eight tokens, and drafting goes on (one plain
            // step measures what drafting saves).
            assert_eq!(stats.draft_accepted, stats.draft_tokens);
            assert!(stats.draft_tokens >= 28, "{stats:?}");
        } else {
            // A draft model that is always wrong: drafting costs a row and
            // gives nothing, so it stops after the first try (and tries
            // again every 16 steps).
            assert_eq!(stats.draft_accepted, 0, "{stats:?}");
            assert!(stats.draft_tokens <= 7 * 4, "{stats:?}");
        }
        for seed in 0..3 {
            assert_eq!(
                reply(&drafting, sampled(seed)).0,
                reply(&plain, sampled(seed)).0,
                "stride {stride}, seed {seed}"
            );
        }
    }
}

#[test]
fn decoding_sequences_draft_in_one_batch() {
    let draft = draft_model(2, 1);
    let log: BatchLog = draft.log.clone();
    let q = start_with(main_model(2), Some(Box::new(draft)), None, None);
    let mut replies: Vec<Submitted> = [vec![3, 9, 27], vec![5, 7]]
        .into_iter()
        .map(|prompt| submit(&q, long_job(prompt, 30)))
        .collect();
    let texts: Vec<String> = replies.iter_mut().map(|s| drain(s).0).collect();
    assert!(texts.iter().all(|t| t.chars().count() == 30), "{texts:?}");
    let log = log.lock().unwrap();
    assert!(
        log.iter().any(|batch| batch.len() == 2),
        "the two replies never drafted in one forward: {log:?}"
    );
}

#[test]
fn a_failing_draft_model_turns_drafting_off_and_replies_go_on() {
    let plain = start_with(main_model(1), None, None, None);
    let failing = FailsAt {
        model: draft_model(1, 1),
        forwards: 0,
        at: 10,
        fail: || EngineError::Compute("the draft failed".into()),
    };
    let q = start_with(main_model(1), Some(Box::new(failing)), None, None);
    let job = || long_job(vec![3, 9, 5], 40);
    let (text, stats) = reply(&q, job());
    assert_eq!(text, reply(&plain, job()).0);
    // The first step's seven forwards drafted seven tokens; a plain step
    // measured the difference; the next drafting step's third forward
    // failed, and nothing was drafted after it.
    assert_eq!(stats.draft_tokens, 7, "{stats:?}");
    let (_, stats) = reply(&q, job());
    assert_eq!(stats.draft_tokens, 0);
}

#[test]
fn a_released_draft_model_loads_again_with_the_main_one() {
    let counted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = counted.clone();
    let draft_reload: Reload = Box::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(draft_model(1, 1)) as Box<dyn BatchModel>)
    });
    let main_reload: Reload = Box::new(|| Ok(Box::new(main_model(1)) as Box<dyn BatchModel>));
    let q = start_with(
        main_model(1),
        Some(Box::new(draft_model(1, 1))),
        Some(draft_reload),
        Some(main_reload),
    );
    let job = || long_job(vec![3, 9, 27], 20);
    let (before, first) = reply(&q, job());
    q.release();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let (after, second) = reply(&q, job());
    assert_eq!(after, before);
    assert_eq!(counted.load(Ordering::SeqCst), 1);
    assert!(first.draft_tokens > 0 && second.draft_tokens > 0);
}
