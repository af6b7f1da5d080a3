//! DRY ("don't repeat yourself", p-e-w's sampler in text-generation-
//! webui and llama.cpp): where the text so far ends with a sequence that
//! also appears earlier, the token that followed it there would repeat
//! the sequence; its logit loses more the longer the repeat. Sequence
//! breakers (new lines, `:` ...) end a sequence, so names, line starts
//! and punctuation stay free. Unlike the repetition penalty it leaves
//! single common tokens alone and stops loops of whole lines.

use std::collections::HashMap;

use crate::Sampling;

/// Matches are followed back at most this far: longer ones are penalised
/// as this long (the penalty is already far beyond any logit), and the
/// scan's cost stays bounded.
const MAX_MATCH: usize = 50;

/// Lowers the logits of tokens that would extend a repeat of at least
/// `dry_allowed_length` tokens by `dry_multiplier * dry_base ^ (length -
/// dry_allowed_length)`.
pub(super) fn penalize(p: &Sampling, logits: &mut [f32], context: &[u32]) {
    if p.dry_multiplier <= 0.0 || context.len() < 2 {
        return;
    }
    let is_breaker = |t: u32| p.dry_breakers.contains(&t);
    let n = context.len();
    let last = context[n - 1];
    if is_breaker(last) {
        return;
    }
    // For each token that followed an earlier occurrence of the text's
    // last token: the longest run, ending there, that equals the text's end.
    let mut longest: HashMap<u32, usize> = HashMap::new();
    for i in 0..n - 1 {
        if context[i] != last {
            continue;
        }
        let next = context[i + 1];
        if is_breaker(next) {
            continue;
        }
        let mut len = 1;
        while len < MAX_MATCH && len <= i {
            let earlier = context[i - len];
            let recent = context[n - 1 - len];
            if earlier != recent || is_breaker(recent) {
                break;
            }
            len += 1;
        }
        let best = longest.entry(next).or_insert(0);
        *best = (*best).max(len);
    }
    let allowed = p.dry_allowed_length.max(1) as usize;
    for (token, len) in longest {
        if len < allowed {
            continue;
        }
        if let Some(l) = logits.get_mut(token as usize) {
            *l -= p.dry_multiplier * p.dry_base.powi((len - allowed) as i32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dry(multiplier: f32, breakers: Vec<u32>) -> Sampling {
        Sampling {
            dry_multiplier: multiplier,
            dry_base: 2.0,
            dry_allowed_length: 2,
            dry_breakers: breakers,
            ..Sampling::greedy()
        }
    }

    #[test]
    fn the_token_that_would_repeat_a_sequence_is_penalised_by_its_length() {
        // "1 2 3 4 ... 1 2 3": 4 would repeat a run of 3 (allowed 2).
        let context = [1, 2, 3, 4, 9, 1, 2, 3];
        let mut logits = vec![0.0; 10];
        penalize(&dry(0.5, vec![]), &mut logits, &context);
        assert_eq!(logits[4], -0.5 * 2.0f32.powi(1));
        // Nothing else followed a "3".
        assert!(logits.iter().enumerate().all(|(t, &l)| t == 4 || l == 0.0));
    }

    #[test]
    fn short_repeats_breakers_and_off_are_left_alone() {
        let mut logits = vec![0.0; 10];
        // A run of 1 ("3" then 4) is under the allowed length.
        penalize(&dry(0.5, vec![]), &mut logits, &[3, 4, 9, 3]);
        assert!(logits.iter().all(|&l| l == 0.0));
        // A breaker (7, a new line) inside the earlier run ends it.
        penalize(&dry(0.5, vec![7]), &mut logits, &[7, 3, 4, 9, 7, 3]);
        assert!(logits.iter().all(|&l| l == 0.0));
        // Off.
        penalize(&dry(0.0, vec![]), &mut logits, &[1, 2, 3, 4, 1, 2, 3]);
        assert!(logits.iter().all(|&l| l == 0.0));
    }

    #[test]
    fn a_long_loop_gets_a_penalty_no_logit_survives() {
        let line = [5u32, 6, 7, 8, 9, 10];
        let context: Vec<u32> = line.iter().cycle().take(6 * 20 + 3).copied().collect();
        let mut logits = vec![10.0; 12];
        penalize(&dry(0.8, vec![]), &mut logits, &context);
        // The loop's next token (8) is pushed far below the rest.
        assert!(logits[8] < -1e6, "{}", logits[8]);
        assert!(logits[8].is_finite());
        assert_eq!(logits[11], 10.0);
    }
}
