//! Drafts for speculative decoding without a second model (`--speculative
//! ngram`, llama.cpp's prompt lookup): the tokens that followed the last
//! time the reply's last few tokens appeared in the prompt or the reply.
//! A reply that repeats (code with one change, a quoted passage, a list
//! in the prompt's order) is drafted many tokens ahead; the model then
//! checks every drafted token in one forward.

/// The longest and shortest suffix looked up. Fewer than 3 tokens match
/// too often by chance, and a wrong draft costs rows in the batch.
const LONGEST: usize = 4;
const SHORTEST: usize = 3;

/// Up to `max` tokens that followed the most recent earlier occurrence of
/// the longest suffix of `tokens` (`LONGEST` down to `SHORTEST` tokens)
/// found before it; empty when none occurs.
pub fn ngram_draft(tokens: &[u32], max: usize) -> &[u32] {
    if max == 0 {
        return &[];
    }
    for n in (SHORTEST..=LONGEST).rev() {
        if tokens.len() <= n {
            continue;
        }
        let suffix = &tokens[tokens.len() - n..];
        // Latest match first: a reply that repeats a block follows the
        // most recent copy.
        let found = (0..tokens.len() - n)
            .rev()
            .find(|&at| &tokens[at..at + n] == suffix);
        if let Some(at) = found {
            let from = at + n;
            return &tokens[from..(from + max).min(tokens.len())];
        }
    }
    &[]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_block_is_drafted_from_its_last_copy() {
        // 1 2 3 4 5 6 ... then the reply starts the block again: 1 2 3.
        let tokens = [9, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3];
        assert_eq!(ngram_draft(&tokens, 4), [4, 5, 6, 7]);
        assert_eq!(ngram_draft(&tokens, 100), [4, 5, 6, 7, 8, 1, 2, 3]);
        // The longer suffix wins over a more recent shorter one.
        let tokens = [5, 1, 2, 3, 40, 0, 2, 3, 41, 1, 2, 3];
        assert_eq!(ngram_draft(&tokens, 2), [40, 0]);
    }

    #[test]
    fn nothing_is_drafted_without_a_match_of_three() {
        assert!(ngram_draft(&[1, 2, 3, 4, 5, 6], 8).is_empty());
        assert!(ngram_draft(&[7, 8, 1, 7, 8], 8).is_empty());
        assert!(ngram_draft(&[1, 2, 3, 1, 2, 3], 0).is_empty());
        assert!(ngram_draft(&[], 8).is_empty());
    }
}
