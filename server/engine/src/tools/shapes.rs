//! `synth-gguf --from HEADER --shape qwen2.5-32b`: a random-weight model of
//! a bigger sibling's shape, built from a small model's header (its
//! tokenizer and template) and the sibling's published configuration, with
//! llama.cpp's Q4_K_M mix of quantization types. No header of the 7B or
//! 32B file has to travel to the GPU machine, and the weights are tiles of
//! one random block pattern per type, so 20 GB are written in seconds, not
//! quantized value by value.

use std::{borrow::Cow, fs::File, io::BufWriter, path::Path};

use candle_core::{
    quantized::{gguf_file, GgmlDType, QStorage, QTensor},
    Device, Tensor,
};
use rand::{rngs::StdRng, SeedableRng};
use rand_distr::{Distribution, Normal};

use super::ToolError;

/// A Qwen2.5 size, as its `config.json` on Hugging Face states it (the
/// 0.5B's real header travels instead: its rows are not all multiples of
/// the K-quants' 256).
pub struct QwenShape {
    pub name: &'static str,
    dim: usize,
    layers: usize,
    heads: usize,
    kv_heads: usize,
    ffn: usize,
    vocab: usize,
    tied: bool,
}

pub const SHAPES: &[QwenShape] = &[
    QwenShape {
        name: "qwen2.5-7b",
        dim: 3584,
        layers: 28,
        heads: 28,
        kv_heads: 4,
        ffn: 18_944,
        vocab: 152_064,
        tied: false,
    },
    QwenShape {
        name: "qwen2.5-32b",
        dim: 5120,
        layers: 64,
        heads: 40,
        kv_heads: 8,
        ffn: 27_648,
        vocab: 152_064,
        tied: false,
    },
];

/// One tensor to write: name, type, GGUF dims (rows last, as candle reads them).
type Spec = (String, GgmlDType, Vec<usize>);

impl QwenShape {
    pub fn named(name: &str) -> Result<&'static QwenShape, ToolError> {
        SHAPES.iter().find(|s| s.name == name).ok_or_else(|| {
            let names: Vec<_> = SHAPES.iter().map(|s| s.name).collect();
            ToolError::Invalid(format!(
                "unknown shape `{name}` (known: {})",
                names.join(", ")
            ))
        })
    }

    /// llama.cpp's Q4_K_M: Q4_K everywhere except the value and down
    /// projections of the first and last eighth of the layers and every
    /// third in between (Q6_K), and the output matrix (Q6_K).
    fn more_bits(&self, layer: usize) -> bool {
        let n = self.layers;
        layer < n / 8 || layer >= 7 * n / 8 || (layer - n / 8) % 3 == 2
    }

    fn tensors(&self) -> Vec<Spec> {
        use GgmlDType::{F32, Q4K, Q6K};
        let (d, kv) = (self.dim, self.kv_heads * (self.dim / self.heads));
        let mut specs: Vec<Spec> = vec![
            ("token_embd.weight".into(), Q4K, vec![self.vocab, d]),
            ("output_norm.weight".into(), F32, vec![d]),
        ];
        if !self.tied {
            specs.push(("output.weight".into(), Q6K, vec![self.vocab, d]));
        }
        for i in 0..self.layers {
            let wide = if self.more_bits(i) { Q6K } else { Q4K };
            let p = |t: &str| format!("blk.{i}.{t}");
            specs.extend([
                (p("attn_norm.weight"), F32, vec![d]),
                (p("attn_q.weight"), Q4K, vec![d, d]),
                (p("attn_q.bias"), F32, vec![d]),
                (p("attn_k.weight"), Q4K, vec![kv, d]),
                (p("attn_k.bias"), F32, vec![kv]),
                (p("attn_v.weight"), wide, vec![kv, d]),
                (p("attn_v.bias"), F32, vec![kv]),
                (p("attn_output.weight"), Q4K, vec![d, d]),
                (p("ffn_norm.weight"), F32, vec![d]),
                (p("ffn_gate.weight"), Q4K, vec![self.ffn, d]),
                (p("ffn_up.weight"), Q4K, vec![self.ffn, d]),
                (p("ffn_down.weight"), wide, vec![d, self.ffn]),
            ]);
        }
        specs
    }

    /// The source header's metadata with this shape's sizes.
    fn metadata(
        &self,
        source: &gguf_file::Content,
    ) -> Result<Vec<(String, gguf_file::Value)>, ToolError> {
        use gguf_file::Value;
        let arch = source
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok());
        if arch.map(String::as_str) != Some("qwen2") {
            return Err(ToolError::Invalid(
                "--shape needs a qwen2 header to start from".into(),
            ));
        }
        let mut metadata: Vec<(String, Value)> = source
            .metadata
            .iter()
            .filter(|(k, _)| !k.starts_with("qwen2.") && k.as_str() != "general.name")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let u = |n: usize| Value::U32(n as u32);
        metadata.extend([
            (
                "general.name".to_string(),
                Value::String(format!("{} (random weights)", self.name)),
            ),
            ("qwen2.embedding_length".into(), u(self.dim)),
            ("qwen2.block_count".into(), u(self.layers)),
            ("qwen2.attention.head_count".into(), u(self.heads)),
            ("qwen2.attention.head_count_kv".into(), u(self.kv_heads)),
            ("qwen2.feed_forward_length".into(), u(self.ffn)),
            ("qwen2.context_length".into(), u(32_768)),
            ("qwen2.rope.freq_base".into(), Value::F32(1_000_000.0)),
            (
                "qwen2.attention.layer_norm_rms_epsilon".into(),
                Value::F32(1e-6),
            ),
        ]);
        Ok(metadata)
    }
}

/// Bytes of one random pattern of `dtype` blocks (64 Ki values), repeated
/// to fill each tensor of that type.
fn pattern(dtype: GgmlDType, rng: &mut StdRng) -> candle_core::Result<Vec<u8>> {
    let normal = Normal::new(0.0f32, 0.02).map_err(candle_core::Error::wrap)?;
    let values: Vec<f32> = (0..65_536).map(|_| normal.sample(rng)).collect();
    let q = QTensor::quantize(&Tensor::from_vec(values, 65_536, &Device::Cpu)?, dtype)?;
    Ok(q.data()?.into_owned())
}

fn tiled(dtype: GgmlDType, dims: &[usize], pattern: &[u8]) -> candle_core::Result<QTensor> {
    let elems: usize = dims.iter().product();
    let bytes = elems / dtype.block_size() * dtype.type_size();
    let data: Vec<u8> = pattern.iter().copied().cycle().take(bytes).collect();
    QTensor::new(
        QStorage::from_data(Cow::Owned(data), &Device::Cpu, dtype)?,
        dims,
    )
}

/// Writes the model; returns how many tensors it has.
pub fn write_shape(
    source: &gguf_file::Content,
    shape: &QwenShape,
    out: &Path,
    seed: u64,
) -> Result<usize, ToolError> {
    let invalid = |e: candle_core::Error| ToolError::Invalid(e.to_string());
    let metadata = shape.metadata(source)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let q4 = pattern(GgmlDType::Q4K, &mut rng).map_err(invalid)?;
    let q6 = pattern(GgmlDType::Q6K, &mut rng).map_err(invalid)?;
    let mut tensors = Vec::new();
    for (name, dtype, dims) in shape.tensors() {
        let tensor = match dtype {
            GgmlDType::Q4K => tiled(dtype, &dims, &q4),
            GgmlDType::Q6K => tiled(dtype, &dims, &q6),
            // Norms one, biases zero.
            _ => Tensor::full(
                if name.contains("norm") { 1f32 } else { 0.0 },
                dims.as_slice(),
                &Device::Cpu,
            )
            .and_then(|t| QTensor::quantize(&t, dtype)),
        }
        .map_err(invalid)?;
        tensors.push((name, tensor));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> =
        metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let file = File::create(out).map_err(|e| ToolError::File {
        path: out.display().to_string(),
        reason: e.to_string(),
    })?;
    gguf_file::write(&mut BufWriter::new(file), &metadata, &tensor_refs).map_err(|e| {
        ToolError::File {
            path: out.display().to_string(),
            reason: e.to_string(),
        }
    })?;
    Ok(tensors.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_32b_q4_k_m_mix_is_the_published_files_size() {
        // Qwen2.5-32B-Instruct-Q4_K_M.gguf holds 19.85 GB of weights.
        let shape = QwenShape::named("qwen2.5-32b").unwrap();
        let bytes: usize = shape
            .tensors()
            .iter()
            .map(|(_, t, dims)| dims.iter().product::<usize>() / t.block_size() * t.type_size())
            .sum();
        let gb = bytes as f64 / 1e9;
        assert!((18.5..21.0).contains(&gb), "{gb} GB");
        assert!(QwenShape::named("qwen2.5-70b").is_err());
    }
}
