//! Each token's bytes, as constrained decoding needs them: a grammar is
//! about text, so every token must be known as the exact bytes it adds.
//! Read from the GGUF vocabulary (the same one the tokenizer uses):
//! GPT-2 style byte-level pieces are mapped back to bytes, SentencePiece
//! pieces get their spaces and `<0xXX>` bytes back. Control tokens are
//! marked special (llguidance's 0xFF prefix), so no text can spell them.

use std::collections::HashMap;

use super::{gguf::GgufFile, EngineError};

const TOKEN_TYPE_NORMAL: u32 = 1;
const TOKEN_TYPE_USER_DEFINED: u32 = 4;
const TOKEN_TYPE_BYTE: u32 = 6;

/// llguidance's marker for a special token's bytes.
const SPECIAL: u8 = 0xFF;

/// GPT-2's byte-to-character table, reversed: the byte each character of a
/// byte-level piece stands for.
fn byte_level_chars() -> HashMap<char, u8> {
    let mut map = HashMap::with_capacity(256);
    let mut extra = 0u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        let c = if printable {
            char::from(b)
        } else {
            extra += 1;
            char::from_u32(255 + extra).unwrap_or('\u{FFFD}')
        };
        map.insert(c, b);
    }
    map
}

/// Every token's bytes, indexed by token id.
pub fn token_bytes(gguf: &GgufFile) -> Result<Vec<Vec<u8>>, EngineError> {
    let tokens = gguf
        .strings("tokenizer.ggml.tokens")
        .ok_or_else(|| EngineError::Tokenizer("the model has no vocabulary".into()))?;
    let types = gguf.u32s("tokenizer.ggml.token_type").unwrap_or_default();
    let byte_level = gguf.str("tokenizer.ggml.model") == Some("gpt2");
    let chars = byte_level_chars();
    Ok(tokens
        .iter()
        .enumerate()
        .map(|(id, text)| {
            let kind = types.get(id).copied().unwrap_or(TOKEN_TYPE_NORMAL);
            match kind {
                TOKEN_TYPE_NORMAL if byte_level => text
                    .chars()
                    .map(|c| chars.get(&c).copied())
                    .collect::<Option<Vec<u8>>>()
                    .unwrap_or_else(|| text.as_bytes().to_vec()),
                TOKEN_TYPE_NORMAL => text.replace('\u{2581}', " ").into_bytes(),
                TOKEN_TYPE_BYTE => text
                    .strip_prefix("<0x")
                    .and_then(|h| h.strip_suffix('>'))
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .map_or_else(|| text.as_bytes().to_vec(), |b| vec![b]),
                TOKEN_TYPE_USER_DEFINED => text.as_bytes().to_vec(),
                _ => std::iter::once(SPECIAL).chain(text.bytes()).collect(),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::byte_level_chars;

    #[test]
    fn the_byte_level_table_is_a_bijection_with_gpt2s_space() {
        let map = byte_level_chars();
        assert_eq!(map.len(), 256);
        assert_eq!(map[&'Ġ'], b' ');
        assert_eq!(map[&'Ċ'], b'\n');
        assert_eq!(map[&'a'], b'a');
    }
}
