//! Loading a model file into everything a reply needs: weights on the device,
//! tokenizer, and the chat template source (the server compiles it).

use std::{path::Path, sync::Arc, time::Instant};

use domain::CacheType;

use super::{
    candle::CandleModel, constraint::Constraints, device::DeviceSpec, gguf::GgufFile,
    token_bytes::token_bytes, BatchModel, EngineError, TextTokenizer,
};
use crate::{
    cpu::CpuModel,
    gpu::{Capacity, GpuModel},
    model_port::hyperparams::Hyperparams,
};

/// Facts about the loaded model, for the UI, the API and the log.
#[derive(Clone, Debug)]
pub struct ModelInfo {
    /// The file name, which is also the model's id in the API.
    pub name: String,
    pub architecture: String,
    /// Longest sequence one reply can use (prompt plus reply).
    pub context_length: usize,
    /// Replies generated at once, each in a slot with its own KV cache.
    pub slots: usize,
    /// KV cache bytes per token of context (per slot).
    pub kv_bytes_per_token: usize,
    /// Tokens of KV cache that fit next to the weights (GPU memory plan).
    pub kv_tokens_that_fit: Option<usize>,
    /// Threads candlelight's CPU kernels run on (`None` on other backends).
    pub cpu_threads: Option<usize>,
    pub cache_type: CacheType,
    pub device: DeviceSpec,
    pub tokenizer_source: String,
    /// How replies draft tokens ahead (`--speculative`), or why a draft
    /// model given is not used; the host fills it in.
    pub speculative: String,
}

/// How a model is loaded.
#[derive(Clone, Copy, Debug)]
pub struct LoadOptions {
    pub device: DeviceSpec,
    /// Caps the context of each slot; `None` keeps the model's.
    pub ctx_size: Option<usize>,
    /// How many replies run at once (`--parallel`).
    pub parallel: usize,
    pub model_impl: ModelImpl,
    /// Bytes of GPU memory weights and caches may take (`--gpu-memory`);
    /// a context that does not fit is refused at load.
    pub gpu_memory: Option<usize>,
    /// Threads for candlelight's CPU kernels (`--threads`); `None`: one
    /// per core.
    pub threads: Option<usize>,
    /// How the KV cache stores keys and values (`--cache-type`); q8_0
    /// runs on candlelight's CPU path only.
    pub cache_type: CacheType,
}

/// Replies generated at once on the CPU unless `--parallel` says otherwise.
pub const DEFAULT_PARALLEL: usize = 4;

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            device: DeviceSpec::Cpu,
            ctx_size: None,
            parallel: DEFAULT_PARALLEL,
            model_impl: ModelImpl::Auto,
            gpu_memory: None,
            threads: None,
            cache_type: CacheType::F16,
        }
    }
}

/// The parts of a loaded model that the request side uses (the weights
/// themselves live on the worker thread).
pub struct ModelParts {
    pub info: ModelInfo,
    pub tokenizer: Arc<TextTokenizer>,
    /// The file's chat template (Jinja source); the server compiles it. A
    /// model without one can still complete raw prompts.
    pub template_source: Option<String>,
    /// Grammars for structured output and forced tool calls.
    pub constraints: Arc<Constraints>,
}

/// The tokenizer of a model file, without loading its weights.
pub fn load_tokenizer(path: &Path) -> Result<TextTokenizer, EngineError> {
    TextTokenizer::for_model(path, &GgufFile::open(path)?)
}

/// Which implementation runs the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ModelImpl {
    /// candlelight's own path where the device and the file allow it (our
    /// CPU kernels; `crate::gpu` on CUDA), else candle's models.
    #[default]
    Auto,
    /// candle's quantized models (the reference).
    Candle,
    /// The GPU path's model (`crate::gpu`) on whatever device: on the CPU
    /// it is slow, and it is how tests check it without a GPU.
    Gpu,
}

/// Whether `params` load on candlelight's GPU path (`crate::gpu`): asked
/// for, or on CUDA where the path has the architecture (`log`: say why
/// not, once per load).
fn runs_on_gpu_path(
    params: &Hyperparams,
    model_impl: ModelImpl,
    device: DeviceSpec,
    log: bool,
) -> bool {
    match (model_impl, device) {
        (ModelImpl::Gpu, _) => true,
        (ModelImpl::Auto, DeviceSpec::Cuda(_)) => match crate::gpu::unsupported(params) {
            None => true,
            Some(reason) => {
                if log {
                    tracing::info!(%reason, "using candle's model on the GPU");
                }
                false
            }
        },
        _ => false,
    }
}

/// Bytes of device memory `path` would take on the GPU path with
/// `options` (weights, caches, a forward's transients, the allowance for
/// the context): what a switch compares with what is free. `None` where
/// the model would not run on the GPU path.
pub fn gpu_plan_bytes(path: &Path, options: LoadOptions) -> Result<Option<usize>, EngineError> {
    let gguf = GgufFile::open(path)?;
    let params = Hyperparams::read(&gguf.content)?;
    if !runs_on_gpu_path(&params, options.model_impl, options.device, false) {
        return Ok(None);
    }
    let on_cpu = options.device == DeviceSpec::Cpu;
    let dtype = crate::gpu::activation_dtype(on_cpu, None);
    let context = crate::gpu::context_length(options.ctx_size, &params);
    let footprint = crate::gpu::fit::Footprint::of(&gguf.content, &params, dtype.size_in_bytes());
    Ok(Some(footprint.total(context, options.parallel)))
}

/// Only the weights (after an idle release), on the same terms.
pub fn load_weights(path: &Path, options: LoadOptions) -> Result<Box<dyn BatchModel>, EngineError> {
    weights(path, GgufFile::open(path)?, options)
}

/// The weights on `device`: our own CPU path when possible, candle otherwise.
fn weights(
    path: &Path,
    gguf: GgufFile,
    options: LoadOptions,
) -> Result<Box<dyn BatchModel>, EngineError> {
    let LoadOptions {
        device,
        ctx_size,
        parallel,
        model_impl,
        gpu_memory,
        threads,
        cache_type,
    } = options;
    let params = Hyperparams::read(&gguf.content)?;
    let q8_refused = |why: &str| {
        EngineError::Unsupported(format!(
            "--cache-type q8_0 runs on candlelight's CPU kernels only, and {why}: use \
             --cache-type f16"
        ))
    };
    if runs_on_gpu_path(&params, model_impl, device, true) {
        if cache_type != CacheType::F16 {
            return Err(q8_refused("this model runs on the GPU path"));
        }
        let GgufFile {
            content,
            mut reader,
        } = gguf;
        let device = device.open()?;
        // Without --gpu-memory, plan against what the card has free now.
        let limit = gpu_memory.or_else(|| {
            device
                .is_cuda()
                .then(crate::memory::gpu_free_bytes)
                .flatten()
        });
        let model = GpuModel::load(
            path,
            content,
            &mut reader,
            params,
            &device,
            Capacity {
                ctx_size,
                slots: parallel,
                memory_limit: limit,
                activations: None,
            },
        )?;
        tracing::info!("running on candlelight's GPU path");
        return Ok(Box::new(model));
    }
    let own = device == DeviceSpec::Cpu
        && model_impl == ModelImpl::Auto
        && crate::cpu::quant::has_fast_kernels();
    if own {
        let model = CpuModel::load(
            path,
            gguf.content,
            &params,
            ctx_size,
            parallel,
            threads,
            cache_type,
        );
        match model {
            Ok(model) => {
                tracing::info!(%cache_type, "running on candlelight's CPU kernels");
                return Ok(Box::new(model));
            }
            Err(e) => {
                if cache_type != CacheType::F16 {
                    return Err(e);
                }
                tracing::info!(reason = %e, "using candle's kernels for this model");
                return Ok(Box::new(CandleModel::load(
                    path,
                    GgufFile::open(path)?,
                    &params,
                    &device.open()?,
                    ctx_size,
                )?));
            }
        }
    }
    if cache_type != CacheType::F16 {
        return Err(q8_refused(if device == DeviceSpec::Cpu {
            "this CPU lacks AVX-512 VNNI (candle's kernels run it)"
        } else {
            "this model runs on candle's kernels"
        }));
    }
    Ok(Box::new(CandleModel::load(
        path,
        gguf,
        &params,
        &device.open()?,
        ctx_size,
    )?))
}

/// Reads and checks the file, then loads it. Nothing here panics on a bad
/// file. `ctx_size` caps the context length.
pub fn load_model(
    path: &Path,
    options: LoadOptions,
) -> Result<(ModelParts, Box<dyn BatchModel>), EngineError> {
    let device = options.device;
    let started = Instant::now();
    let gguf = GgufFile::open(path)?;
    let architecture = crate::model_port::architecture(gguf.architecture()?)?
        .name
        .to_string();
    device.open()?;
    let tokenizer = TextTokenizer::for_model(path, &gguf)?;
    let template_source = gguf.str("tokenizer.chat_template").map(str::to_string);
    let words = token_bytes(&gguf)?;
    let model = weights(path, gguf, options)?;
    let shape = model.shape();
    let info = ModelInfo {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string()),
        architecture,
        context_length: shape.context_length,
        slots: shape.slots,
        kv_bytes_per_token: shape.kv_bytes_per_token,
        kv_tokens_that_fit: model.kv_tokens_that_fit(),
        cpu_threads: model.cpu_threads(),
        cache_type: options.cache_type,
        device,
        tokenizer_source: tokenizer.source.clone(),
        speculative: "off".into(),
    };
    tracing::info!(
        model = %info.name,
        architecture = %info.architecture,
        context_length = info.context_length,
        slots = info.slots,
        cache_type = %info.cache_type,
        kv_cache_mib_per_slot = format!(
            "{:.0}",
            (info.kv_bytes_per_token * info.context_length) as f64 / (1 << 20) as f64
        ),
        device = %info.device,
        tokenizer = %info.tokenizer_source,
        seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
        "model loaded"
    );
    let mut tokenizer = tokenizer;
    tokenizer.limit_to_context(info.context_length);
    let tokenizer = Arc::new(tokenizer);
    let parts = ModelParts {
        info,
        constraints: Arc::new(Constraints::new(words, tokenizer.clone())),
        tokenizer,
        template_source,
    };
    Ok((parts, model))
}
