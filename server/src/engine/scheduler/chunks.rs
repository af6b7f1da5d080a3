//! How much of a waiting prompt one iteration reads. While other replies
//! are streaming, prompts are read in small chunks so those streams never
//! stall for long; when nothing else runs, in the largest chunks the model
//! takes. Chunk sizes only affect speed, never the numbers: every chunk of
//! a prompt runs on the same path (see `port::SeqChunk::exact`).

/// Prompt tokens per iteration while other sequences decode: a stall of
/// about a third of a second for a 0.5B model on two cores.
pub const PREFILL_BUDGET_WHILE_DECODING: usize = 64;

/// How many of a prompt's `remaining` tokens to read within `budget`.
/// Prefers not to leave a remainder shorter than `exact_from` (a tiny last
/// chunk on the exact path costs a whole pass over the weights for a few
/// tokens). 0 means wait for the next iteration.
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
