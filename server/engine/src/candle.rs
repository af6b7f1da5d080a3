//! candle's quantized models (one per architecture in `model_port::arch`)
//! behind the batch port: the path on CPUs without AVX-512 VNNI, on CUDA
//! for files `crate::gpu` does not cover yet (a partial rotation), and the
//! reference both our paths are tested against. candle's models keep one
//! KV cache that only grows, so this backend has one slot and no prefix
//! reuse: it serves queued requests one after another. candle's qwen3moe cannot forget its cache, so a
//! new sequence on it loads the weights again.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::{
    quantized_gemma3, quantized_llama, quantized_phi3, quantized_qwen2, quantized_qwen3,
    quantized_qwen3_moe,
};

use super::{gguf::GgufFile, BatchModel, EngineError, ModelShape, SeqChunk};
use crate::model_port::{arch::CandleModule, hyperparams::Hyperparams, load_error};

enum Weights {
    Llama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
    Qwen3(quantized_qwen3::ModelWeights),
    Qwen3Moe(Box<quantized_qwen3_moe::GGUFQWenMoE>),
    Gemma3(quantized_gemma3::ModelWeights),
    Phi3(quantized_phi3::ModelWeights),
}

pub struct CandleModel {
    weights: Weights,
    /// The file, for models that must load again to start over.
    path: PathBuf,
    device: Device,
    context_length: usize,
    vocab: usize,
    /// candle's caches hold f32 keys and values.
    kv_bytes_per_token: usize,
    /// Positions in candle's cache.
    len: usize,
}

/// Tokens one forward takes: prompts are read in chunks this long.
const MAX_ROWS: usize = 512;

impl CandleModel {
    /// `params` are the file's hyperparameters as the loader read them
    /// (once per load).
    pub fn load(
        path: &Path,
        gguf: GgufFile,
        params: &Hyperparams,
        device: &Device,
        ctx_size: Option<usize>,
    ) -> Result<Self, EngineError> {
        let arch = params.arch;
        let trained = params.trained_context;
        let vocab = gguf
            .content
            .tensor_infos
            .get("token_embd.weight")
            .map_or(0, |t| t.shape.dims()[0]);
        let kv_bytes_per_token = params.kv_values_per_token() * std::mem::size_of::<f32>();
        let weights = Self::weights(path, gguf, device, arch.candle)?;
        let context_length = arch.candle_context_cap.map_or(trained, |c| trained.min(c));
        Ok(Self {
            weights,
            path: path.to_path_buf(),
            device: device.clone(),
            context_length: ctx_size.map_or(context_length, |c| c.clamp(16, context_length)),
            vocab,
            kv_bytes_per_token,
            len: 0,
        })
    }

    fn weights(
        path: &Path,
        gguf: GgufFile,
        device: &Device,
        module: CandleModule,
    ) -> Result<Weights, EngineError> {
        let GgufFile {
            content,
            mut reader,
        } = gguf;
        let r = &mut reader;
        let corrupt = |e: candle_core::Error| load_error(path, device, e);
        Ok(match module {
            CandleModule::Llama => Weights::Llama(
                quantized_llama::ModelWeights::from_gguf(content, r, device).map_err(corrupt)?,
            ),
            CandleModule::Qwen2 => Weights::Qwen2(
                quantized_qwen2::ModelWeights::from_gguf(content, r, device).map_err(corrupt)?,
            ),
            CandleModule::Qwen3 => Weights::Qwen3(
                quantized_qwen3::ModelWeights::from_gguf(content, r, device).map_err(corrupt)?,
            ),
            CandleModule::Qwen3Moe if device.is_cpu() => {
                // candle 0.11 multiplies experts on CUDA only.
                return Err(EngineError::Device(
                    "cpu".into(),
                    "qwen3moe models run on candlelight's own CPU kernels (AVX-512 VNNI) or on CUDA, and this CPU has no AVX-512 VNNI".into(),
                ));
            }
            CandleModule::Qwen3Moe => {
                let dtype = DType::F16;
                Weights::Qwen3Moe(Box::new(
                    quantized_qwen3_moe::GGUFQWenMoE::from_gguf(content, r, device, dtype)
                        .map_err(corrupt)?,
                ))
            }
            CandleModule::Gemma3 => Weights::Gemma3(
                quantized_gemma3::ModelWeights::from_gguf(content, r, device).map_err(corrupt)?,
            ),
            // Without flash attention: it needs a CUDA kernel build.
            CandleModule::Phi3 => Weights::Phi3(
                quantized_phi3::ModelWeights::from_gguf(false, content, r, device)
                    .map_err(corrupt)?,
            ),
        })
    }

    /// Forgets the cached sequence, for the modules that do not forget it
    /// by themselves at position 0.
    fn start_over(&mut self) -> Result<(), EngineError> {
        match &mut self.weights {
            Weights::Qwen3(m) => m.clear_kv_cache(),
            Weights::Qwen3Moe(_) => {
                let gguf = GgufFile::open(&self.path)?;
                self.weights =
                    Self::weights(&self.path, gguf, &self.device, CandleModule::Qwen3Moe)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn run(&mut self, tokens: &[u32], start: usize) -> Result<Vec<f32>, EngineError> {
        let input = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let logits = match &mut self.weights {
            Weights::Llama(m) => m.forward(&input, start)?,
            Weights::Qwen2(m) => m.forward(&input, start)?,
            Weights::Qwen3(m) => m.forward(&input, start)?,
            Weights::Qwen3Moe(m) => m.forward(&input, start)?,
            Weights::Gemma3(m) => m.forward(&input, start)?,
            Weights::Phi3(m) => m.forward(&input, start)?,
        };
        let logits = logits.squeeze(0)?.to_dtype(candle_core::DType::F32)?;
        Ok(logits.to_vec1::<f32>()?)
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
            all_logits: false,
            kv_bytes_per_token: self.kv_bytes_per_token,
            cache_slots: 1,
            prefix_copy: false,
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
        let restart = chunk.start == 0 && self.len > 0;
        self.len = 0;
        if restart {
            self.start_over()?;
        }
        let logits = self.run(chunk.tokens, chunk.start)?;
        self.len = chunk.start + chunk.tokens.len();
        Ok(if chunk.logits { vec![logits] } else { vec![] })
    }
}
