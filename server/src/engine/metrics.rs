//! Counters for `/metrics` (Prometheus text format): requests, tokens,
//! speed, time to first token, and what the scheduler is doing (active
//! sequences, waiting requests, rows per batch, aggregate decode speed).
//! The engine records each finished reply and each iteration.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::{FinishReason, GenerationStats};

#[derive(Default)]
pub struct Metrics {
    replies: AtomicU64,
    cancelled: AtomicU64,
    failures: AtomicU64,
    prompt_tokens: AtomicU64,
    generated_tokens: AtomicU64,
    /// Microseconds, summed over replies, for the TTFT summary.
    ttft_micros: AtomicU64,
    /// f64 bits of the last reply's decode speed.
    last_decode_tps: AtomicU64,
    decode_micros: AtomicU64,
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
}

impl Metrics {
    pub fn record(&self, reason: FinishReason, stats: &GenerationStats) {
        self.replies.fetch_add(1, Ordering::Relaxed);
        if matches!(reason, FinishReason::Cancelled | FinishReason::Interrupted) {
            self.cancelled.fetch_add(1, Ordering::Relaxed);
        }
        self.prompt_tokens
            .fetch_add(stats.prompt_tokens as u64, Ordering::Relaxed);
        self.generated_tokens
            .fetch_add(stats.completion_tokens as u64, Ordering::Relaxed);
        self.ttft_micros.fetch_add(
            (stats.time_to_first_token_ms * 1000.0) as u64,
            Ordering::Relaxed,
        );
        if stats.decode_tokens_per_second > 0.0 {
            self.last_decode_tps
                .store(stats.decode_tokens_per_second.to_bits(), Ordering::Relaxed);
            let micros = stats.completion_tokens as f64 / stats.decode_tokens_per_second * 1e6;
            self.decode_micros
                .fetch_add(micros as u64, Ordering::Relaxed);
        }
    }

    pub fn record_failure(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
    }

    /// What the scheduler holds between iterations.
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

    pub fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    pub fn set_cache_bytes(&self, bytes: usize) {
        self.cache_bytes.store(bytes, Ordering::Relaxed);
    }

    pub fn cache_bytes(&self) -> usize {
        self.cache_bytes.load(Ordering::Relaxed)
    }

    /// The Prometheus exposition text.
    pub fn render(&self, queue_depth: usize, model_loaded: bool) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let replies = get(&self.replies);
        let generated = get(&self.generated_tokens);
        let decode_secs = get(&self.decode_micros) as f64 / 1e6;
        let average_tps = if decode_secs > 0.0 {
            generated as f64 / decode_secs
        } else {
            0.0
        };
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            out.push_str(&format!("# HELP candlelight_{name} {help}\n# TYPE candlelight_{name} {kind}\ncandlelight_{name} {value}\n"));
        };
        metric(
            "requests_total",
            "counter",
            "Replies generated (finished, stopped or cut by length).",
            replies.to_string(),
        );
        metric(
            "requests_cancelled_total",
            "counter",
            "Replies stopped by the user or a client that left.",
            get(&self.cancelled).to_string(),
        );
        metric(
            "requests_failed_total",
            "counter",
            "Replies that failed.",
            get(&self.failures).to_string(),
        );
        metric(
            "queue_depth",
            "gauge",
            "Requests waiting for or using the model.",
            queue_depth.to_string(),
        );
        metric(
            "model_loaded",
            "gauge",
            "1 when a model is loaded.",
            u8::from(model_loaded).to_string(),
        );
        metric(
            "prompt_tokens_total",
            "counter",
            "Prompt tokens processed.",
            get(&self.prompt_tokens).to_string(),
        );
        metric(
            "generated_tokens_total",
            "counter",
            "Tokens generated.",
            generated.to_string(),
        );
        metric(
            "decode_tokens_per_second",
            "gauge",
            "Decode speed of the last reply.",
            format!("{:.2}", f64::from_bits(get(&self.last_decode_tps))),
        );
        metric(
            "decode_tokens_per_second_average",
            "gauge",
            "Decode speed over all replies.",
            format!("{average_tps:.2}"),
        );
        metric(
            "active_sequences",
            "gauge",
            "Replies being generated, each in a sequence slot.",
            self.active.load(Ordering::Relaxed).to_string(),
        );
        metric(
            "waiting_requests",
            "gauge",
            "Requests waiting for a free sequence slot.",
            self.waiting.load(Ordering::Relaxed).to_string(),
        );
        metric(
            "kv_cache_bytes",
            "gauge",
            "Memory the sequences' KV caches hold.",
            self.cache_bytes.load(Ordering::Relaxed).to_string(),
        );
        metric(
            "decode_tokens_per_second_aggregate",
            "gauge",
            "Tokens generated per second by all sequences together (recent iterations).",
            format!("{:.2}", f64::from_bits(get(&self.aggregate_tps))),
        );
        out.push_str(&format!(
            "# HELP candlelight_batch_rows Tokens run per scheduler iteration.\n\
# TYPE candlelight_batch_rows summary\n\
candlelight_batch_rows_sum {}\ncandlelight_batch_rows_count {}\n",
            get(&self.batch_rows),
            get(&self.iterations)
        ));
        out.push_str(&format!(
            "# HELP candlelight_time_to_first_token_seconds Time from request to first token.\n\
# TYPE candlelight_time_to_first_token_seconds summary\n\
candlelight_time_to_first_token_seconds_sum {:.6}\ncandlelight_time_to_first_token_seconds_count {replies}\n",
            get(&self.ttft_micros) as f64 / 1e6
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_after_replies() {
        let m = Metrics::default();
        let stats = GenerationStats {
            prompt_tokens: 10,
            cached_tokens: 0,
            completion_tokens: 20,
            time_to_first_token_ms: 500.0,
            prompt_tokens_per_second: 100.0,
            decode_tokens_per_second: 40.0,
        };
        m.record(FinishReason::Stop, &stats);
        m.record(FinishReason::Cancelled, &stats);
        let text = m.render(3, true);
        assert!(text.contains("candlelight_requests_total 2\n"), "{text}");
        assert!(text.contains("candlelight_requests_cancelled_total 1\n"));
        assert!(text.contains("candlelight_generated_tokens_total 40\n"));
        assert!(text.contains("candlelight_queue_depth 3\n"));
        assert!(text.contains("candlelight_decode_tokens_per_second 40.00\n"));
        assert!(text.contains("candlelight_time_to_first_token_seconds_sum 1.000000\n"));
        assert!(text.contains("candlelight_time_to_first_token_seconds_count 2\n"));
        m.set_occupancy(4, 2);
        m.record_iteration(5, 4, 0.1);
        let text = m.render(6, true);
        assert!(text.contains("candlelight_active_sequences 4\n"), "{text}");
        assert!(text.contains("candlelight_waiting_requests 2\n"));
        assert!(text.contains("candlelight_batch_rows_sum 5\ncandlelight_batch_rows_count 1\n"));
        assert!(text.contains("candlelight_decode_tokens_per_second_aggregate 40.00\n"));
    }
}
