//! The prompt cache on the fake model: prefixes copied between slots,
//! prompts read once, long prompts kept from requests that share little
//! of them, and the memory budget. The fake model panics if a chunk
//! starts past what its slot holds, so a sequence whose cache was evicted
//! or overwritten under it fails these tests.

use std::{sync::atomic::Ordering, time::Duration};

use super::tests::{drain, job, long_job, start, submit, Submitted};
use super::*;
use crate::fake::FakeModel;

/// `len` prompt tokens, distinct per `seed`.
fn prompt(seed: u32, len: usize) -> Vec<u32> {
    (0..len as u32)
        .map(|i| 1 + (i * 7 + seed * 31) % 60)
        .collect()
}

/// Waits until the reply has begun.
fn wait_for_text(s: &mut Submitted) {
    loop {
        match s.rx.blocking_recv() {
            Some(EngineEvent::Text(_)) => return,
            Some(EngineEvent::Waiting { .. } | EngineEvent::Reading { .. }) => {}
            other => panic!("{other:?}"),
        }
    }
}

/// Prompt rows the model ran (chunks of more than one token, or the
/// single-token chunks that start at 0).
fn rows_run(log: &crate::fake::BatchLog) -> usize {
    log.lock().unwrap().iter().flatten().map(|c| c.2).sum()
}

#[test]
fn a_second_chat_starts_from_the_card_a_running_chat_read() {
    let model = FakeModel::new(2)
        .with_prompt_cache(2)
        .slow(Duration::from_millis(1));
    let q = start(model, 4);
    let card = prompt(1, 600);
    let mut first_prompt = card.clone();
    first_prompt.push(5);
    let mut first = submit(&q, long_job(first_prompt, 300));
    wait_for_text(&mut first);
    // The first chat is still replying: its slot is busy.
    let mut second_prompt = card.clone();
    second_prompt.extend([9, 9]);
    let (_, _, stats, _) = drain(&mut submit(&q, job(second_prompt, 3)));
    assert_eq!(stats.cached_tokens, 600);
    drain(&mut first);
    // Without the prompt cache it reads the card again.
    let q = start(FakeModel::new(2).slow(Duration::from_millis(1)), 4);
    let mut first = submit(&q, long_job(card.clone(), 300));
    wait_for_text(&mut first);
    let (_, _, stats, _) = drain(&mut submit(&q, job(prompt(1, 602), 3)));
    assert_eq!(stats.cached_tokens, 0);
    first.cancel.stop();
    drain(&mut first);
}

#[test]
fn n_choices_read_their_prompt_once() {
    let model = FakeModel::new(4).with_prompt_cache(2);
    let log = model.log.clone();
    let q = start(model, 4);
    let shared = prompt(2, 300);
    let mut choices: Vec<_> = (0..4)
        .map(|_| submit(&q, long_job(shared.clone(), 5)))
        .collect();
    let cached: Vec<u32> = choices
        .iter_mut()
        .map(|c| drain(c).2.cached_tokens)
        .collect();
    let mut sorted = cached.clone();
    sorted.sort_unstable();
    // One reads it; the others copy all of it but the token whose logits
    // they need.
    assert_eq!(sorted, [0, 299, 299, 299], "{cached:?}");
    // 300 prompt rows, 3 re-run last tokens, 4 × 5 decoded (the last
    // sampled token of each is never fed).
    assert_eq!(rows_run(&log), 300 + 3 + 4 * 4);
}

#[test]
fn a_request_sharing_little_does_not_overwrite_a_long_prompt() {
    for (extra, expected) in [(2, 746), (0, 38)] {
        let model = FakeModel::new(1).with_prompt_cache(extra);
        let q = start(model, 4);
        let chat = prompt(3, 746);
        let (reply, ..) = drain(&mut submit(&q, job(chat.clone(), 1)));
        assert_eq!(reply.chars().count(), 1);
        // An Impersonate: the same first 38 tokens, then another text.
        let mut impersonate = chat[..38].to_vec();
        impersonate.extend(prompt(4, 700));
        let (_, _, stats, _) = drain(&mut submit(&q, job(impersonate, 1)));
        assert_eq!(stats.cached_tokens, 38);
        // The chat's next turn.
        let mut next = chat.clone();
        next.extend([7, 8]);
        let (_, _, stats, _) = drain(&mut submit(&q, job(next, 1)));
        assert_eq!(stats.cached_tokens, expected, "{extra} cache slots");
    }
}

#[test]
fn the_cache_stays_within_its_budget_while_replies_run() {
    let mut model = FakeModel::new(2).with_prompt_cache(6);
    model.context_length = 1024;
    // Two running slots at full context, with a growth step each.
    let budget = 2 * (1024 + GROWTH_STEP);
    let peak = model.peak_bytes.clone();
    let q = start(model.slow(Duration::from_millis(1)), 4);
    // A long reply runs through all of it: its slot is never taken.
    let mut running = submit(&q, long_job(prompt(5, 200), 600));
    wait_for_text(&mut running);
    let prompts: Vec<Vec<u32>> = (10..22).map(|seed| prompt(seed, 300)).collect();
    for p in &prompts {
        let (_, _, stats, _) = drain(&mut submit(&q, job(p.clone(), 2)));
        assert_eq!(stats.cached_tokens, 0);
    }
    // The latest prompt is still cached; the oldest was evicted and is
    // read again (from the start: no stale positions).
    let (_, _, recent, _) = drain(&mut submit(&q, job(prompts[11].clone(), 2)));
    assert_eq!(recent.cached_tokens, 299);
    let (_, _, oldest, _) = drain(&mut submit(&q, job(prompts[0].clone(), 2)));
    assert_eq!(oldest.cached_tokens, 0);
    let (text, reason, ..) = drain(&mut running);
    // (Its first token was read while waiting for it.)
    assert_eq!((text.chars().count(), reason), (599, FinishReason::Length));
    let peak = peak.load(Ordering::Relaxed);
    assert!(peak <= budget, "{peak} bytes held, budget {budget}");
    assert!(peak > budget / 2, "the cache was used: {peak}");
}

/// A copy that fits the budget only by freeing its own source is not
/// made: the prompt is read instead, nothing fails, and the budget holds.
#[test]
fn a_copy_never_frees_its_own_source() {
    let mut model = FakeModel::new(1).with_prompt_cache(2);
    model.context_length = 1024;
    let budget = 1024 + GROWTH_STEP;
    let peak = model.peak_bytes.clone();
    let q = start(model, 4);
    let chat = prompt(6, 1000);
    drain(&mut submit(&q, job(chat.clone(), 2)));
    // Shares 300 tokens, would lose 700: it runs in the empty slot, and
    // a copy of 300 does not fit beside the chat's 1,001.
    let mut impersonate = chat[..300].to_vec();
    impersonate.extend(prompt(7, 400));
    let (_, reason, stats, _) = drain(&mut submit(&q, job(impersonate, 2)));
    assert_eq!((reason, stats.cached_tokens), (FinishReason::Length, 0));
    let peak = peak.load(Ordering::Relaxed);
    assert!(peak <= budget, "{peak} bytes held, budget {budget}");
}
