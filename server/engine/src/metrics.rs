//! What the scheduler is doing, for `/metrics` (Prometheus text) and the
//! Model tab: sequences in slots and requests waiting, rows per batch,
//! aggregate decode speed, KV cache memory. Per-reply counters (replies,
//! tokens, time to first token) are the server's: it sees every reply,
//! local or remote.

use std::{
    fmt::Write,
    sync::atomic::{AtomicU64, AtomicUsize, Ordering},
};

#[derive(Default)]
pub struct SchedulerMetrics {
    /// Sequences in slots, and requests waiting for one.
    active: AtomicUsize,
    waiting: AtomicUsize,
    /// Scheduler iterations, the rows they ran, and the tokens they sampled.
    iterations: AtomicU64,
    batch_rows: AtomicU64,
    /// f64 bits: tokens sampled per second over recent iterations.
    aggregate_tps: AtomicU64,
    /// Bytes the model's KV caches hold.
    cache_bytes: AtomicUsize,
    /// Speculative decoding: tokens drafted, and those the model confirmed.
    drafted: AtomicU64,
    confirmed: AtomicU64,
    /// The prompt cache: tokens copied from another slot instead of
    /// read, and earlier prompts freed to make room.
    prefix_copied: AtomicU64,
    prefix_evictions: AtomicU64,
    /// Why the scheduler turned speculative decoding off while running (a
    /// draft model that failed), for the Model tab; cleared by the next
    /// model's scheduler.
    speculative_note: std::sync::Mutex<Option<String>>,
}

impl SchedulerMetrics {
    /// What the scheduler holds now.
    pub fn set_occupancy(&self, active: usize, waiting: usize) {
        self.active.store(active, Ordering::Relaxed);
        self.waiting.store(waiting, Ordering::Relaxed);
    }

    /// One iteration: `rows` tokens ran, `sampled` new tokens came out, in
    /// `seconds`. The aggregate speed is smoothed over recent iterations.
    pub fn record_iteration(&self, rows: usize, sampled: usize, seconds: f64) {
        self.iterations.fetch_add(1, Ordering::Relaxed);
        self.batch_rows.fetch_add(rows as u64, Ordering::Relaxed);
        if seconds > 0.0 {
            let now = sampled as f64 / seconds;
            let old = f64::from_bits(self.aggregate_tps.load(Ordering::Relaxed));
            let smoothed = if old == 0.0 {
                now
            } else {
                0.9 * old + 0.1 * now
            };
            self.aggregate_tps
                .store(smoothed.to_bits(), Ordering::Relaxed);
        }
    }

    /// One iteration's speculative steps: `drafted` tokens, `confirmed`
    /// of them right.
    pub fn record_draft(&self, drafted: usize, confirmed: usize) {
        self.drafted.fetch_add(drafted as u64, Ordering::Relaxed);
        self.confirmed
            .fetch_add(confirmed as u64, Ordering::Relaxed);
    }

    /// A request started from `tokens` cached in another slot.
    pub fn record_prefix_copy(&self, tokens: usize) {
        self.prefix_copied
            .fetch_add(tokens as u64, Ordering::Relaxed);
    }

    /// An earlier prompt was freed to make room in the cache.
    pub fn record_prefix_eviction(&self) {
        self.prefix_evictions.fetch_add(1, Ordering::Relaxed);
    }

    pub fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    pub fn set_speculative_note(&self, note: impl Into<Option<String>>) {
        *self
            .speculative_note
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = note.into();
    }

    /// How speculative decoding stands, where the scheduler changed it
    /// since the model loaded.
    pub fn speculative_note(&self) -> Option<String> {
        self.speculative_note
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_cache_bytes(&self, bytes: usize) {
        self.cache_bytes.store(bytes, Ordering::Relaxed);
    }

    pub fn cache_bytes(&self) -> usize {
        self.cache_bytes.load(Ordering::Relaxed)
    }

    /// Appends this scheduler's metrics in the Prometheus exposition format.
    pub fn render(&self, out: &mut String) {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut gauge = |name: &str, help: &str, value: String| {
            let _ = write!(
                out,
                "# HELP candlelight_{name} {help}\n# TYPE candlelight_{name} gauge\ncandlelight_{name} {value}\n"
            );
        };
        gauge(
            "active_sequences",
            "Replies being generated, each in a sequence slot.",
            self.active().to_string(),
        );
        gauge(
            "waiting_requests",
            "Requests waiting for a free sequence slot.",
            self.waiting().to_string(),
        );
        gauge(
            "kv_cache_bytes",
            "Memory the sequences' KV caches hold.",
            self.cache_bytes().to_string(),
        );
        gauge(
            "decode_tokens_per_second_aggregate",
            "Tokens generated per second by all sequences together (recent iterations).",
            format!("{:.2}", f64::from_bits(get(&self.aggregate_tps))),
        );
        let (drafted, confirmed) = (get(&self.drafted), get(&self.confirmed));
        gauge(
            "speculative_acceptance_rate",
            "Drafted tokens the model confirmed, of all drafted (speculative decoding).",
            format!("{:.4}", confirmed as f64 / (drafted as f64).max(1.0)),
        );
        let _ = write!(
            out,
            "# HELP candlelight_speculative_draft_tokens_total Tokens drafted by speculative decoding.\n\
# TYPE candlelight_speculative_draft_tokens_total counter\n\
candlelight_speculative_draft_tokens_total {drafted}\n\
# HELP candlelight_speculative_accepted_tokens_total Drafted tokens the model confirmed.\n\
# TYPE candlelight_speculative_accepted_tokens_total counter\n\
candlelight_speculative_accepted_tokens_total {confirmed}\n\
# HELP candlelight_prefix_cache_copied_tokens_total Prompt tokens copied from another slot's cache instead of read.\n\
# TYPE candlelight_prefix_cache_copied_tokens_total counter\n\
candlelight_prefix_cache_copied_tokens_total {}\n\
# HELP candlelight_prefix_cache_evictions_total Earlier prompts freed to make room in the KV cache.\n\
# TYPE candlelight_prefix_cache_evictions_total counter\n\
candlelight_prefix_cache_evictions_total {}\n",
            get(&self.prefix_copied),
            get(&self.prefix_evictions)
        );
        let _ = write!(
            out,
            "# HELP candlelight_batch_rows Tokens run per scheduler iteration.\n\
# TYPE candlelight_batch_rows summary\n\
candlelight_batch_rows_sum {}\ncandlelight_batch_rows_count {}\n",
            get(&self.batch_rows),
            get(&self.iterations)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_the_scheduler_holds() {
        let m = SchedulerMetrics::default();
        m.set_occupancy(4, 2);
        m.record_iteration(5, 4, 0.1);
        let mut text = String::new();
        m.render(&mut text);
        assert!(text.contains("candlelight_active_sequences 4\n"), "{text}");
        assert!(text.contains("candlelight_waiting_requests 2\n"));
        assert!(text.contains("candlelight_batch_rows_sum 5\ncandlelight_batch_rows_count 1\n"));
        assert!(text.contains("candlelight_decode_tokens_per_second_aggregate 40.00\n"));
    }
}
