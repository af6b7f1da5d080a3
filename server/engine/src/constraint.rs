//! Constrained decoding: a grammar (a JSON schema, or a Lark grammar)
//! decides which tokens may come next, and every other token's logit is
//! set to -inf before sampling, so even a small model writes valid JSON or
//! a valid tool call. The grammar engine is llguidance (what llama.cpp,
//! vLLM and SGLang use): maintained, Rust, and fast enough to compute a
//! mask over a 150k vocabulary per token.

use std::sync::{Arc, OnceLock};

use llguidance::{
    api::TopLevelGrammar,
    toktrie::{TokEnv, TokRxInfo, TokTrie, TokenizerEnv},
    Matcher, ParserFactory,
};
use serde_json::Value;

use super::{EngineError, TextTokenizer};

/// What the output must match.
#[derive(Clone, Debug, PartialEq)]
pub enum Grammar {
    /// A JSON value matching this JSON schema.
    JsonSchema(Value),
    /// llguidance's Lark syntax (`start: …`), which may embed JSON schemas
    /// with `%json { … }`.
    Lark(String),
}

/// The model's vocabulary as the grammar engine sees it.
struct Vocabulary {
    trie: TokTrie,
    tokenizer: Arc<TextTokenizer>,
}

impl TokenizerEnv for Vocabulary {
    fn tok_trie(&self) -> &TokTrie {
        &self.trie
    }

    fn tokenize_bytes(&self, bytes: &[u8]) -> Vec<u32> {
        match std::str::from_utf8(bytes) {
            Ok(text) => self
                .tokenizer
                .encode_text(text)
                .unwrap_or_else(|_| self.trie.greedy_tokenize(bytes)),
            Err(_) => self.trie.greedy_tokenize(bytes),
        }
    }
}

/// Makes constraints for one model; the grammar engine's view of the
/// vocabulary is built on first use (a few hundred ms for 150k tokens),
/// so models never asked for structured output never pay for it.
pub struct Constraints {
    words: Vec<Vec<u8>>,
    tokenizer: Arc<TextTokenizer>,
    factory: OnceLock<Result<ParserFactory, String>>,
}

impl Constraints {
    pub fn new(words: Vec<Vec<u8>>, tokenizer: Arc<TextTokenizer>) -> Self {
        Self {
            words,
            tokenizer,
            factory: OnceLock::new(),
        }
    }

    fn factory(&self) -> Result<&ParserFactory, EngineError> {
        self.factory
            .get_or_init(|| {
                let eos = self.tokenizer.eos_ids();
                let mut info = TokRxInfo::new(self.words.len() as u32, eos[0]);
                info.tok_end_of_turn = eos.get(1).copied();
                let trie = TokTrie::from(&info, &self.words).with_eos_tokens(eos);
                let env: TokEnv = Arc::new(Vocabulary {
                    trie,
                    tokenizer: self.tokenizer.clone(),
                });
                let mut factory = ParserFactory::new_simple(&env).map_err(|e| e.to_string())?;
                factory.quiet();
                Ok(factory)
            })
            .as_ref()
            .map_err(|e| EngineError::Grammar(format!("the vocabulary cannot be used: {e}")))
    }

    /// A fresh constraint for one reply; a grammar or schema that does not
    /// compile is the request's error.
    pub fn constraint(&self, grammar: &Grammar) -> Result<TokenConstraint, EngineError> {
        let factory = self.factory()?;
        let top = match grammar {
            Grammar::JsonSchema(schema) => TopLevelGrammar::from_json_schema(schema.clone()),
            Grammar::Lark(source) => TopLevelGrammar::from_lark(source.clone()),
        };
        let parser = factory
            .create_parser(top)
            .map_err(|e| EngineError::Grammar(in_users_terms(&e.to_string())))?;
        Ok(TokenConstraint {
            matcher: Box::new(Matcher::new(Ok(parser))),
            eos_ids: self.tokenizer.eos_ids().to_vec(),
        })
    }
}

/// The grammar engine's message without what only it understands: a
/// regular expression's error is said in one line (not with the pattern
/// drawn above a caret), and only the first line of anything else is kept
/// (never the grammar source or the parser's state).
fn in_users_terms(message: &str) -> String {
    let message = message.trim();
    if message.starts_with("regex parse error") {
        let cause = message
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error:"))
            .unwrap_or("it does not parse")
            .trim();
        return format!("a `pattern` is not a valid regular expression: {cause}");
    }
    crate::model_port::first_line(message)
}

/// One reply's grammar state.
pub struct TokenConstraint {
    /// Boxed: the matcher is large, and jobs move through the queue.
    matcher: Box<Matcher>,
    eos_ids: Vec<u32>,
}

impl Clone for TokenConstraint {
    fn clone(&self) -> Self {
        Self {
            matcher: Box::new(self.matcher.deep_clone()),
            eos_ids: self.eos_ids.clone(),
        }
    }
}

impl std::fmt::Debug for TokenConstraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenConstraint")
    }
}

impl TokenConstraint {
    fn failed(&self, what: &str) -> EngineError {
        EngineError::Grammar(format!(
            "{what}: {}",
            self.matcher.get_error().unwrap_or_default()
        ))
    }

    /// Sets the logit of every token the grammar does not allow next to
    /// -inf; end-of-turn tokens stay only where the grammar may end.
    pub fn mask(&mut self, logits: &mut [f32]) -> Result<(), EngineError> {
        let allowed = self
            .matcher
            .compute_mask_or_eos()
            .map_err(|_| self.failed("the grammar cannot go on"))?;
        let may_end = self.eos_ids.iter().any(|&e| allowed.is_allowed(e));
        for (id, logit) in logits.iter_mut().enumerate() {
            let ok = if self.eos_ids.contains(&(id as u32)) {
                may_end
            } else {
                id < allowed.len() && allowed.get(id)
            };
            if !ok {
                *logit = f32::NEG_INFINITY;
            }
        }
        Ok(())
    }

    /// The token the sampler chose (one the mask allowed).
    pub fn commit(&mut self, token: u32) -> Result<(), EngineError> {
        if self.eos_ids.contains(&token) {
            return Ok(());
        }
        self.matcher
            .consume_token(token)
            .map_err(|_| self.failed("the sampled token broke the grammar"))
    }

    /// The grammar is complete and allows nothing more: the reply ends.
    pub fn finished(&self) -> bool {
        self.matcher.is_stopped()
    }
}
