//! The generation loop: prefill the prompt, then sample, detokenize and stream
//! one token at a time, checking for cancellation before every token.

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Instant,
};

use app::types::{FinishReason, GenerationParams, GenerationStats};
use tokio::sync::mpsc::UnboundedSender;

use super::{
    detokenize::{IncrementalDecoder, TokenDecoder},
    sampler::Sampler,
    stop::{StopMatcher, StopOutcome},
    EngineError, LanguageModel,
};

/// What the engine tells the requester while a reply is generated.
#[derive(Debug)]
pub enum EngineEvent {
    /// Reply text, never splitting a UTF-8 character.
    Text(String),
    /// The reply ended; the last event.
    Finished {
        reason: FinishReason,
        stats: GenerationStats,
    },
    /// Generation failed; the last event.
    Failed(EngineError),
}

/// One reply to generate.
#[derive(Clone, Debug)]
pub struct GenerationJob {
    pub prompt_tokens: Vec<u32>,
    pub params: GenerationParams,
    /// Stop strings from the prompt mode plus the user's own.
    pub stop_strings: Vec<String>,
    /// Tokens that end the reply (unless `ban_eos_token`).
    pub eos_ids: Vec<u32>,
}

/// Where events go and how cancellation is noticed: the Stop button sets the
/// flag; a client that went away closes the channel.
pub struct Control<'a> {
    pub events: &'a UnboundedSender<EngineEvent>,
    pub cancel: &'a AtomicBool,
    /// When the request reached the engine, for time to first token.
    pub received: Instant,
}

impl Control<'_> {
    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed) || self.events.is_closed()
    }

    fn text(&self, text: String) {
        if !text.is_empty() {
            let _ = self.events.send(EngineEvent::Text(text));
        }
    }
}

/// Runs one job to the end and returns why it ended. Text goes out through
/// `control` as it is produced; the caller sends the final event.
pub fn generate(
    model: &mut dyn LanguageModel,
    decoder: &dyn TokenDecoder,
    job: &GenerationJob,
    control: &Control,
) -> Result<(FinishReason, GenerationStats), EngineError> {
    let prompt_len = job.prompt_tokens.len();
    let context_length = model.context_length();
    if prompt_len == 0 || prompt_len >= context_length {
        return Err(EngineError::PromptTooLong {
            prompt_tokens: prompt_len,
            context_length,
        });
    }
    let max_new = (job.params.max_new_tokens as usize).min(context_length - prompt_len);
    let banned = if job.params.ban_eos_token {
        job.eos_ids.clone()
    } else {
        Vec::new()
    };
    let mut sampler = Sampler::new(&job.params, banned);
    let mut detok = IncrementalDecoder::default();
    let mut stops = StopMatcher::new(job.stop_strings.clone());
    let mut context = job.prompt_tokens.clone();
    let mut stats = GenerationStats {
        prompt_tokens: prompt_len as u32,
        ..Default::default()
    };

    // Reuse the KV cache for the prefix this prompt shares with the last
    // one (a chat's next turn); at least one token is computed for logits.
    let reuse = model.cached_prefix(&job.prompt_tokens).min(prompt_len - 1);
    stats.cached_tokens = reuse as u32;
    let prefill_start = Instant::now();
    let mut logits = model.forward(&job.prompt_tokens[reuse..], reuse)?;
    let prefill_secs = prefill_start.elapsed().as_secs_f64();
    stats.prompt_tokens_per_second = (prompt_len - reuse) as f64 / prefill_secs.max(1e-9);
    let decode_start = Instant::now();

    let mut hit_stop_string = false;
    let reason = loop {
        if control.cancelled() {
            break FinishReason::Cancelled;
        }
        let token = sampler.sample(&mut logits, &context);
        if stats.completion_tokens == 0 {
            stats.time_to_first_token_ms = control.received.elapsed().as_secs_f64() * 1000.0;
        }
        if job.eos_ids.contains(&token) && !job.params.ban_eos_token {
            break FinishReason::Stop;
        }
        context.push(token);
        stats.completion_tokens += 1;
        match stops.push(&detok.push(decoder, token)?) {
            StopOutcome::Continue(text) => control.text(text),
            StopOutcome::Stopped(text) => {
                control.text(text);
                hit_stop_string = true;
                break FinishReason::Stop;
            }
        }
        if stats.completion_tokens as usize >= max_new {
            break FinishReason::Length;
        }
        logits = model.forward(&[token], context.len() - 1)?;
    };

    if reason != FinishReason::Cancelled && !hit_stop_string {
        // Flush what was held back (a partial character, a partial stop string).
        match stops.push(&detok.finish(decoder)?) {
            StopOutcome::Continue(text) => control.text(text + &stops.finish()),
            StopOutcome::Stopped(text) => control.text(text),
        }
    }
    let decode_secs = decode_start.elapsed().as_secs_f64();
    if stats.completion_tokens > 1 {
        // The first token came from the prefill's logits.
        stats.decode_tokens_per_second =
            (stats.completion_tokens - 1) as f64 / decode_secs.max(1e-9);
    }
    Ok((reason, stats))
}
