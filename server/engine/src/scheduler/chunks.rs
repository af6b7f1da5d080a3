//! How much of a waiting prompt one iteration reads. Iterations are kept
//! short: while other replies stream, so those streams never stall for
//! long; and always, so a cancelled prompt stops within a second. Chunk
//! sizes only affect speed, never the numbers: every chunk of a prompt
//! runs on the same path (see `model_port::SeqChunk::exact`).

/// How long one iteration may spend reading prompts while other replies
/// stream (their next token waits that long), and when nothing else runs
/// (how soon a cancelled prompt stops, and a new request joins). Shorter
/// steps alone cost speed: Qwen2.5-0.5B on 2 cores read a 1,007-token card
/// in 6.9 s in 0.5-s steps of under 100 tokens, 6.1-6.5 s with the exact
/// path's 128-token minimum (the scheduler's rule now), 5.6-6.3 s in 1-s
/// steps (`candlelight bench-prefix`); but 1-s steps kept the engine busy
/// 1.2 s after a client left SmolLM2's 7,000-token prompt (its rate,
/// measured shallow, overestimates deep chunks).
const STEP_WHILE_DECODING: f64 = 0.4;
const STEP_ALONE: f64 = 0.5;

/// Prompt tokens per second, measured on recent iterations: what the
/// budget of the next one is sized by, so a small model reads big chunks
/// and a big one small chunks.
pub struct PrefillRate {
    tokens_per_second: Option<f64>,
}

impl PrefillRate {
    pub fn new() -> Self {
        Self {
            tokens_per_second: None,
        }
    }

    /// An iteration read `tokens` prompt tokens (among other rows) in `seconds`.
    pub fn record(&mut self, tokens: usize, seconds: f64) {
        if tokens < 16 || seconds <= 0.0 {
            return; // too small to say anything about the rate
        }
        let now = tokens as f64 / seconds;
        self.tokens_per_second = Some(match self.tokens_per_second {
            Some(old) => 0.7 * old + 0.3 * now,
            None => now,
        });
    }

    /// Prompt tokens the next iteration may read.
    pub fn budget(&self, decoding: bool, max_rows: usize) -> usize {
        let seconds = if decoding {
            STEP_WHILE_DECODING
        } else {
            STEP_ALONE
        };
        let budget = match self.tokens_per_second {
            Some(rate) => (rate * seconds) as usize,
            None => 128, // until measured
        };
        budget.clamp(32, max_rows.max(32)).min(max_rows)
    }
}

/// How many of a prompt's `remaining` tokens to read within `budget`.
/// For a prompt on the exact path, `min` (the backend's `exact_from`): no
/// chunk or remainder is made shorter than that (a tiny chunk on the exact
/// path costs a whole pass over the weights for a few tokens). 0 means
/// wait for the next iteration.
pub fn prompt_chunk(remaining: usize, budget: usize, exact_from: Option<usize>) -> usize {
    if remaining <= budget {
        return remaining;
    }
    let Some(min) = exact_from else {
        return budget;
    };
    if budget < min {
        return 0;
    }
    if remaining - budget < min {
        // Leave `min` for the last chunk; if that makes this one too small,
        // wait for a bigger budget.
        let chunk = remaining - min;
        return if chunk >= min { chunk } else { 0 };
    }
    budget
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_follows_the_measured_speed() {
        let mut rate = PrefillRate::new();
        assert_eq!(rate.budget(true, 512), 128);
        rate.record(200, 1.0); // a slow model: 200 tokens/s
        assert_eq!(rate.budget(true, 512), 80);
        assert_eq!(rate.budget(false, 512), 100);
        let mut fast = PrefillRate::new();
        fast.record(5000, 1.0);
        assert_eq!(fast.budget(false, 512), 512, "capped by the model");
        fast.record(1, 10.0);
        assert_eq!(fast.budget(false, 512), 512, "tiny samples are ignored");
    }

    #[test]
    fn chunks_fit_the_budget_and_leave_no_tiny_remainder() {
        assert_eq!(prompt_chunk(10, 64, Some(16)), 10);
        assert_eq!(prompt_chunk(3000, 64, Some(16)), 64);
        assert_eq!(prompt_chunk(70, 64, Some(16)), 54, "leaves 16, not 6");
        assert_eq!(prompt_chunk(20, 8, Some(16)), 0, "too little budget left");
        assert_eq!(
            prompt_chunk(30, 20, Some(16)),
            0,
            "would split into two small chunks"
        );
        assert_eq!(prompt_chunk(70, 64, None), 64);
        assert_eq!(prompt_chunk(5, 0, None), 0);
    }

    /// Split whole prompts as the scheduler does: every piece is read, no
    /// piece but a whole short prompt is below the minimum.
    #[test]
    fn a_prompt_is_read_whole_in_pieces() {
        for total in [1, 15, 16, 17, 63, 64, 65, 79, 80, 81, 200, 1000] {
            let (mut left, mut pieces) = (total, Vec::new());
            while left > 0 {
                let c = prompt_chunk(left, 64, Some(16));
                assert!(c > 0, "{total}: stuck at {left}");
                pieces.push(c);
                left -= c;
            }
            assert_eq!(pieces.iter().sum::<usize>(), total);
            if total >= 16 {
                assert!(pieces.iter().all(|&p| p >= 16), "{total}: {pieces:?}");
            }
        }
    }
}
