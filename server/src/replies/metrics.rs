//! Counters of finished replies for `/metrics`, whichever backend made
//! them: the reply registry records each reply as its stream ends.

use std::{
    fmt::Write,
    sync::atomic::{AtomicU64, Ordering},
};

use engine::{FinishReason, GenerationStats};

#[derive(Default)]
pub struct ReplyMetrics {
    replies: AtomicU64,
    cancelled: AtomicU64,
    failures: AtomicU64,
    prompt_tokens: AtomicU64,
    /// Prompt tokens the KV cache gave (not read again).
    cached_tokens: AtomicU64,
    generated_tokens: AtomicU64,
    /// Microseconds, summed over replies, for the TTFT summary.
    ttft_micros: AtomicU64,
    /// f64 bits of the last reply's decode speed.
    last_decode_tps: AtomicU64,
    decode_micros: AtomicU64,
}

impl ReplyMetrics {
    pub fn record(&self, reason: FinishReason, stats: &GenerationStats) {
        self.replies.fetch_add(1, Ordering::Relaxed);
        if matches!(reason, FinishReason::Cancelled | FinishReason::Interrupted) {
            self.cancelled.fetch_add(1, Ordering::Relaxed);
        }
        self.prompt_tokens
            .fetch_add(stats.prompt_tokens as u64, Ordering::Relaxed);
        self.cached_tokens
            .fetch_add(stats.cached_tokens as u64, Ordering::Relaxed);
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

    /// Appends the reply counters in the Prometheus exposition format.
    pub fn render(&self, out: &mut String) {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let replies = get(&self.replies);
        let generated = get(&self.generated_tokens);
        let decode_secs = get(&self.decode_micros) as f64 / 1e6;
        let average_tps = if decode_secs > 0.0 {
            generated as f64 / decode_secs
        } else {
            0.0
        };
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = write!(out, "# HELP candlelight_{name} {help}\n# TYPE candlelight_{name} {kind}\ncandlelight_{name} {value}\n");
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
            "Replies stopped by the user, a client that left, or the server.",
            get(&self.cancelled).to_string(),
        );
        metric(
            "requests_failed_total",
            "counter",
            "Replies that failed.",
            get(&self.failures).to_string(),
        );
        metric(
            "prompt_tokens_total",
            "counter",
            "Prompt tokens processed.",
            get(&self.prompt_tokens).to_string(),
        );
        metric(
            "prompt_tokens_cached_total",
            "counter",
            "Prompt tokens whose keys and values came from the cache, not read again.",
            get(&self.cached_tokens).to_string(),
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
        let _ = write!(
            out,
            "# HELP candlelight_time_to_first_token_seconds Time from request to first token.\n\
# TYPE candlelight_time_to_first_token_seconds summary\n\
candlelight_time_to_first_token_seconds_sum {:.6}\ncandlelight_time_to_first_token_seconds_count {replies}\n",
            get(&self.ttft_micros) as f64 / 1e6
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_after_replies() {
        let m = ReplyMetrics::default();
        let stats = GenerationStats {
            prompt_tokens: 10,
            cached_tokens: 0,
            completion_tokens: 20,
            time_to_first_token_ms: 500.0,
            prompt_tokens_per_second: 100.0,
            decode_tokens_per_second: 40.0,
            ..GenerationStats::default()
        };
        m.record(FinishReason::Stop, &stats);
        m.record(FinishReason::Cancelled, &stats);
        let mut text = String::new();
        m.render(&mut text);
        assert!(text.contains("candlelight_requests_total 2\n"), "{text}");
        assert!(text.contains("candlelight_requests_cancelled_total 1\n"));
        assert!(text.contains("candlelight_generated_tokens_total 40\n"));
        assert!(text.contains("candlelight_decode_tokens_per_second 40.00\n"));
        assert!(text.contains("candlelight_time_to_first_token_seconds_sum 1.000000\n"));
        assert!(text.contains("candlelight_time_to_first_token_seconds_count 2\n"));
    }
}
