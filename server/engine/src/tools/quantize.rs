//! `candlelight quantize`: rewrites a GGUF with every weight matrix in one
//! format (e.g. Q8_0 for the benchmark's second file of each model, or F32
//! for an exact reference). Norms and other 1-D tensors keep their type.

use std::{
    fs::File,
    io::{BufReader, BufWriter},
    path::PathBuf,
};

use candle_core::{
    quantized::{gguf_file, GgmlDType, QTensor},
    Device,
};

use super::ToolError;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Target {
    Q8_0,
    Q4_0,
    /// Q5_K for matrices whose rows are whole 256-value super-blocks; the
    /// others keep their format.
    #[value(name = "q5-k")]
    Q5K,
    F16,
    F32,
}

impl Target {
    fn dtype(self) -> GgmlDType {
        match self {
            Target::Q8_0 => GgmlDType::Q8_0,
            Target::Q4_0 => GgmlDType::Q4_0,
            Target::Q5K => GgmlDType::Q5K,
            Target::F16 => GgmlDType::F16,
            Target::F32 => GgmlDType::F32,
        }
    }

    /// llama.cpp's `general.file_type` for a file mostly in this format.
    fn file_type(self) -> u32 {
        match self {
            Target::F32 => 0,
            Target::F16 => 1,
            Target::Q4_0 => 2,
            Target::Q8_0 => 7,
            Target::Q5K => 16,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct QuantizeArgs {
    /// The GGUF to convert.
    #[arg(long)]
    pub model: PathBuf,
    /// Where to write the result.
    #[arg(long)]
    pub out: PathBuf,
    /// The format for every weight matrix.
    #[arg(long, value_enum)]
    pub to: Target,
}

fn io_error(path: &std::path::Path, e: impl std::fmt::Display) -> ToolError {
    ToolError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Converts the file; returns how many tensors were requantized.
pub fn run(args: &QuantizeArgs) -> Result<usize, ToolError> {
    let mut reader = BufReader::new(File::open(&args.model).map_err(|e| io_error(&args.model, e))?);
    let content = gguf_file::Content::read(&mut reader).map_err(|e| io_error(&args.model, e))?;
    let target = args.to.dtype();
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors = Vec::with_capacity(names.len());
    let mut converted = 0;
    for name in names {
        let q = content
            .tensor(&mut reader, name, &Device::Cpu)
            .map_err(|e| io_error(&args.model, e))?;
        let is_matrix =
            q.shape().dims().len() == 2 && q.shape().dims()[1] % target.block_size() == 0;
        let q = if is_matrix && q.dtype() != target {
            converted += 1;
            let values = q
                .dequantize(&Device::Cpu)
                .map_err(|e| ToolError::Invalid(format!("{name}: {e}")))?;
            QTensor::quantize(&values, target)
                .map_err(|e| ToolError::Invalid(format!("{name}: {e}")))?
        } else {
            q
        };
        tensors.push((name.clone(), q));
    }
    let mut metadata: Vec<(&str, gguf_file::Value)> = content
        .metadata
        .iter()
        .filter(|(k, _)| k.as_str() != "general.file_type")
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    metadata.push((
        "general.file_type",
        gguf_file::Value::U32(args.to.file_type()),
    ));
    let metadata_refs: Vec<(&str, &gguf_file::Value)> =
        metadata.iter().map(|(k, v)| (*k, v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut out = BufWriter::new(File::create(&args.out).map_err(|e| io_error(&args.out, e))?);
    gguf_file::write(&mut out, &metadata_refs, &tensor_refs).map_err(|e| io_error(&args.out, e))?;
    Ok(converted)
}
