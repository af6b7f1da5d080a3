//! candle's quantized llama / qwen2 models behind the batch port: the path
//! on CUDA and on CPUs without AVX-512 VNNI, and the reference our own
//! kernels are tested against. candle's models keep one KV cache that only
//! grows, so this backend has one slot and no prefix reuse: it serves
//! queued requests one after another (the GPU issue replaces it).

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_llama, quantized_qwen2};

use super::{gguf::GgufFile, BatchModel, EngineError, ModelShape, SeqChunk};

enum Weights {
    Llama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
}

pub struct CandleModel {
    weights: Weights,
    device: Device,
    context_length: usize,
    vocab: usize,
    /// Positions in candle's cache.
    len: usize,
}

/// Architectures we can load, as named in `general.architecture`.
pub const SUPPORTED_ARCHITECTURES: &[&str] = &["llama", "qwen2"];

/// Tokens one forward takes: prompts are read in chunks this long.
const MAX_ROWS: usize = 512;

impl CandleModel {
    pub fn load(
        path: &Path,
        gguf: GgufFile,
        device: &Device,
        ctx_size: Option<usize>,
    ) -> Result<Self, EngineError> {
        let arch = gguf.architecture()?.to_string();
        let trained = gguf.u32(&format!("{arch}.context_length")).unwrap_or(4096) as usize;
        let vocab = gguf
            .content
            .tensor_infos
            .get("token_embd.weight")
            .map_or(0, |t| t.shape.dims()[0]);
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
            vocab,
            len: 0,
        })
    }

    fn run(&mut self, tokens: &[u32], start: usize) -> Result<Vec<f32>, EngineError> {
        let input = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let logits = match &mut self.weights {
            Weights::Llama(m) => m.forward(&input, start)?,
            Weights::Qwen2(m) => m.forward(&input, start)?,
        };
        let logits = logits.squeeze(0)?.to_dtype(candle_core::DType::F32)?;
        Ok(logits.to_vec1::<f32>()?)
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
            file: super::shown_file(path),
            reason,
        }
    }
}

impl BatchModel for CandleModel {
    fn shape(&self) -> ModelShape {
        ModelShape {
            slots: 1,
            context_length: self.context_length,
            max_rows: MAX_ROWS,
            prefix_reuse: false,
            exact_from: None,
            vocab: self.vocab,
        }
    }

    fn forward(&mut self, batch: &[SeqChunk]) -> Result<Vec<Vec<f32>>, EngineError> {
        let [chunk] = batch else {
            return Err(EngineError::Compute(format!(
                "candle's models run one sequence at a time, not {}",
                batch.len()
            )));
        };
        if chunk.slot != 0 || (chunk.start != 0 && chunk.start != self.len) {
            return Err(EngineError::Compute(
                "candle's models only continue their cache or start over".into(),
            ));
        }
        if chunk.tokens.is_empty() || chunk.start + chunk.tokens.len() > self.context_length {
            return Err(EngineError::PromptTooLong {
                prompt_tokens: chunk.start + chunk.tokens.len(),
                context_length: self.context_length,
            });
        }
        // Forget the old sequence first: a failed step leaves no stale length.
        self.len = 0;
        let logits = self.run(chunk.tokens, chunk.start)?;
        self.len = chunk.start + chunk.tokens.len();
        Ok(if chunk.logits { vec![logits] } else { vec![] })
    }
}
