//! Opening a GGUF file and reading the metadata the engine needs.

use std::{fs::File, io::BufReader, path::Path};

use candle_core::quantized::gguf_file::{Content, Value};

use super::EngineError;

/// The parsed header of a GGUF file plus a reader positioned for its tensors.
pub struct GgufFile {
    pub content: Content,
    pub reader: BufReader<File>,
}

impl GgufFile {
    pub fn open(path: &Path) -> Result<Self, EngineError> {
        let display = super::shown_file(path);
        let file = File::open(path).map_err(|e| EngineError::ModelFile {
            file: display.clone(),
            reason: e.to_string(),
        })?;
        let mut reader = BufReader::new(file);
        let content = Content::read(&mut reader).map_err(|e| EngineError::CorruptModel {
            file: display,
            reason: crate::model_port::candle_reason(&e),
        })?;
        Ok(Self { content, reader })
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.content
            .metadata
            .get(key)
            .and_then(|v| v.to_string().ok())
            .map(String::as_str)
    }

    pub fn u32(&self, key: &str) -> Option<u32> {
        self.content.metadata.get(key).and_then(value_as_u32)
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        self.content
            .metadata
            .get(key)
            .and_then(|v| v.to_bool().ok())
    }

    /// A string array, such as the token list.
    pub fn strings(&self, key: &str) -> Option<Vec<&str>> {
        let values = self.content.metadata.get(key)?.to_vec().ok()?;
        values
            .iter()
            .map(|v| v.to_string().ok().map(String::as_str))
            .collect()
    }

    /// An integer array, such as the token types.
    pub fn u32s(&self, key: &str) -> Option<Vec<u32>> {
        let values = self.content.metadata.get(key)?.to_vec().ok()?;
        values.iter().map(value_as_u32).collect()
    }

    /// A float array, such as the token scores.
    pub fn f32s(&self, key: &str) -> Option<Vec<f32>> {
        let values = self.content.metadata.get(key)?.to_vec().ok()?;
        values.iter().map(|v| v.to_f32().ok()).collect()
    }

    pub fn architecture(&self) -> Result<&str, EngineError> {
        self.str("general.architecture")
            .ok_or_else(|| EngineError::UnsupportedArchitecture("(none given in the file)".into()))
    }
}

/// Integers appear in GGUF files with whatever width the converter chose.
fn value_as_u32(v: &Value) -> Option<u32> {
    match v {
        Value::U8(x) => Some(*x as u32),
        Value::I8(x) => u32::try_from(*x).ok(),
        Value::U16(x) => Some(*x as u32),
        Value::I16(x) => u32::try_from(*x).ok(),
        Value::U32(x) => Some(*x),
        Value::I32(x) => u32::try_from(*x).ok(),
        Value::U64(x) => u32::try_from(*x).ok(),
        Value::I64(x) => u32::try_from(*x).ok(),
        _ => None,
    }
}
