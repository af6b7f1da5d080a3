//! One reply in flight: its slot, the tokens so far, how much of them the
//! slot's cache holds, and its own sampler, detokenizer, stop strings and
//! statistics. The scheduler feeds it chunks and the logits they produced.

use std::time::Instant;

use tokio::sync::mpsc::UnboundedSender;

use super::super::{
    detokenize::{IncrementalDecoder, TokenDecoder},
    sampler::Sampler,
    stop::{StopMatcher, StopOutcome},
    EngineError, EngineEvent, FinishReason, GenerationJob, GenerationStats, TokenLogprob,
    TokenLogprobs,
};
use super::queue::QueuedJob;

/// A sampled token, with the distribution it came from when the request
/// wants log-probabilities.
pub struct Choice {
    token: u32,
    original: Option<Vec<f32>>,
}

pub struct Sequence {
    pub slot: usize,
    job: GenerationJob,
    events: UnboundedSender<EngineEvent>,
    cancel: crate::Cancel,
    received: Instant,
    /// The prompt, then every generated token.
    tokens: Vec<u32>,
    prompt_len: usize,
    /// Leading `tokens` the slot's cache holds.
    computed: usize,
    /// Every prompt chunk of this sequence runs on the exact path.
    pub exact: bool,
    max_new: usize,
    sampler: Sampler,
    detok: IncrementalDecoder,
    stops: StopMatcher,
    hit_stop_string: bool,
    stats: GenerationStats,
    prefill_started: Option<Instant>,
    decode_started: Option<Instant>,
    /// What a speculative step feeds: the last sampled token, then the
    /// drafted ones (empty when the next step is a plain one).
    draft: Vec<u32>,
}

/// What the scheduler feeds a sequence next.
pub struct Next<'a> {
    pub tokens: &'a [u32],
    pub start: usize,
    /// The chunk ends the prompt, or is a decode step: its logits pick a token.
    pub logits: bool,
    /// A speculative step: the logits after every token check the drafts.
    pub all_logits: bool,
}

impl Sequence {
    /// A prompt must leave room for at least one new token.
    pub fn fits(prompt_len: usize, context_length: usize) -> Result<(), EngineError> {
        if prompt_len == 0 || prompt_len >= context_length {
            return Err(EngineError::PromptTooLong {
                prompt_tokens: prompt_len,
                context_length,
            });
        }
        Ok(())
    }

    /// A sequence in `slot`, whose cache already holds the first `reuse`
    /// prompt tokens; its prompt [`Sequence::fits`].
    pub fn new(
        queued: QueuedJob,
        slot: usize,
        reuse: usize,
        exact: bool,
        context_length: usize,
    ) -> Self {
        let prompt_len = queued.job.prompt_tokens.len();
        let QueuedJob {
            job,
            events,
            cancel,
            received,
        } = queued;
        let banned = if job.ban_eos {
            job.eos_ids.clone()
        } else {
            Vec::new()
        };
        Self {
            slot,
            max_new: job.max_new_tokens.min(context_length - prompt_len),
            sampler: Sampler::new(&job.sampling, banned),
            detok: IncrementalDecoder::default(),
            stops: StopMatcher::new(job.stop_strings.clone()),
            hit_stop_string: false,
            stats: GenerationStats {
                prompt_tokens: prompt_len as u32,
                cached_tokens: reuse as u32,
                ..GenerationStats::default()
            },
            tokens: job.prompt_tokens.clone(),
            prompt_len,
            computed: reuse,
            exact,
            job,
            events,
            cancel,
            received,
            prefill_started: None,
            decode_started: None,
            draft: Vec::new(),
        }
    }

    pub fn cancel_flag(&self) -> &crate::Cancel {
        &self.cancel
    }

    /// How the reply must end now, if it must: stopped by the user or the
    /// server, or its requester went away.
    pub fn cancelled(&self) -> Option<FinishReason> {
        self.cancel
            .reason()
            .or_else(|| self.events.is_closed().then_some(FinishReason::Cancelled))
    }

    /// The prompt's tokens.
    pub fn prompt(&self) -> &[u32] {
        &self.tokens[..self.prompt_len]
    }

    /// Prompt tokens not yet in the cache.
    pub fn prompt_left(&self) -> usize {
        self.prompt_len.saturating_sub(self.computed)
    }

    /// Drafts up to `max` tokens ahead for the next step from the prompt
    /// and the reply so far (`draft.rs`).
    pub fn speculate(&mut self, max: usize) {
        let room = self.draft_room(max);
        let drafted = super::draft::ngram_draft(&self.tokens, room).to_vec();
        self.set_draft(&drafted);
    }

    /// How many tokens the next step may draft (at most `max`): none
    /// unless decoding, and none where every token must be seen alone (a
    /// grammar masks each token by the ones before; logprobs are per token).
    pub fn draft_room(&self, max: usize) -> usize {
        let decoding = self.computed >= self.prompt_len && self.computed + 1 == self.tokens.len();
        if !decoding || self.job.constraint.is_some() || self.job.logprobs.is_some() {
            return 0;
        }
        // The token after the drafts is always new: leave room for it.
        let room = self
            .max_new
            .saturating_sub(self.stats.completion_tokens as usize + 1);
        max.min(room)
    }

    /// What the next step feeds: the last sampled token and `drafted`
    /// (at most [`Sequence::draft_room`] of them); a plain step if none.
    pub fn set_draft(&mut self, drafted: &[u32]) {
        self.draft.clear();
        if drafted.is_empty() {
            return;
        }
        self.draft.push(self.tokens[self.computed]);
        self.draft.extend_from_slice(drafted);
    }

    /// The prompt, then every token of the reply so far.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// The `n` tokens from position `start` (of a step just run).
    pub fn tokens_at(&self, start: usize, n: usize) -> &[u32] {
        &self.tokens[start..(start + n).min(self.tokens.len())]
    }

    /// The next `limit` prompt tokens, or the last sampled token (and the
    /// drafted ones after it, for a speculative step).
    pub fn next(&self, limit: usize) -> Next<'_> {
        if self.computed >= self.prompt_len && !self.draft.is_empty() {
            return Next {
                tokens: &self.draft,
                start: self.computed,
                logits: true,
                all_logits: true,
            };
        }
        let end = if self.computed < self.prompt_len {
            (self.computed + limit).min(self.prompt_len)
        } else {
            self.tokens.len()
        };
        Next {
            tokens: &self.tokens[self.computed..end],
            start: self.computed,
            logits: end == self.tokens.len(),
            all_logits: false,
        }
    }

    /// `n` more tokens went into the cache.
    pub fn advanced(&mut self, n: usize) {
        let now = Instant::now();
        if self.computed < self.prompt_len {
            let started = self.prefill_started.unwrap_or(now);
            self.computed += n;
            if self.computed >= self.prompt_len {
                let read = self.prompt_len - self.stats.cached_tokens as usize;
                self.stats.prompt_tokens_per_second =
                    read as f64 / now.duration_since(started).as_secs_f64().max(1e-9);
            } else {
                let _ = self.events.send(EngineEvent::Reading {
                    done: self.computed,
                    total: self.prompt_len,
                });
            }
        } else {
            self.computed += n;
        }
    }

    /// The prompt chunk's first token was about to be read (for the speed).
    pub fn mark_prefill(&mut self) {
        self.prefill_started.get_or_insert_with(Instant::now);
    }

    fn text(&self, text: String) {
        if !text.is_empty() {
            let _ = self.events.send(EngineEvent::Text(text));
        }
    }

    /// Picks the next token from `logits`, streams its text; returns why
    /// the reply ended, if it did.
    pub fn accept(
        &mut self,
        logits: Vec<f32>,
        decoder: &dyn TokenDecoder,
    ) -> Result<Option<FinishReason>, EngineError> {
        let choice = self.choose(logits)?;
        self.take(choice, decoder)
    }

    /// The sampling half of [`Sequence::accept`]: the grammar's mask, the
    /// samplers, the grammar's step. It touches only this sequence, so the
    /// scheduler runs it for several at once.
    pub fn choose(&mut self, mut logits: Vec<f32>) -> Result<Choice, EngineError> {
        if let Some(grammar) = &mut self.job.constraint {
            grammar.mask(&mut logits)?;
        }
        // The model's own distribution, before the samplers reshape it.
        let original = self.job.logprobs.map(|_| logits.clone());
        let token = self.sampler.sample(&mut logits, &self.tokens);
        if let Some(grammar) = &mut self.job.constraint {
            grammar.commit(token)?;
        }
        Ok(Choice { token, original })
    }

    /// The rest of [`Sequence::accept`] for a chosen token: it joins the
    /// reply, its text streams, stop strings and limits are checked.
    pub fn take(
        &mut self,
        Choice { token, original }: Choice,
        decoder: &dyn TokenDecoder,
    ) -> Result<Option<FinishReason>, EngineError> {
        if self.stats.completion_tokens == 0 {
            self.stats.time_to_first_token_ms = self.received.elapsed().as_secs_f64() * 1000.0;
            self.decode_started = Some(Instant::now());
        }
        if self.job.eos_ids.contains(&token) && !self.job.ban_eos {
            return Ok(Some(FinishReason::Stop));
        }
        if let (Some(top), Some(original)) = (self.job.logprobs, original) {
            let _ = self.events.send(EngineEvent::Logprobs(logprobs(
                &original, token, top, decoder,
            )));
        }
        self.tokens.push(token);
        self.stats.completion_tokens += 1;
        let text = self.detok.push(decoder, token)?;
        match self.stops.push(&text) {
            StopOutcome::Continue(text) => self.text(text),
            StopOutcome::Stopped(text) => {
                self.text(text);
                self.hit_stop_string = true;
                return Ok(Some(FinishReason::Stop));
            }
        }
        if self.job.constraint.as_ref().is_some_and(|g| g.finished()) {
            return Ok(Some(FinishReason::Stop));
        }
        Ok((self.stats.completion_tokens as usize >= self.max_new).then_some(FinishReason::Length))
    }

    /// The logits after each token a speculative step fed (`rows ×
    /// vocab`): a token is sampled at each position in turn, exactly as
    /// one step at a time would, going on while it is the drafted one.
    /// Returns how many fed tokens the cache now validly holds, and why the
    /// reply ended, if it did.
    pub fn accept_drafted(
        &mut self,
        logits: Vec<f32>,
        decoder: &dyn TokenDecoder,
    ) -> (usize, Result<Option<FinishReason>, EngineError>) {
        let fed = std::mem::take(&mut self.draft);
        let vocab = logits.len() / fed.len().max(1);
        if vocab == 0 {
            let e = EngineError::Compute("a speculative step returned no logits".into());
            return (0, Err(e));
        }
        self.stats.draft_tokens += (fed.len() - 1) as u32;
        for (i, row) in logits.chunks_exact(vocab).enumerate() {
            let before = self.tokens.len();
            match self.accept(row.to_vec(), decoder) {
                Ok(None) => {}
                ended => return (i + 1, ended),
            }
            let drafted = fed.get(i + 1);
            if drafted.is_none() || self.tokens.get(before) != drafted {
                return (i + 1, Ok(None));
            }
            self.stats.draft_accepted += 1;
        }
        (fed.len(), Ok(None))
    }

    /// Flushes held-back text (unless cancelled or stopped by a stop
    /// string) and returns the reply's numbers.
    pub fn finish(
        mut self,
        reason: FinishReason,
        decoder: &dyn TokenDecoder,
    ) -> (UnboundedSender<EngineEvent>, GenerationStats) {
        if reason != FinishReason::Cancelled && !self.hit_stop_string {
            match self.detok.finish(decoder) {
                Ok(rest) => match self.stops.push(&rest) {
                    StopOutcome::Continue(text) => {
                        let held = self.stops.finish();
                        self.text(text + &held)
                    }
                    StopOutcome::Stopped(text) => self.text(text),
                },
                Err(e) => tracing::warn!(error = %e, "the reply's last bytes did not decode"),
            }
        }
        if let Some(started) = self.decode_started {
            if self.stats.completion_tokens > 1 {
                // The first token came from the prompt's logits.
                self.stats.decode_tokens_per_second = (self.stats.completion_tokens - 1) as f64
                    / started.elapsed().as_secs_f64().max(1e-9);
            }
        }
        (self.events, self.stats)
    }

    /// Gives up: the events channel, to send the error on.
    pub fn into_events(self) -> UnboundedSender<EngineEvent> {
        self.events
    }
}

/// `chosen`'s log-probability in `logits` and the `top` most likely tokens.
fn logprobs(logits: &[f32], chosen: u32, top: usize, decoder: &dyn TokenDecoder) -> TokenLogprobs {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| ((l - max) as f64).exp()).sum();
    let log_total = max as f64 + sum.ln();
    let entry = |id: u32| TokenLogprob {
        id,
        text: decoder.decode(&[id]).unwrap_or_default(),
        logprob: (logits
            .get(id as usize)
            .copied()
            .unwrap_or(f32::NEG_INFINITY) as f64
            - log_total) as f32,
    };
    let mut ids: Vec<u32> = (0..logits.len() as u32).collect();
    let by_logit = |a: &u32, b: &u32| logits[*b as usize].total_cmp(&logits[*a as usize]);
    if top > 0 && top < ids.len() {
        ids.select_nth_unstable_by(top - 1, by_logit);
    }
    ids.truncate(top);
    ids.sort_unstable_by(by_logit);
    TokenLogprobs {
        chosen: entry(chosen),
        top: ids.into_iter().map(entry).collect(),
    }
}
