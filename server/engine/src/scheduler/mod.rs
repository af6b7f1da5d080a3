//! Continuous batching: one thread owns the model and steps every active
//! reply together. Each iteration runs one batch holding the next token of
//! every decoding sequence plus a bounded chunk of any prompt still being
//! read; new requests join at the next iteration, finished or cancelled
//! ones leave at once and free their slot. Requests beyond the slots wait
//! in order and are told their place. After an idle timeout the weights can
//! be released; the next request loads them again.

mod chunks;
mod draft;
mod draft_gate;
mod drafter;
mod queue;
mod sequence;
mod slots;

use std::{
    collections::{HashMap, VecDeque},
    panic::{catch_unwind, AssertUnwindSafe},
    sync::{
        atomic::{AtomicUsize, Ordering},
        mpsc::{channel, Receiver, TryRecvError},
        Arc, Mutex,
    },
    thread,
    time::{Duration, Instant},
};

use draft_gate::DraftGate;
use drafter::{DraftRequest, Drafter};
use queue::Message;
pub use queue::{QueuedJob, SchedulerHandle};
use sequence::{Choice, Sequence};
use slots::SlotTable;

use super::{
    detokenize::TokenDecoder, metrics::SchedulerMetrics, BatchModel, EngineError, EngineEvent,
    FinishReason, GenerationStats, ModelShape, SeqChunk, Speculative, MAX_DRAFT,
};

/// When the engine was idle, requests arriving within this gap of each
/// other start together (but none waits longer than `GATHER_AT_MOST`).
const GATHER_GAP: Duration = Duration::from_millis(10);
const GATHER_AT_MOST: Duration = Duration::from_millis(40);

/// A request waits for a prompt being read (until all they share is
/// cached) when they share at least this many tokens.
const WAIT_FOR_PREFIX: usize = 32;

/// What one append can add to a slot's cache beyond the positions it holds.
const GROWTH_STEP: usize = crate::model_port::CACHE_GROWTH;

/// Loads the weights again after a release.
pub type Reload = Box<dyn Fn() -> Result<Box<dyn BatchModel>, EngineError> + Send>;

pub struct SchedulerSetup {
    pub model: Box<dyn BatchModel>,
    pub decoder: Arc<dyn TokenDecoder + Send + Sync>,
    /// How many requests may wait for a slot; more are refused as busy.
    pub queue_capacity: usize,
    pub metrics: Arc<SchedulerMetrics>,
    pub reload: Option<Reload>,
    /// `off` or `ngram`; a draft model comes as `draft_model`.
    pub speculative: Speculative,
    pub draft_model: Option<DraftModel>,
}

/// A draft model for speculative decoding, checked by the host: it shares
/// the first `shared_vocab` token ids with the main model, has a slot for
/// each of the main model's, and its caches can be cut back.
pub struct DraftModel {
    pub model: Box<dyn BatchModel>,
    pub reload: Option<Reload>,
    pub shared_vocab: usize,
}

/// How decoding sequences draft tokens ahead.
enum Drafting {
    Off,
    Ngram,
    Model(Box<Drafter>),
}

impl Drafting {
    /// The draft model, where there is one.
    fn drafter(&mut self) -> Option<&mut Drafter> {
        match self {
            Drafting::Model(drafter) => Some(drafter),
            _ => None,
        }
    }
}

/// Starts the scheduler thread; it ends when every handle is dropped and
/// its last reply is done.
pub fn spawn(setup: SchedulerSetup) -> SchedulerHandle {
    let (sender, receiver) = channel();
    let shape = setup.model.shape();
    let depth = Arc::new(AtomicUsize::new(0));
    setup.metrics.set_speculative_note(None);
    let drafting = match (setup.draft_model, &setup.speculative) {
        _ if !shape.all_logits => {
            if setup.speculative != Speculative::Off {
                tracing::info!(
                    speculative = %setup.speculative,
                    "speculative decoding is off: this backend returns one row's logits a step"
                );
            }
            Drafting::Off
        }
        (Some(draft), _) => Drafting::Model(Box::new(Drafter::new(
            draft.model,
            draft.reload,
            draft.shared_vocab,
        ))),
        (None, Speculative::Ngram) => Drafting::Ngram,
        (None, _) => Drafting::Off,
    };
    let handle = SchedulerHandle {
        sender,
        depth: depth.clone(),
        limit: shape.slots + setup.queue_capacity,
    };
    let scheduler = Scheduler {
        shape,
        slots: SlotTable::new(shape.cache_slots.max(shape.slots)),
        model: Some(setup.model),
        reload: setup.reload,
        decoder: setup.decoder,
        metrics: setup.metrics,
        depth,
        waiting: VecDeque::new(),
        running: Vec::new(),
        prefill: chunks::PrefillRate::new(),
        drafting,
        gate: DraftGate::default(),
        stopped: false,
    };
    thread::Builder::new()
        .name("candlelight-scheduler".into())
        .spawn(move || scheduler.run(receiver))
        .expect("spawning the scheduler thread");
    handle
}

/// One sequence's part of the next batch.
struct Planned {
    index: usize,
    rows: usize,
    logits: bool,
    all_logits: bool,
    exact: bool,
}

/// A request waiting for a slot, and the place it was last told.
struct Waiting {
    queued: QueuedJob,
    told: Option<usize>,
}

struct Scheduler {
    shape: ModelShape,
    slots: SlotTable,
    model: Option<Box<dyn BatchModel>>,
    reload: Option<Reload>,
    decoder: Arc<dyn TokenDecoder + Send + Sync>,
    metrics: Arc<SchedulerMetrics>,
    depth: Arc<AtomicUsize>,
    waiting: VecDeque<Waiting>,
    /// In the order they were admitted (the oldest prompt is read first).
    running: Vec<Sequence>,
    prefill: chunks::PrefillRate,
    /// How decoding sequences draft tokens ahead (`--speculative`, where
    /// the backend returns every row's logits).
    drafting: Drafting,
    /// Whether a draft model's drafting has paid lately (see `draft_gate.rs`).
    gate: DraftGate,
    /// Freed for another model: the thread ends.
    stopped: bool,
}

impl Scheduler {
    fn run(mut self, receiver: Receiver<Message>) {
        let mut connected = true;
        loop {
            if self.stopped {
                return self.answer_the_rest(&receiver);
            }
            if self.running.is_empty() && self.waiting.is_empty() {
                if !connected {
                    return;
                }
                match receiver.recv() {
                    Ok(message) => self.take(message),
                    Err(_) => return,
                }
                // Requests sent together (a page and an agent, a benchmark)
                // arrive a few milliseconds apart: wait that long so their
                // prompts are read in one batch rather than one by one.
                let until = Instant::now() + GATHER_AT_MOST;
                while let Ok(message) = receiver.recv_timeout(GATHER_GAP) {
                    self.take(message);
                    if Instant::now() >= until {
                        break;
                    }
                }
            }
            loop {
                match receiver.try_recv() {
                    Ok(message) => self.take(message),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        connected = false;
                        break;
                    }
                }
            }
            if self.stopped {
                return self.answer_the_rest(&receiver);
            }
            self.drop_cancelled();
            self.admit();
            self.tell_places();
            self.metrics
                .set_occupancy(self.running.len(), self.waiting.len());
            self.step();
        }
    }

    fn take(&mut self, message: Message) {
        match message {
            // Freed for another model: nothing will run it.
            Message::Job(queued) if self.stopped => self.end(
                &queued.events,
                Err(EngineError::NoModel(
                    "it was unloaded to make room for the next model; try again once that has loaded"
                        .into(),
                )),
            ),
            Message::Job(queued) => self.waiting.push_back(Waiting {
                queued: *queued,
                told: None,
            }),
            Message::InterruptAll => self.interrupt_all(),
            Message::Free(told) => {
                self.interrupt_all();
                self.drop_cancelled();
                self.model = None;
                self.reload = None;
                self.drafting = Drafting::Off;
                self.stopped = true;
                tracing::info!("freed the model's weights for the next model");
                let _ = told.send(());
            }
            Message::Release => {
                if self.running.is_empty() && self.waiting.is_empty() && self.model.take().is_some()
                {
                    if let Some(drafter) = self.drafting.drafter() {
                        drafter.release();
                    }
                    tracing::info!(
                        "idle: released the model's weights; the next request loads them again"
                    );
                }
            }
        }
    }

    /// After a free: every job still on its way is answered (nothing will
    /// run it), so no requester waits for an event that never comes.
    fn answer_the_rest(&mut self, receiver: &Receiver<Message>) {
        while let Ok(message) = receiver.try_recv() {
            self.take(message);
        }
    }

    fn interrupt_all(&self) {
        let waiting = self.waiting.iter().map(|w| &w.queued.cancel);
        let running = self.running.iter().map(Sequence::cancel_flag);
        waiting.chain(running).for_each(|c| c.interrupt());
    }

    /// Ends a reply: the last event, the log line, the occupancy.
    fn end(
        &mut self,
        events: &tokio::sync::mpsc::UnboundedSender<EngineEvent>,
        outcome: Result<(FinishReason, GenerationStats), EngineError>,
    ) {
        let event = match outcome {
            Ok((reason, stats)) => {
                tracing::info!(
                    prompt_tokens = stats.prompt_tokens,
                    cached_tokens = stats.cached_tokens,
                    completion_tokens = stats.completion_tokens,
                    prompt_tps = format!("{:.1}", stats.prompt_tokens_per_second),
                    decode_tps = format!("{:.1}", stats.decode_tokens_per_second),
                    ttft_ms = format!("{:.0}", stats.time_to_first_token_ms),
                    draft_tokens = stats.draft_tokens,
                    draft_accepted = stats.draft_accepted,
                    finish = reason.as_str(),
                    "reply finished"
                );
                EngineEvent::Finished { reason, stats }
            }
            Err(e) => {
                tracing::warn!(error = %e, "generation failed");
                EngineEvent::Failed(e)
            }
        };
        // Free the place first: whoever reads the last event may submit
        // again, or read the metrics and expect this reply gone.
        self.depth.fetch_sub(1, Ordering::SeqCst);
        self.metrics
            .set_occupancy(self.running.len(), self.waiting.len());
        let _ = events.send(event);
    }

    fn finish(&mut self, index: usize, reason: FinishReason) {
        let seq = self.running.remove(index);
        self.slots.release(seq.slot);
        let (events, stats) = seq.finish(reason, self.decoder.as_ref());
        self.end(&events, Ok((reason, stats)));
    }

    fn fail(&mut self, index: usize, error: EngineError) {
        let seq = self.running.remove(index);
        // Its cache is in an unknown state: freed, and forgotten.
        self.free_slot(seq.slot);
        self.slots.release(seq.slot);
        let events = seq.into_events();
        self.end(&events, Err(error));
    }

    /// Cancelled requests leave at once: waiting ones never start, running
    /// ones free their slot before the next batch.
    fn drop_cancelled(&mut self) {
        let mut i = 0;
        while i < self.waiting.len() {
            let q = &self.waiting[i].queued;
            let reason = q
                .cancel
                .reason()
                .or_else(|| q.events.is_closed().then_some(FinishReason::Cancelled));
            if let Some(reason) = reason {
                let Some(w) = self.waiting.remove(i) else {
                    break;
                };
                self.end(&w.queued.events, Ok((reason, GenerationStats::default())));
            } else {
                i += 1;
            }
        }
        let mut i = 0;
        while i < self.running.len() {
            if let Some(reason) = self.running[i].cancelled() {
                self.finish(i, reason);
            } else {
                i += 1;
            }
        }
    }

    /// Waiting requests take free slots, in order; one whose prompt
    /// shares more with a prompt still being read than any cache holds
    /// waits for that reading (`n` choices, two chats opened at once with
    /// the same card), and those behind it go ahead.
    fn admit(&mut self) {
        let mut i = 0;
        // The slot table has at least `shape.slots` slots, one busy per
        // running sequence: fewer running means a free one.
        while i < self.waiting.len() && self.running.len() < self.shape.slots {
            if self.model.is_none() {
                if let Err(e) = self.load_again() {
                    let Some(w) = self.waiting.remove(i) else {
                        return;
                    };
                    self.end(&w.queued.events, Err(e));
                    continue;
                }
            }
            let prompt = &self.waiting[i].queued.job.prompt_tokens;
            if let Err(e) = Sequence::fits(prompt.len(), self.shape.context_length) {
                let Some(w) = self.waiting.remove(i) else {
                    return;
                };
                self.end(&w.queued.events, Err(e));
                continue;
            }
            if self.waits_for_a_prefix(prompt) {
                i += 1;
                continue;
            }
            let Some(w) = self.waiting.remove(i) else {
                return;
            };
            let prompt = &w.queued.job.prompt_tokens;
            let Some(choice) = self.slots.take(prompt, self.shape.prefix_copy) else {
                self.waiting.insert(i, w);
                return;
            };
            let shared = self.start_from(choice, prompt);
            let reuse = self.reusable(shared, prompt.len());
            let exact = self
                .shape
                .exact_from
                .is_some_and(|e| prompt.len() - reuse >= e);
            let context = self.shape.context_length;
            self.running
                .push(Sequence::new(w.queued, choice.slot, reuse, exact, context));
        }
    }

    /// Whether a sequence still reading its prompt will soon hold more of
    /// `prompt` than any cache does now.
    fn waits_for_a_prefix(&self, prompt: &[u32]) -> bool {
        if !self.shape.prefix_copy {
            return false;
        }
        let pending = self
            .running
            .iter()
            .filter(|s| s.prompt_left() > 0)
            .map(|s| slots::shared_prefix(s.prompt(), prompt))
            .max()
            .unwrap_or(0);
        pending >= WAIT_FOR_PREFIX && pending > self.slots.longest_cached(prompt)
    }

    /// Copies the chosen prefix into the request's slot, if it lives in
    /// another one; returns how many prompt tokens the slot then holds.
    fn start_from(&mut self, choice: slots::Choice, prompt: &[u32]) -> usize {
        let Some(source) = choice.copy_from else {
            return choice.shared;
        };
        // The target's old prompt goes first (the copy replaces it), then
        // room for the copy is made without touching its source.
        self.free_slot(choice.slot);
        let copy_bytes = (choice.shared + GROWTH_STEP) * self.kv_bytes_per_token();
        if !self.make_room(copy_bytes, Some(source)) {
            // Only by freeing the source: the prompt is read instead.
            return 0;
        }
        let copied = match self.model.as_mut() {
            Some(model) => model.copy_prefix(source, choice.slot, choice.shared),
            None => Err(EngineError::NoModel("it was released from memory".into())),
        };
        match copied {
            Ok(()) => {
                self.slots.record(choice.slot, 0, &prompt[..choice.shared]);
                if let Some(drafter) = self.drafting.drafter() {
                    drafter.copy_prefix(source, choice.slot, &prompt[..choice.shared]);
                }
                self.metrics.record_prefix_copy(choice.shared);
                tracing::debug!(
                    from = source,
                    to = choice.slot,
                    tokens = choice.shared,
                    "prefix copied"
                );
                choice.shared
            }
            Err(e) => {
                tracing::warn!(error = %e, "copying a cached prefix failed; reading the prompt");
                self.free_slot(choice.slot);
                0
            }
        }
    }

    /// Frees a slot's cache memory and forgets what it held.
    fn free_slot(&mut self, slot: usize) {
        if let Some(model) = self.model.as_mut() {
            model.clear_slot(slot);
        }
        if let Some(drafter) = self.drafting.drafter() {
            drafter.clear(slot);
        }
        self.slots.forget(slot);
    }

    /// The most the KV caches may take: what the running slots take at
    /// full context. Earlier prompts kept in other slots live in what the
    /// running ones leave unused.
    fn cache_budget(&self) -> usize {
        self.shape.slots * (self.shape.context_length + GROWTH_STEP) * self.kv_bytes_per_token()
    }

    /// What a token takes in the caches: the model's, and the draft
    /// model's (whose caches follow the same slots).
    fn kv_bytes_per_token(&self) -> usize {
        let draft = match &self.drafting {
            Drafting::Model(drafter) => drafter.kv_bytes_per_token(),
            _ => 0,
        };
        self.shape.kv_bytes_per_token + draft
    }

    /// Bytes the caches hold now, the draft model's included.
    fn cache_bytes(model: &dyn BatchModel, drafting: &Drafting) -> usize {
        let draft = match drafting {
            Drafting::Model(drafter) => drafter.cache_bytes(),
            _ => 0,
        };
        model.cache_bytes() + draft
    }

    /// Frees the least recently used earlier prompts (never a running
    /// sequence's, nor `keep`) until `more` bytes fit within
    /// [`Self::cache_budget`]; whether they fit. Only where the backend
    /// keeps caches beyond its running slots (the GPU's are allocated at
    /// load: nothing to free).
    fn make_room(&mut self, more: usize, keep: Option<usize>) -> bool {
        if !self.shape.prefix_copy || self.shape.cache_slots <= self.shape.slots {
            return true;
        }
        let budget = self.cache_budget();
        let Some(model) = self.model.as_mut() else {
            return true;
        };
        loop {
            let held = Self::cache_bytes(model.as_ref(), &self.drafting);
            if held + more <= budget {
                return true;
            }
            let Some(slot) = self.slots.evictable(keep) else {
                return false;
            };
            model.clear_slot(slot);
            if let Some(drafter) = self.drafting.drafter() {
                drafter.clear(slot);
            }
            self.slots.forget(slot);
            self.metrics.record_prefix_eviction();
            if Self::cache_bytes(model.as_ref(), &self.drafting) >= held {
                return false; // freeing frees nothing here
            }
        }
    }

    /// How much of a `shared` prefix to reuse: all of it but at least one
    /// prompt token, which is computed for its logits. (A chat's next turn
    /// then runs only its new tokens; its numbers equal a cold run's when
    /// both ran on the same path, e.g. every prompt token on the CPU's
    /// prompt kernel.)
    fn reusable(&self, shared: usize, prompt_len: usize) -> usize {
        if !self.shape.prefix_reuse {
            return 0;
        }
        shared.min(prompt_len.saturating_sub(1))
    }

    fn load_again(&mut self) -> Result<(), EngineError> {
        let reload = self.reload.as_ref().ok_or_else(|| {
            EngineError::NoModel(
                "it was released from memory; load it again on the Model tab".into(),
            )
        })?;
        tracing::info!("loading the model's weights again");
        self.model = Some(reload()?);
        // A fresh model has empty caches.
        self.slots = SlotTable::new(self.shape.cache_slots.max(self.shape.slots));
        if let Some(Err(e)) = self.drafting.drafter().map(|d| d.load_again()) {
            self.turn_drafting_off(format!("the draft model did not load again ({e})"));
        }
        Ok(())
    }

    /// Tells each waiting request how many are ahead of it, when that changed.
    fn tell_places(&mut self) {
        for (ahead, w) in self.waiting.iter_mut().enumerate() {
            if w.told != Some(ahead) {
                let _ = w.queued.events.send(EngineEvent::Waiting { ahead });
                w.told = Some(ahead);
            }
        }
    }

    /// What the next batch runs: every decoding sequence's next token, then
    /// prompt chunks (oldest first) within the budget.
    fn plan(&self) -> Vec<Planned> {
        let decoding: usize = self
            .running
            .iter()
            .filter(|s| s.prompt_left() == 0)
            .map(|s| s.next(1).tokens.len())
            .sum();
        let mut budget = self
            .prefill
            .budget(decoding > 0, self.shape.max_rows)
            .min(self.shape.max_rows.saturating_sub(decoding));
        let mut first_prompt = true;
        let mut plan = Vec::new();
        for (index, seq) in self.running.iter().enumerate() {
            let left = seq.prompt_left();
            let rows = if left == 0 {
                1
            } else {
                // Only exact chunks have a fixed cost worth avoiding tiny ones for.
                let min_chunk = self.shape.exact_from.filter(|_| seq.exact);
                let mut c = chunks::prompt_chunk(left, budget, min_chunk);
                if c == 0 && first_prompt {
                    // Always make progress, in a chunk the exact path
                    // reads at its speed (below its minimum a chunk costs
                    // nearly as much as the minimum).
                    let rows_left = self.shape.max_rows.saturating_sub(decoding).max(1);
                    c = chunks::prompt_chunk(left, budget.max(min_chunk.unwrap_or(1)), min_chunk)
                        .max(left.min(budget.max(1)))
                        .min(rows_left);
                }
                first_prompt = false;
                if c == 0 {
                    continue;
                }
                budget -= c.min(budget);
                c
            };
            let next = seq.next(rows);
            plan.push(Planned {
                index,
                rows: next.tokens.len(),
                logits: next.logits,
                all_logits: next.all_logits,
                exact: left > 0 && seq.exact,
            });
        }
        plan
    }

    /// Runs one batch and hands each sequence its logits.
    fn step(&mut self) {
        if self.running.is_empty() || self.model.is_none() {
            return;
        }
        let decoding = self.running.iter().filter(|s| s.prompt_left() == 0).count();
        let decode_only = decoding == self.running.len();
        // Only a draft model's drafts are gated: n-gram drafts cost no
        // forward, and a reply that starts repeating its prompt should be
        // drafted at once, not at the gate's next try.
        let gated = matches!(self.drafting, Drafting::Model(_));
        let step_started = Instant::now();
        let mut caught_up = false;
        let allowed =
            !matches!(self.drafting, Drafting::Off) && (!gated || self.gate.allows(decoding));
        if allowed {
            match self.draft_ahead() {
                Ok(read) => caught_up = read,
                Err(e) => return self.device_faulted(&e),
            }
        }
        let measurable = decode_only && !caught_up;
        let plan = self.plan();
        let growth: usize = plan.iter().map(|p| p.rows + GROWTH_STEP).sum();
        // Running slots alone always fit: what cannot be freed is theirs.
        let _ = self.make_room(growth * self.kv_bytes_per_token(), None);
        for p in &plan {
            if self.running[p.index].prompt_left() > 0 {
                self.running[p.index].mark_prefill();
            }
        }
        let rows: usize = plan.iter().map(|p| p.rows).sum();
        let started = Instant::now();
        let outcome = {
            let running = &self.running;
            let slots = &mut self.slots;
            let batch: Vec<SeqChunk> = plan
                .iter()
                .map(|p| {
                    let seq = &running[p.index];
                    let next = seq.next(p.rows);
                    slots.record(seq.slot, next.start, next.tokens);
                    SeqChunk {
                        slot: seq.slot,
                        tokens: next.tokens,
                        start: next.start,
                        logits: p.logits,
                        all_logits: p.all_logits,
                        exact: p.exact,
                    }
                })
                .collect();
            match self.model.as_mut() {
                // A panic inside a backend must not take the engine down.
                Some(model) => catch_unwind(AssertUnwindSafe(|| model.forward(&batch)))
                    .unwrap_or_else(|_| {
                        Err(EngineError::Compute(
                            "the model computation panicked".into(),
                        ))
                    }),
                None => return,
            }
        };
        let seconds = started.elapsed().as_secs_f64();
        let prompt_rows: usize = plan
            .iter()
            .filter(|p| p.rows > 1 && !p.all_logits)
            .map(|p| p.rows)
            .sum();
        self.prefill.record(prompt_rows, seconds);
        let wanted = plan.iter().filter(|p| p.logits).count();
        let mut logits = match outcome {
            Ok(logits) if logits.len() == wanted => logits.into_iter(),
            Ok(_) => {
                return self.fail_planned(&plan, "the model returned the wrong number of logits");
            }
            Err(EngineError::Compute(reason)) => return self.fail_planned(&plan, &reason),
            Err(EngineError::DeviceFault(reason)) => return self.device_faulted(&reason),
            Err(e) => return self.fail_planned(&plan, &e.to_string()),
        };
        let mut row_logits: Vec<Option<Vec<f32>>> = plan
            .iter()
            .map(|p| if p.logits { logits.next() } else { None })
            .collect();
        let mut choices = self.choose_in_parallel(&plan, &mut row_logits);
        let mut ended: Vec<(usize, Result<FinishReason, EngineError>)> = Vec::new();
        let (mut drafted, mut confirmed) = (0, 0);
        for (k, p) in plan.iter().enumerate() {
            let seq = &mut self.running[p.index];
            let result = if p.all_logits {
                let Some(l) = row_logits[k].take() else {
                    break;
                };
                // Only the fed tokens up to the first wrong draft stay
                // valid; the next step starts after them (and cuts the
                // cache back there).
                let start = seq.next(p.rows).start;
                let (valid, result) = seq.accept_drafted(l, self.decoder.as_ref());
                seq.advanced(valid);
                self.slots
                    .record(seq.slot, start, seq.tokens_at(start, valid));
                drafted += p.rows - 1;
                confirmed += valid.saturating_sub(1);
                result
            } else {
                seq.advanced(p.rows);
                if !p.logits {
                    continue;
                }
                let Some(choice) = choices[k].take() else {
                    break;
                };
                choice.and_then(|c| seq.take(c, self.decoder.as_ref()))
            };
            match result {
                Ok(None) => {}
                Ok(Some(reason)) => ended.push((p.index, Ok(reason))),
                Err(e) => ended.push((p.index, Err(e))),
            }
        }
        self.metrics.record_draft(drafted, confirmed);
        if gated {
            // Filed under what the gate decided: a step allowed to draft
            // paid for the draft model's forwards even where they drafted
            // nothing.
            let seconds = step_started.elapsed().as_secs_f64();
            let measured = measurable.then_some((wanted + confirmed, seconds));
            self.gate.record(decoding, allowed, measured);
        }
        self.metrics
            .record_iteration(rows, wanted + confirmed, seconds);
        if let Some(model) = &self.model {
            self.metrics
                .set_cache_bytes(Self::cache_bytes(model.as_ref(), &self.drafting));
        }
        // Highest index first, so the others stay where they are.
        ended.sort_by_key(|(i, _)| std::cmp::Reverse(*i));
        for (i, result) in ended {
            match result {
                Ok(reason) => self.finish(i, reason),
                Err(e) => self.fail(i, e),
            }
        }
    }

    /// The next token of every planned sequence that wants one from a
    /// single row of logits (not a drafted run), sampled on the backend's
    /// worker threads at once (each sequence touches only its own sampler
    /// and grammar); indexed like `plan`.
    fn choose_in_parallel(
        &mut self,
        plan: &[Planned],
        rows: &mut [Option<Vec<f32>>],
    ) -> Vec<Option<Result<Choice, EngineError>>> {
        let mut choices: Vec<Option<Result<Choice, EngineError>>> =
            plan.iter().map(|_| None).collect();
        let at: HashMap<usize, usize> = plan
            .iter()
            .enumerate()
            .filter(|(_, p)| p.logits && !p.all_logits)
            .map(|(k, p)| (p.index, k))
            .collect();
        type Cell<'a> = Mutex<(
            &'a mut Sequence,
            Vec<f32>,
            Option<Result<Choice, EngineError>>,
        )>;
        let cells: Vec<(usize, Cell)> = self
            .running
            .iter_mut()
            .enumerate()
            .filter_map(|(i, seq)| {
                let k = *at.get(&i)?;
                let logits = rows[k].take()?;
                Some((k, Mutex::new((seq, logits, None))))
            })
            .collect();
        let sample = |c: usize| {
            let mut cell = cells[c].1.lock().unwrap_or_else(|e| e.into_inner());
            let (seq, logits, out) = &mut *cell;
            *out = Some(seq.choose(std::mem::take(logits)));
        };
        match &self.model {
            Some(model) if cells.len() > 1 => model.spread(cells.len(), &sample),
            _ => (0..cells.len()).for_each(sample),
        }
        for (k, cell) in cells {
            choices[k] = cell.into_inner().unwrap_or_else(|e| e.into_inner()).2;
        }
        choices
    }

    /// Drafts tokens ahead for every decoding sequence that may (see
    /// [`Drafting`]). A draft model that fails turns drafting off (replies
    /// go on one token a step); a device fault is returned, since it ends
    /// the main model's replies too. Returns whether the draft model
    /// caught up with more than a step's tokens (a prompt, or the tokens
    /// of plain steps), which says little of what drafting costs.
    fn draft_ahead(&mut self) -> Result<bool, String> {
        let drafter = match &mut self.drafting {
            Drafting::Off => return Ok(false),
            Drafting::Ngram => {
                self.running
                    .iter_mut()
                    .for_each(|seq| seq.speculate(MAX_DRAFT));
                return Ok(false);
            }
            Drafting::Model(drafter) => drafter,
        };
        let rooms: Vec<usize> = self
            .running
            .iter()
            .map(|seq| seq.draft_room(MAX_DRAFT))
            .collect();
        let requests: Vec<DraftRequest> = self
            .running
            .iter()
            .zip(&rooms)
            .filter(|(_, &max)| max > 0)
            .map(|(seq, &max)| DraftRequest {
                slot: seq.slot,
                tokens: seq.tokens(),
                max,
            })
            .collect();
        let drafted = if requests.is_empty() {
            Ok(Vec::new())
        } else {
            catch_unwind(AssertUnwindSafe(|| drafter.draft(&requests))).unwrap_or_else(|_| {
                Err(EngineError::Compute(
                    "the draft model's computation panicked".into(),
                ))
            })
        };
        let caught_up = !requests.is_empty() && drafter.caught_up;
        drop(requests);
        let drafted = match drafted {
            Ok(drafted) => drafted,
            Err(EngineError::DeviceFault(reason)) => return Err(reason),
            Err(e) => {
                self.turn_drafting_off(format!("the draft model failed ({e})"));
                Vec::new()
            }
        };
        let mut drafted = drafted.into_iter();
        for (seq, &max) in self.running.iter_mut().zip(&rooms) {
            if max > 0 {
                seq.set_draft(&drafted.next().unwrap_or_default());
            } else {
                seq.set_draft(&[]);
            }
        }
        Ok(caught_up)
    }

    /// Replies go on one token a step until the model is loaded again;
    /// the log and the Model tab say `why`.
    fn turn_drafting_off(&mut self, why: String) {
        tracing::warn!(
            %why,
            "speculative decoding is off until the model is loaded again on the Model tab"
        );
        self.metrics.set_speculative_note(format!("off: {why}"));
        self.drafting = Drafting::Off;
    }

    /// The device faulted (a sticky CUDA error): every running reply
    /// fails, since all caches are lost, and the model is dropped; the next
    /// request loads it again (the idle release's path). Whether the card
    /// gives a working context once nothing holds the old one is for a
    /// card to show; if not, that load fails with "restart candlelight"
    /// (`load_error`).
    fn device_faulted(&mut self, reason: &str) {
        tracing::error!(
            %reason,
            "the GPU faulted: failing the running replies and loading the model again for the next request"
        );
        for i in (0..self.running.len()).rev() {
            self.fail(i, EngineError::DeviceFault(reason.to_string()));
        }
        self.model = None;
        if let Some(drafter) = self.drafting.drafter() {
            drafter.release();
        }
    }

    /// A failed batch fails the sequences in it (their caches are in an
    /// unknown state); the others go on.
    fn fail_planned(&mut self, plan: &[Planned], reason: &str) {
        let mut indices: Vec<usize> = plan.iter().map(|p| p.index).collect();
        indices.sort_unstable_by(|a, b| b.cmp(a));
        for i in indices {
            self.fail(i, EngineError::Compute(reason.to_string()));
        }
    }
}

#[cfg(test)]
mod drafter_tests;
#[cfg(test)]
mod prompt_cache_tests;
#[cfg(test)]
mod tests;
