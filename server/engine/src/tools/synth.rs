//! `candlelight gguf-header` and `candlelight synth-gguf`: a model with the
//! same tensors (names, shapes, quantization types) and metadata as a real
//! one but random weights. It runs at the real model's speed, so a GPU
//! machine that cannot receive a 500 MB file can still measure at its shape:
//! only the small header travels.

use std::{
    fs::File,
    io::{BufReader, Read, Write},
    path::{Path, PathBuf},
};

use candle_core::{
    quantized::{gguf_file, GgmlDType, QTensor},
    Device, Tensor,
};
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

use super::ToolError;

#[derive(clap::Args, Debug)]
pub struct HeaderArgs {
    /// GGUF model file.
    #[arg(long)]
    pub model: PathBuf,
    /// Where to write the header (metadata and tensor list, no weights).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct SynthArgs {
    /// A GGUF file or just its header (from `gguf-header`).
    #[arg(long, required_unless_present = "arch", conflicts_with = "arch")]
    pub from: Option<PathBuf>,
    /// Instead: a tiny model of this architecture (llama, qwen2, qwen3,
    /// qwen3moe, gemma3, phi3), for tests where no small real file exists.
    #[arg(long)]
    pub arch: Option<String>,
    /// With --from a qwen2 header: a model of this bigger sibling's shape
    /// instead (qwen2.5-7b, qwen2.5-32b), in llama.cpp's Q4_K_M mix.
    #[arg(long, requires = "from")]
    pub shape: Option<String>,
    /// Where to write the random-weight model.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> ToolError {
    ToolError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn read_header(path: &Path) -> Result<(gguf_file::Content, u64), ToolError> {
    let mut reader = BufReader::new(File::open(path).map_err(|e| file_error(path, e))?);
    let content = gguf_file::Content::read(&mut reader).map_err(|e| file_error(path, e))?;
    let offset = content.tensor_data_offset;
    Ok((content, offset))
}

pub fn write_header(args: &HeaderArgs) -> Result<u64, ToolError> {
    let (_, offset) = read_header(&args.model)?;
    let mut bytes = Vec::with_capacity(offset as usize);
    File::open(&args.model)
        .and_then(|f| f.take(offset).read_to_end(&mut bytes))
        .map_err(|e| file_error(&args.model, e))?;
    File::create(&args.out)
        .and_then(|mut f| f.write_all(&bytes))
        .map_err(|e| file_error(&args.out, e))?;
    Ok(offset)
}

/// Writes the random-weight model; returns how many tensors it has.
pub fn synthesize(args: &SynthArgs) -> Result<usize, ToolError> {
    let from = match (&args.from, &args.arch) {
        (_, Some(arch)) => return super::tiny::write_tiny(arch, &args.out, args.seed),
        (Some(from), None) => from,
        (None, None) => return Err(ToolError::Invalid("give --from or --arch".into())),
    };
    let (content, _) = read_header(from)?;
    if let Some(name) = &args.shape {
        let shape = super::shapes::QwenShape::named(name)?;
        return super::shapes::write_shape(&content, shape, &args.out, args.seed);
    }
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors = Vec::with_capacity(names.len());
    for name in &names {
        let info = &content.tensor_infos[*name];
        let tensor = random_tensor(name, info.shape.dims(), info.ggml_dtype, &mut rng)
            .map_err(|e| ToolError::Invalid(format!("tensor {name}: {e}")))?;
        tensors.push((name.as_str(), tensor));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    let mut out = File::create(&args.out).map_err(|e| file_error(&args.out, e))?;
    gguf_file::write(&mut out, &metadata, &tensor_refs).map_err(|e| file_error(&args.out, e))?;
    Ok(tensors.len())
}

/// Weights like a freshly initialised network: norms near one, everything
/// else small and centred, quantized to the original type.
fn random_tensor(
    name: &str,
    dims: &[usize],
    dtype: GgmlDType,
    rng: &mut StdRng,
) -> candle_core::Result<QTensor> {
    let count: usize = dims.iter().product();
    let values: Vec<f32> = if name.contains("norm") {
        (0..count)
            .map(|_| 1.0 + rng.random_range(-0.05..0.05))
            .collect()
    } else {
        let normal = Normal::new(0.0f32, 0.02).map_err(candle_core::Error::wrap)?;
        (0..count).map(|_| normal.sample(rng)).collect()
    };
    let tensor = Tensor::from_vec(values, dims, &Device::Cpu)?;
    QTensor::quantize(&tensor, dtype)
}
