//! The network itself: a GGUF file loaded into candle's quantized model for
//! its architecture, behind a small trait the generation loop drives (and
//! that tests can fake).

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_llama, quantized_qwen2};

use super::{gguf::GgufFile, EngineError};

/// A causal language model with its own KV cache.
pub trait LanguageModel: Send {
    /// Runs `tokens` at positions `start_pos..` and returns the logits of the
    /// last one. `start_pos == 0` starts a fresh sequence.
    fn forward(&mut self, tokens: &[u32], start_pos: usize) -> Result<Vec<f32>, EngineError>;
    /// Longest sequence (prompt plus reply) the model can process.
    fn context_length(&self) -> usize;
    /// How many leading `tokens` the model's KV cache already holds (from
    /// the previous request), so only the rest needs computing.
    fn cached_prefix(&self, _tokens: &[u32]) -> usize {
        0
    }
}

enum Weights {
    Llama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
}

pub struct CandleModel {
    weights: Weights,
    device: Device,
    context_length: usize,
}

/// Architectures we can load, as named in `general.architecture`.
pub const SUPPORTED_ARCHITECTURES: &[&str] = &["llama", "qwen2"];

impl CandleModel {
    pub fn load(
        path: &Path,
        gguf: GgufFile,
        device: &Device,
        ctx_size: Option<usize>,
    ) -> Result<Self, EngineError> {
        let arch = gguf.architecture()?.to_string();
        let trained = gguf.u32(&format!("{arch}.context_length")).unwrap_or(4096) as usize;
        let GgufFile {
            content,
            mut reader,
        } = gguf;
        let corrupt = |e: candle_core::Error| load_error(path, device, e);
        let (weights, context_length) = match arch.as_str() {
            "llama" => {
                let w = quantized_llama::ModelWeights::from_gguf(content, &mut reader, device)
                    .map_err(corrupt)?;
                // candle's llama precomputes rotary tables for MAX_SEQ_LEN positions.
                (Weights::Llama(w), trained.min(quantized_llama::MAX_SEQ_LEN))
            }
            "qwen2" => {
                let w = quantized_qwen2::ModelWeights::from_gguf(content, &mut reader, device)
                    .map_err(corrupt)?;
                (Weights::Qwen2(w), trained)
            }
            other => return Err(EngineError::UnsupportedArchitecture(other.to_string())),
        };
        Ok(Self {
            weights,
            device: device.clone(),
            context_length: ctx_size.map_or(context_length, |c| c.clamp(16, context_length)),
        })
    }
}

/// A failed weight load: out of device memory, or a file that is not what
/// its header promised.
fn load_error(path: &Path, device: &Device, e: candle_core::Error) -> EngineError {
    let reason = e.to_string();
    if reason.contains("OUT_OF_MEMORY") || reason.to_ascii_lowercase().contains("out of memory") {
        EngineError::OutOfMemory {
            device: if device.is_cuda() {
                "the GPU"
            } else {
                "system memory"
            }
            .to_string(),
            reason,
        }
    } else {
        EngineError::CorruptModel {
            file: super::error::shown_file(path),
            reason,
        }
    }
}

impl LanguageModel for CandleModel {
    fn forward(&mut self, tokens: &[u32], start_pos: usize) -> Result<Vec<f32>, EngineError> {
        let input = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let logits = match &mut self.weights {
            Weights::Llama(m) => m.forward(&input, start_pos)?,
            Weights::Qwen2(m) => m.forward(&input, start_pos)?,
        };
        let logits = logits.squeeze(0)?.to_dtype(candle_core::DType::F32)?;
        Ok(logits.to_vec1::<f32>()?)
    }

    fn context_length(&self) -> usize {
        self.context_length
    }
}
