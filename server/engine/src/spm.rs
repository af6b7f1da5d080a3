//! SentencePiece-style vocabularies as GGUF stores them
//! (`tokenizer.ggml.model = llama`: Gemma, Llama 2, Mistral, Phi-3): tokens
//! with scores, `▁` for spaces, and `<0xXX>` tokens for bytes no piece
//! covers. Nothing beyond the GGUF is needed, and the ids are llama.cpp's:
//! the same greedy merge (the adjacent pair whose merged piece scores
//! highest, leftmost on ties), the same byte fallback, and special tokens
//! (control, user-defined) cut out of the text before merging.

use std::{
    cmp::Ordering,
    collections::{BinaryHeap, HashMap},
};

use aho_corasick::{AhoCorasick, MatchKind};

use super::EngineError;

/// GGUF token types (llama.cpp's `llama_token_type`).
const NORMAL: u32 = 1;
const UNKNOWN: u32 = 2;
const CONTROL: u32 = 3;
const USER_DEFINED: u32 = 4;
const BYTE: u32 = 6;

/// SentencePiece's visible space.
const SPACE: char = '▁';

pub struct SpmVocab {
    tokens: Vec<String>,
    scores: Vec<f32>,
    types: Vec<u32>,
    ids: HashMap<String, u32>,
    bytes: [Option<u32>; 256],
    unknown: Option<u32>,
    /// Finds control and user-defined tokens in text (longest first).
    specials: Option<AhoCorasick>,
    special_ids: Vec<u32>,
    /// Llama 2 style: a space before text that starts a prompt or follows
    /// a special token (Gemma says no).
    add_space_prefix: bool,
}

impl SpmVocab {
    pub fn new(
        tokens: Vec<String>,
        scores: Vec<f32>,
        types: Vec<u32>,
        add_space_prefix: bool,
    ) -> Result<Self, EngineError> {
        if scores.len() != tokens.len() {
            return Err(EngineError::Tokenizer(format!(
                "the vocabulary has {} tokens but {} scores",
                tokens.len(),
                scores.len()
            )));
        }
        let types = if types.len() == tokens.len() {
            types
        } else {
            vec![NORMAL; tokens.len()]
        };
        let mut ids = HashMap::with_capacity(tokens.len());
        let mut bytes = [None; 256];
        let mut unknown = None;
        let (mut special_text, mut special_ids) = (Vec::new(), Vec::new());
        for (id, (text, &ty)) in tokens.iter().zip(&types).enumerate() {
            let id = id as u32;
            ids.entry(text.clone()).or_insert(id);
            match ty {
                BYTE => {
                    if let Some(b) = parse_byte_token(text) {
                        bytes[b as usize] = Some(id);
                    }
                }
                UNKNOWN => unknown = unknown.or(Some(id)),
                CONTROL | USER_DEFINED if !text.is_empty() => {
                    special_text.push(text.clone());
                    special_ids.push(id);
                }
                _ => {}
            }
        }
        let specials = if special_text.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&special_text)
                    .map_err(|e| EngineError::Tokenizer(e.to_string()))?,
            )
        };
        Ok(Self {
            tokens,
            scores,
            types,
            ids,
            bytes,
            unknown,
            specials,
            special_ids,
            add_space_prefix,
        })
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn id(&self, text: &str) -> Option<u32> {
        self.ids.get(text).copied()
    }

    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// Ids for `text`; special-token text becomes its id.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        let mut after_special = true;
        let plain = |piece: &str, after_special: bool, out: &mut Vec<u32>| {
            if piece.is_empty() {
                return;
            }
            let mut escaped = String::with_capacity(piece.len() + 3);
            if self.add_space_prefix && after_special {
                escaped.push(SPACE);
            }
            escaped.extend(piece.chars().map(|c| if c == ' ' { SPACE } else { c }));
            self.merge(&escaped, out);
        };
        let mut at = 0;
        if let Some(specials) = &self.specials {
            for m in specials.find_iter(text) {
                if m.start() > at {
                    plain(&text[at..m.start()], after_special, &mut out);
                }
                out.push(self.special_ids[m.pattern().as_usize()]);
                after_special = true;
                at = m.end();
            }
        }
        if at < text.len() {
            plain(&text[at..], after_special, &mut out);
        }
        out
    }

    /// Merges one escaped piece of text: start from characters, and merge
    /// the best-scoring adjacent pair until no pair forms a token.
    fn merge(&self, text: &str, out: &mut Vec<u32>) {
        let mut symbols: Vec<Symbol> = text
            .char_indices()
            .enumerate()
            .map(|(i, (start, c))| Symbol {
                start,
                len: c.len_utf8(),
                prev: i.checked_sub(1),
                next: Some(i + 1),
            })
            .collect();
        if let Some(last) = symbols.last_mut() {
            last.next = None;
        }
        let mut queue = BinaryHeap::new();
        let pair = |symbols: &[Symbol], left: Option<usize>, right: Option<usize>| {
            let (l, r) = (left?, right?);
            let (a, b) = (&symbols[l], &symbols[r]);
            let merged = &text[a.start..b.start + b.len];
            let id = *self.ids.get(merged)?;
            Some(Candidate {
                score: self.scores[id as usize],
                left: l,
                right: r,
                len: merged.len(),
            })
        };
        for i in 1..symbols.len() {
            queue.extend(pair(&symbols, Some(i - 1), Some(i)));
        }
        while let Some(c) = queue.pop() {
            let (l, r) = (&symbols[c.left], &symbols[c.right]);
            // A side already merged elsewhere: this candidate is stale.
            if l.len == 0 || r.len == 0 || l.len + r.len != c.len {
                continue;
            }
            let next = r.next;
            symbols[c.left].len += symbols[c.right].len;
            symbols[c.right].len = 0;
            symbols[c.left].next = next;
            if let Some(n) = next {
                symbols[n].prev = Some(c.left);
            }
            let prev = symbols[c.left].prev;
            queue.extend(pair(&symbols, prev, Some(c.left)));
            queue.extend(pair(&symbols, Some(c.left), next));
        }
        let mut at = symbols.first().map(|_| 0);
        while let Some(i) = at {
            let s = &symbols[i];
            let piece = &text[s.start..s.start + s.len];
            match self.ids.get(piece) {
                Some(&id) => out.push(id),
                None => out.extend(
                    piece
                        .bytes()
                        .filter_map(|b| self.bytes[b as usize].or(self.unknown)),
                ),
            }
            at = s.next;
        }
    }

    /// Text for ids; control tokens are left out when `skip_special`.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> String {
        let mut bytes = Vec::new();
        for &id in ids {
            let (Some(text), Some(&ty)) =
                (self.tokens.get(id as usize), self.types.get(id as usize))
            else {
                continue;
            };
            match ty {
                BYTE => match parse_byte_token(text) {
                    Some(b) => bytes.push(b),
                    None => bytes.extend_from_slice(text.as_bytes()),
                },
                CONTROL | UNKNOWN if skip_special => {}
                CONTROL | UNKNOWN | USER_DEFINED => bytes.extend_from_slice(text.as_bytes()),
                _ => {
                    let mut buf = [0u8; 4];
                    for c in text.chars() {
                        let c = if c == SPACE { ' ' } else { c };
                        bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                }
            }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        // The space the encoder added before the first word is not text.
        match (self.add_space_prefix, text.strip_prefix(' ')) {
            (true, Some(rest)) => rest.to_string(),
            _ => text,
        }
    }
}

/// `<0x41>` → 0x41.
fn parse_byte_token(text: &str) -> Option<u8> {
    let hex = text.strip_prefix("<0x")?.strip_suffix('>')?;
    (hex.len() == 2).then(|| u8::from_str_radix(hex, 16).ok())?
}

/// A run of characters in the text being merged (a linked list).
struct Symbol {
    start: usize,
    /// Bytes covered; 0 once merged into the symbol on its left.
    len: usize,
    prev: Option<usize>,
    next: Option<usize>,
}

/// Two adjacent symbols whose concatenation is a token.
struct Candidate {
    score: f32,
    left: usize,
    right: usize,
    len: usize,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    /// The highest score first; on a tie, the leftmost pair.
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.left.cmp(&self.left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy vocabulary: "ab" outscores "bc", so "abc" is "ab" + "c".
    fn vocab(add_space_prefix: bool) -> SpmVocab {
        let mut tokens: Vec<String> = [
            "<unk>", "<s>", "<ctl>", "a", "b", "c", "ab", "bc", "▁", "▁a",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut types = vec![UNKNOWN, CONTROL, CONTROL, 1, 1, 1, 1, 1, 1, 1];
        let mut scores = vec![0.0, 0.0, 0.0, -1.0, -1.0, -1.0, -2.0, -3.0, -1.0, -2.5];
        for b in 0..=255u8 {
            tokens.push(format!("<0x{b:02X}>"));
            types.push(BYTE);
            scores.push(0.0);
        }
        SpmVocab::new(tokens, scores, types, add_space_prefix).unwrap()
    }

    #[test]
    fn merges_by_score_and_falls_back_to_bytes() {
        let v = vocab(false);
        assert_eq!(v.encode("abc"), vec![6, 5]);
        assert_eq!(v.encode("bc"), vec![7]);
        // "é" is no token: its two UTF-8 bytes are.
        let e = v.encode("é");
        assert_eq!(e, vec![10 + 0xC3, 10 + 0xA9]);
        assert_eq!(v.decode(&e, true), "é");
        // A space is "▁", and "▁a" is one token.
        assert_eq!(v.encode(" a"), vec![9]);
        assert_eq!(v.decode(&[6, 9], true), "ab a");
    }

    #[test]
    fn special_tokens_are_cut_out_first_and_hidden_when_decoding() {
        let v = vocab(false);
        assert_eq!(v.encode("a<ctl>b"), vec![3, 2, 4]);
        assert_eq!(v.decode(&[3, 2, 4], true), "ab");
        assert_eq!(v.decode(&[3, 2, 4], false), "a<ctl>b");
    }

    #[test]
    fn a_space_prefix_is_added_and_removed_again() {
        let v = vocab(true);
        assert_eq!(v.encode("a"), vec![9]);
        assert_eq!(v.encode("<ctl>a"), vec![2, 9]);
        assert_eq!(v.decode(&v.encode("ab a"), true), "ab a");
    }

    #[test]
    fn stale_merge_candidates_are_skipped() {
        // "aab": "ab" (-2) would pair the second a with b; "a"+"a" is no
        // token, so the result is a, ab.
        let v = vocab(false);
        assert_eq!(v.encode("aab"), vec![3, 6]);
    }
}
