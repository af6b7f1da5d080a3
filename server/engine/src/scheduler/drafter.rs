//! Drafts from a small model (`--speculative MODEL.gguf`): the draft model
//! runs beside the main one, one slot per main slot, and each step drafts
//! greedily for every decoding sequence at once: one batched forward per
//! drafted token. A slot's draft cache follows its sequence lazily: before
//! drafting, it is cut back to what it shares with the sequence's tokens
//! (rejected drafts go) and fed the rest (the prompt the first time, then
//! the tokens the main model kept), within one forward's rows.

use super::{slots::shared_prefix, Reload};
use crate::{BatchModel, EngineError, ModelShape, SeqChunk};

/// A drafted token whose probability under the draft model is below this
/// ends the draft (llama.cpp's `--draft-p-min`): an unsure draft is
/// usually rejected, and each costs a row of the check.
const P_MIN: f32 = 0.75;

/// A draft model and what each of its slots holds.
pub struct Drafter {
    model: Option<Box<dyn BatchModel>>,
    reload: Option<Reload>,
    shape: ModelShape,
    /// The tokens in each slot's draft cache, in order.
    held: Vec<Vec<u32>>,
    /// Token ids both models share: a draft stops before any other.
    shared_vocab: usize,
    /// The last [`Drafter::draft`] fed a draft cache more than a step's
    /// tokens (a prompt, or what plain steps decoded): that step's time
    /// says little about what drafting costs.
    pub caught_up: bool,
}

/// One sequence to draft for: its slot, its tokens (the last one sampled
/// and not yet in any cache), and how many tokens it may draft.
pub struct DraftRequest<'a> {
    pub slot: usize,
    pub tokens: &'a [u32],
    pub max: usize,
}

impl Drafter {
    pub fn new(model: Box<dyn BatchModel>, reload: Option<Reload>, shared_vocab: usize) -> Self {
        let shape = model.shape();
        Self {
            held: vec![Vec::new(); shape.cache_slots.max(shape.slots)],
            model: Some(model),
            reload,
            shape,
            shared_vocab: shared_vocab.min(shape.vocab),
            caught_up: false,
        }
    }

    /// Drops the draft model's weights (the main model's were released
    /// or freed); [`Drafter::load_again`] brings them back.
    pub fn release(&mut self) {
        self.model = None;
        self.held.iter_mut().for_each(Vec::clear);
    }

    pub fn load_again(&mut self) -> Result<(), EngineError> {
        if self.model.is_none() {
            let reload = self.reload.as_ref().ok_or_else(|| {
                EngineError::NoModel("the draft model was released from memory".into())
            })?;
            self.model = Some(reload()?);
            self.held.iter_mut().for_each(Vec::clear);
        }
        Ok(())
    }

    /// Memory the draft caches hold now.
    pub fn cache_bytes(&self) -> usize {
        self.model.as_ref().map_or(0, |m| m.cache_bytes())
    }

    /// What a token takes in a draft cache.
    pub fn kv_bytes_per_token(&self) -> usize {
        self.shape.kv_bytes_per_token
    }

    /// Frees what `slot`'s draft cache holds (the main slot was evicted).
    pub fn clear(&mut self, slot: usize) {
        if let Some(model) = self.model.as_mut() {
            model.clear_slot(slot);
        }
        if let Some(held) = self.held.get_mut(slot) {
            held.clear();
        }
    }

    /// The main model copied `prompt`'s cached prefix from slot `from` to
    /// `to`: the draft copies what its `from` slot shares of it, so a
    /// second chat with a character card starts drafting without reading
    /// the card again. Without copies, `to` reads it when it first drafts.
    pub fn copy_prefix(&mut self, from: usize, to: usize, prompt: &[u32]) {
        let (Some(model), Some(source)) = (self.model.as_mut(), self.held.get(from)) else {
            return;
        };
        let len = shared_prefix(source, prompt);
        if !self.shape.prefix_copy || len == 0 || to >= self.held.len() {
            return;
        }
        match model.copy_prefix(from, to, len) {
            Ok(()) => self.held[to] = prompt[..len].to_vec(),
            Err(e) => {
                tracing::debug!(error = %e, "the draft model did not copy a prefix");
                self.clear(to);
            }
        }
    }

    /// Up to `max` greedy drafts for each request, in order (empty where
    /// none: a sequence still catching up, an unsure first token). A
    /// failed forward leaves the draft caches it touched forgotten.
    pub fn draft(&mut self, requests: &[DraftRequest]) -> Result<Vec<Vec<u32>>, EngineError> {
        let mut drafts = vec![Vec::new(); requests.len()];
        self.caught_up = false;
        let Some(model) = self.model.as_mut() else {
            return Ok(drafts);
        };
        let mut batch = catch_up(&mut self.held, &self.shape, requests);
        // After a step that kept every draft, the last draft and the token
        // after it are fed; more is a catch-up.
        self.caught_up = batch.iter().any(|feed| feed.tokens.len() > 2);
        while !batch.is_empty() {
            let chunks: Vec<SeqChunk> = batch.iter().map(Feed::chunk).collect();
            let logits = match model.forward(&chunks) {
                Ok(logits) => logits,
                Err(e) => {
                    for feed in &batch {
                        self.held[feed.slot].clear();
                    }
                    return Err(e);
                }
            };
            let mut rows = logits.into_iter();
            let mut next = Vec::new();
            for feed in batch.iter().filter(|f| f.logits) {
                let Some(row) = rows.next() else { break };
                let i = feed.request;
                let Some((token, p)) = most_likely(&row) else {
                    continue;
                };
                if p < P_MIN || token as usize >= self.shared_vocab {
                    continue;
                }
                drafts[i].push(token);
                if drafts[i].len() < requests[i].max {
                    let slot = requests[i].slot;
                    let start = requests[i].tokens.len() + drafts[i].len() - 1;
                    self.held[slot].truncate(start);
                    self.held[slot].push(token);
                    next.push(Feed {
                        request: i,
                        slot,
                        tokens: vec![token],
                        start,
                        logits: true,
                        exact: false,
                    });
                }
            }
            batch = next;
        }
        Ok(drafts)
    }
}

/// One chunk the draft model reads.
struct Feed {
    request: usize,
    slot: usize,
    tokens: Vec<u32>,
    start: usize,
    logits: bool,
    exact: bool,
}

impl Feed {
    fn chunk(&self) -> SeqChunk<'_> {
        SeqChunk {
            slot: self.slot,
            tokens: &self.tokens,
            start: self.start,
            logits: self.logits,
            all_logits: false,
            exact: self.exact,
        }
    }
}

/// The first forward: each request's tokens its draft cache lacks (at
/// least the last one, whose logits start the draft), shortest first, so
/// sequences that only need their last tokens draft this step and a
/// prompt read for the first time takes the rows left (over several
/// steps if it must). Records what the caches will hold.
fn catch_up(held: &mut [Vec<u32>], shape: &ModelShape, requests: &[DraftRequest]) -> Vec<Feed> {
    let mut wanted: Vec<(usize, usize)> = requests
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.max > 0
                && !r.tokens.is_empty()
                && r.slot < held.len()
                && r.tokens.len() + r.max <= shape.context_length
        })
        .map(|(i, r)| {
            let from = shared_prefix(&held[r.slot], r.tokens).min(r.tokens.len() - 1);
            (i, from)
        })
        // A token the draft model lacks (a special token only the model
        // has) cannot be fed to it: that reply goes without drafts.
        .filter(|&(i, from)| {
            requests[i].tokens[from..]
                .iter()
                .all(|&t| (t as usize) < shape.vocab)
        })
        .collect();
    wanted.sort_by_key(|&(i, from)| requests[i].tokens.len() - from);
    let mut rows_left = shape.max_rows.max(1);
    let mut feeds = Vec::new();
    for (i, from) in wanted {
        let r = &requests[i];
        let take = (r.tokens.len() - from).min(rows_left);
        if take == 0 {
            break;
        }
        rows_left -= take;
        let tokens = r.tokens[from..from + take].to_vec();
        held[r.slot].truncate(from);
        held[r.slot].extend_from_slice(&tokens);
        feeds.push(Feed {
            request: i,
            slot: r.slot,
            logits: from + take == r.tokens.len(),
            exact: shape.exact_from.is_some_and(|e| take >= e),
            tokens,
            start: from,
        });
    }
    feeds
}

/// The most likely token and its probability.
fn most_likely(logits: &[f32]) -> Option<(u32, f32)> {
    let (best, &max) = logits
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    if !max.is_finite() {
        return None;
    }
    let sum: f32 = logits.iter().map(|&l| (l - max).exp()).sum();
    Some((best as u32, 1.0 / sum))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeModel;

    fn drafter(max_rows: usize, shared_vocab: usize) -> (Drafter, crate::fake::BatchLog) {
        let mut model = FakeModel::new(2);
        model.max_rows = max_rows;
        let log = model.log.clone();
        (Drafter::new(Box::new(model), None, shared_vocab), log)
    }

    fn request(slot: usize, tokens: &[u32], max: usize) -> DraftRequest<'_> {
        DraftRequest { slot, tokens, max }
    }

    /// The fake model drafts `k + 1` after `k`; after some drafts are
    /// rejected, only the tokens past what the cache shares are fed.
    #[test]
    fn a_draft_cache_is_cut_back_to_what_its_sequence_kept() {
        let (mut d, log) = drafter(64, 64);
        let drafts = d.draft(&[request(0, &[5, 6, 7], 4)]).unwrap();
        assert_eq!(drafts, [vec![8, 9, 10, 11]]);
        // The main model kept 8 and 9, then chose 20.
        let drafts = d.draft(&[request(0, &[5, 6, 7, 8, 9, 20], 2)]).unwrap();
        assert_eq!(drafts, [vec![21, 22]]);
        let log = log.lock().unwrap();
        // (slot, start, tokens, exact): the prompt, three drafts, then 20 at 5.
        assert_eq!(log[0], [(0, 0, 3, false)]);
        assert_eq!(log[4], [(0, 5, 1, false)]);
        assert_eq!(log.len(), 6);
    }

    /// A prompt read for the first time takes the rows a forward has left
    /// after the sequences that only need their last tokens, which draft
    /// at once; it drafts once it has caught up.
    #[test]
    fn a_long_prompt_catches_up_within_a_forward_s_rows() {
        let (mut d, log) = drafter(8, 64);
        let long: Vec<u32> = (1..=20).collect();
        let mut caught_up_after = None;
        for step in 0..4 {
            let drafts = d
                .draft(&[request(0, &long, 2), request(1, &[30, 31], 2)])
                .unwrap();
            assert_eq!(drafts[1], [32, 33], "step {step}");
            if !drafts[0].is_empty() && caught_up_after.is_none() {
                assert_eq!(drafts[0], [21, 22]);
                caught_up_after = Some(step);
            }
        }
        // 20 tokens at 6, then 7 rows a forward (the short one takes 2, then 1).
        assert_eq!(caught_up_after, Some(2));
        assert!(log
            .lock()
            .unwrap()
            .iter()
            .all(|batch| { batch.iter().map(|&(_, _, rows, _)| rows).sum::<usize>() <= 8 }));
    }

    /// A reply holding a token the draft model lacks (64 here) is not
    /// fed to it; the others draft.
    #[test]
    fn a_reply_with_a_token_the_draft_model_lacks_goes_without_drafts() {
        let (mut d, log) = drafter(64, 64);
        let drafts = d
            .draft(&[request(0, &[5, 64, 7], 3), request(1, &[5, 6], 2)])
            .unwrap();
        assert_eq!(drafts, [vec![], vec![7, 8]]);
        assert!(log
            .lock()
            .unwrap()
            .iter()
            .flatten()
            .all(|&(slot, ..)| slot == 1));
    }

    #[test]
    fn drafts_stop_before_a_token_the_main_model_lacks() {
        let (mut d, _) = drafter(64, 10);
        let drafts = d.draft(&[request(0, &[5, 6, 7], 7)]).unwrap();
        assert_eq!(drafts, [vec![8, 9]]);
    }
}
