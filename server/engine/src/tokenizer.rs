//! The model's tokenizer, built from the GGUF metadata (or a tokenizer.json
//! beside the model), plus the special-token facts generation needs. GPT-2
//! style byte-level BPE vocabularies (`tokenizer.ggml.model = gpt2`) run on
//! Hugging Face `tokenizers`; SentencePiece ones (`llama`) on `spm`.
//!
//! We build the Hugging Face `tokenizers` pipeline ourselves instead of using
//! candle's `TokenizerFromGguf`: that one maps SmolLM2's `smollm`
//! pre-tokenizer to plain GPT-2 splitting, which groups digits and gives
//! different ids than the model was trained with.

use std::path::{Path, PathBuf};

use tokenizers::{
    decoders::byte_level::ByteLevel as ByteLevelDecoder,
    models::bpe::{Vocab, BPE},
    normalizers::unicode::NFC,
    pre_tokenizers::{
        byte_level::ByteLevel, digits::Digits, sequence::Sequence, split::Split,
        split::SplitPattern, PreTokenizerWrapper,
    },
    AddedToken, SplitDelimiterBehavior, Tokenizer,
};

use super::{gguf::GgufFile, spm::SpmVocab, EngineError};

/// llama.cpp's `qwen2` pre-tokenizer regex (as in Qwen2's tokenizer.json).
const QWEN2_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// llama.cpp's `llama-bpe` (Llama 3) pre-tokenizer regex: digits in threes.
const LLAMA3_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// GGUF token types (llama.cpp's `llama_token_type`).
const TOKEN_TYPE_UNKNOWN: u32 = 2;
const TOKEN_TYPE_CONTROL: u32 = 3;
const TOKEN_TYPE_USER_DEFINED: u32 = 4;

/// The two vocabulary kinds GGUF files carry.
enum Vocabulary {
    Bpe(Box<Tokenizer>),
    Spm(Box<SpmVocab>),
}

/// Tokens that end a turn wherever a vocabulary has them, whatever the
/// metadata names (llama.cpp's list): an instruction-tuned Gemma ends with
/// `<end_of_turn>` though its `eos` is `<eos>`.
const END_OF_TURN: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|eom_id|>",
];

impl Vocabulary {
    fn id(&self, text: &str) -> Option<u32> {
        match self {
            Vocabulary::Bpe(t) => t.token_to_id(text),
            Vocabulary::Spm(v) => v.id(text),
        }
    }

    fn token(&self, id: u32) -> Option<String> {
        match self {
            Vocabulary::Bpe(t) => t.id_to_token(id),
            Vocabulary::Spm(v) => v.token(id).map(str::to_string),
        }
    }
}

pub struct TextTokenizer {
    inner: Vocabulary,
    /// Prepended to every prompt when the model asks for it.
    bos: Option<u32>,
    add_bos: bool,
    /// Tokens that end generation.
    eos_ids: Vec<u32>,
    bos_text: Option<String>,
    eos_text: Option<String>,
    /// Text longer than this is refused before it is tokenized (see
    /// [`TextTokenizer::limit_to_context`]).
    text_limit: usize,
    /// The context the limit was derived from, for the error message.
    context_tokens: usize,
    /// Where the tokenizer came from, for the log.
    pub source: String,
}

/// Bytes of text per token of context that are still tokenized: natural
/// text and code take 1.5-5 bytes a token, so text beyond this cannot fit
/// the context, and tokenizing it would only cost memory (the Hugging Face
/// tokenizer takes about 60 times the text's size while it works).
pub const TEXT_BYTES_PER_CONTEXT_TOKEN: usize = 16;

/// The least text tokenized, whatever the context: a token count of a
/// page is always answered.
const MIN_TEXT_LIMIT: usize = 64 << 10;

impl TextTokenizer {
    /// The tokenizer for the model at `model_path`: a `<stem>.tokenizer.json`
    /// or `tokenizer.json` beside it when that matches the model's vocabulary,
    /// otherwise the one described by the GGUF metadata.
    pub fn for_model(model_path: &Path, gguf: &GgufFile) -> Result<Self, EngineError> {
        let mut built = None;
        for candidate in sidecar_candidates(model_path) {
            if !candidate.is_file() {
                continue;
            }
            match Tokenizer::from_file(&candidate) {
                Ok(t) if vocab_matches(&t, gguf) => {
                    built = Some((Vocabulary::Bpe(Box::new(t)), super::shown_file(&candidate)));
                    break;
                }
                Ok(_) => tracing::warn!(
                    path = %candidate.display(),
                    "ignoring tokenizer.json: its vocabulary does not match the model"
                ),
                Err(e) => {
                    tracing::warn!(path = %candidate.display(), error = %e, "ignoring unreadable tokenizer.json")
                }
            }
        }
        let (inner, source) = match built {
            Some(b) => b,
            None => (from_gguf_metadata(gguf)?, "GGUF metadata".to_string()),
        };
        let token_text = |id: Option<u32>| id.and_then(|id| inner.token(id));
        let bos = gguf.u32("tokenizer.ggml.bos_token_id");
        let eos = gguf.u32("tokenizer.ggml.eos_token_id");
        let mut eos_ids: Vec<u32> = [
            eos,
            gguf.u32("tokenizer.ggml.eot_token_id"),
            gguf.u32("tokenizer.ggml.eom_token_id"),
        ]
        .into_iter()
        .flatten()
        .chain(END_OF_TURN.iter().filter_map(|t| inner.id(t)))
        .collect();
        eos_ids.sort_unstable();
        eos_ids.dedup();
        if eos_ids.is_empty() {
            return Err(EngineError::Tokenizer(
                "the model names no end-of-sequence token (tokenizer.ggml.eos_token_id)".into(),
            ));
        }
        Ok(Self {
            bos_text: token_text(bos),
            eos_text: token_text(eos),
            add_bos: gguf.bool("tokenizer.ggml.add_bos_token").unwrap_or(false),
            bos,
            eos_ids,
            inner,
            text_limit: usize::MAX,
            context_tokens: 0,
            source,
        })
    }

    /// Refuses, from now on, text too long for a context of
    /// `context_tokens` ([`TEXT_BYTES_PER_CONTEXT_TOKEN`] bytes a token).
    pub fn limit_to_context(&mut self, context_tokens: usize) {
        self.context_tokens = context_tokens;
        self.text_limit = context_tokens
            .saturating_mul(TEXT_BYTES_PER_CONTEXT_TOKEN)
            .max(MIN_TEXT_LIMIT);
    }

    /// The most bytes of text [`encode`](Self::encode) takes.
    pub fn text_limit(&self) -> usize {
        self.text_limit
    }

    /// Token ids for a rendered prompt. Special-token text such as
    /// `<|im_start|>` becomes its single special id.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, EngineError> {
        let mut ids = self.encode_text(text)?;
        if let (true, Some(bos)) = (self.add_bos, self.bos) {
            if ids.first() != Some(&bos) {
                ids.insert(0, bos);
            }
        }
        Ok(ids)
    }

    /// Token ids for a piece of text, without the BOS a prompt begins with.
    pub fn encode_text(&self, text: &str) -> Result<Vec<u32>, EngineError> {
        if text.len() > self.text_limit {
            return Err(EngineError::TextTooLong {
                bytes: text.len(),
                limit: self.text_limit,
                context_tokens: self.context_tokens,
            });
        }
        Ok(match &self.inner {
            Vocabulary::Bpe(t) => t
                .encode(text, false)
                .map_err(|e| EngineError::Tokenizer(e.to_string()))?
                .get_ids()
                .to_vec(),
            Vocabulary::Spm(v) => v.encode(text),
        })
    }

    /// Text for ids, leaving out control tokens.
    pub fn decode(&self, ids: &[u32]) -> Result<String, EngineError> {
        match &self.inner {
            Vocabulary::Bpe(t) => t
                .decode(ids, true)
                .map_err(|e| EngineError::Tokenizer(e.to_string())),
            Vocabulary::Spm(v) => Ok(v.decode(ids, true)),
        }
    }

    pub fn is_eos(&self, id: u32) -> bool {
        self.eos_ids.contains(&id)
    }

    pub fn eos_ids(&self) -> &[u32] {
        &self.eos_ids
    }

    pub fn bos_text(&self) -> Option<&str> {
        self.bos_text.as_deref()
    }

    pub fn eos_text(&self) -> Option<&str> {
        self.eos_text.as_deref()
    }

    pub fn vocab_size(&self) -> usize {
        match &self.inner {
            Vocabulary::Bpe(t) => t.get_vocab_size(true),
            Vocabulary::Spm(v) => v.len(),
        }
    }
}

fn sidecar_candidates(model_path: &Path) -> Vec<PathBuf> {
    let dir = model_path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    if let Some(stem) = model_path.file_stem() {
        out.push(dir.join(format!("{}.tokenizer.json", stem.to_string_lossy())));
    }
    out.push(dir.join("tokenizer.json"));
    out
}

/// A tokenizer.json is only trusted when its tokens agree with the model's.
fn vocab_matches(tokenizer: &Tokenizer, gguf: &GgufFile) -> bool {
    let Some(tokens) = gguf.strings("tokenizer.ggml.tokens") else {
        // Nothing to compare against: the file is all we have.
        return true;
    };
    tokenizer.get_vocab_size(true) <= tokens.len()
        && tokens
            .iter()
            .enumerate()
            .step_by(97)
            .all(|(id, tok)| tokenizer.id_to_token(id as u32).as_deref() == Some(*tok))
}

fn from_gguf_metadata(gguf: &GgufFile) -> Result<Vocabulary, EngineError> {
    match gguf.str("tokenizer.ggml.model").unwrap_or("(none)") {
        "gpt2" => bpe_from_gguf(gguf).map(|t| Vocabulary::Bpe(Box::new(t))),
        "llama" => spm_from_gguf(gguf).map(|v| Vocabulary::Spm(Box::new(v))),
        other => Err(EngineError::Tokenizer(format!(
            "tokenizer model `{other}` in the GGUF is not supported (gpt2 and llama are); put the model's tokenizer.json beside the file"
        ))),
    }
}

/// A SentencePiece vocabulary: tokens, scores and types.
fn spm_from_gguf(gguf: &GgufFile) -> Result<SpmVocab, EngineError> {
    let missing = |key: &str| EngineError::Tokenizer(format!("{key} is missing"));
    let tokens = gguf
        .strings("tokenizer.ggml.tokens")
        .ok_or_else(|| missing("tokenizer.ggml.tokens"))?
        .into_iter()
        .map(str::to_string)
        .collect();
    let scores = gguf
        .f32s("tokenizer.ggml.scores")
        .ok_or_else(|| missing("tokenizer.ggml.scores"))?;
    let types = gguf.u32s("tokenizer.ggml.token_type").unwrap_or_default();
    // llama.cpp's default for SentencePiece vocabularies is to add it.
    let add_space_prefix = gguf.bool("tokenizer.ggml.add_space_prefix").unwrap_or(true);
    SpmVocab::new(tokens, scores, types, add_space_prefix)
}

/// A GPT-2 style byte-level BPE vocabulary with its merges.
fn bpe_from_gguf(gguf: &GgufFile) -> Result<Tokenizer, EngineError> {
    let err = |m: String| EngineError::Tokenizer(m);
    let tokens = gguf
        .strings("tokenizer.ggml.tokens")
        .ok_or_else(|| err("tokenizer.ggml.tokens is missing".into()))?;
    let merges = gguf
        .strings("tokenizer.ggml.merges")
        .ok_or_else(|| err("tokenizer.ggml.merges is missing".into()))?
        .into_iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| err(format!("malformed merge `{m}`")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let vocab: Vocab = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.to_string(), i as u32))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| err(e.to_string()))?;

    let mut tokenizer = Tokenizer::new(bpe);
    let pre = gguf.str("tokenizer.ggml.pre").unwrap_or("default");
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer(pre)?));
    if pre == "qwen2" {
        tokenizer
            .with_normalizer(Some(NFC))
            .map_err(|e| err(e.to_string()))?;
    }
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));

    // Control tokens are special (matched in text, hidden when decoding);
    // user-defined ones are matched in text and shown.
    let types = gguf.u32s("tokenizer.ggml.token_type").unwrap_or_default();
    let (mut special, mut user) = (Vec::new(), Vec::new());
    for (id, ty) in types.iter().enumerate() {
        let Some(text) = tokens.get(id) else { break };
        match *ty {
            TOKEN_TYPE_CONTROL | TOKEN_TYPE_UNKNOWN => {
                special.push(AddedToken::from(text.to_string(), true))
            }
            TOKEN_TYPE_USER_DEFINED => user.push(AddedToken::from(text.to_string(), false)),
            _ => {}
        }
    }
    tokenizer
        .add_special_tokens(special)
        .and_then(|_| tokenizer.add_tokens(user))
        .map_err(|e| err(e.to_string()))?;
    Ok(tokenizer)
}

/// The pre-tokenizer llama.cpp uses for each `tokenizer.ggml.pre` value.
fn pre_tokenizer(pre: &str) -> Result<PreTokenizerWrapper, EngineError> {
    let split = |regex: &str| -> Result<PreTokenizerWrapper, EngineError> {
        Split::new(
            SplitPattern::Regex(regex.into()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map(Into::into)
        .map_err(|e| EngineError::Tokenizer(e.to_string()))
    };
    let byte_level_only = ByteLevel::new(false, false, false).into();
    Ok(match pre {
        "qwen2" => Sequence::new(vec![split(QWEN2_REGEX)?, byte_level_only]).into(),
        "llama-bpe" | "llama3" | "smaug-bpe" => Sequence::new(vec![split(LLAMA3_REGEX)?, byte_level_only]).into(),
        // SmolLM2: every digit on its own, then GPT-2 splitting.
        "smollm" => Sequence::new(vec![Digits::new(true).into(), ByteLevel::new(false, true, true).into()]).into(),
        "gpt2" | "default" => ByteLevel::new(false, true, true).into(),
        other => {
            return Err(EngineError::Tokenizer(format!(
                "pre-tokenizer `{other}` is not supported; put the model's tokenizer.json beside the file"
            )))
        }
    })
}
