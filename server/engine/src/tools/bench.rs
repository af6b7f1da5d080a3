//! `candlelight bench`: prompt and decode speed, time to first token and
//! memory for one model file, printed as text and as one JSON line.

use std::{path::PathBuf, time::Instant};

use domain::CacheType;
use serde::Serialize;

use super::ToolError;
use crate::memory;
use crate::{load_model, BatchModel, DeviceSpec, LoadOptions, ModelImpl, ModelParts, SeqChunk};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// GGUF model file.
    #[arg(long)]
    pub model: PathBuf,
    /// Prompt length, in tokens.
    #[arg(long, default_value_t = 512)]
    pub prompt_tokens: usize,
    /// Tokens to generate after the prompt.
    #[arg(long, default_value_t = 128)]
    pub gen_tokens: usize,
    /// CPU threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceSpec,
    /// Run candle's kernels (the reference) instead of candlelight's own.
    #[arg(long)]
    pub reference: bool,
    /// Measured rounds after one warm-up; medians are reported.
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Sequences decoded together in one batch (each its own slot); the
    /// decode speed is then the aggregate of all of them.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Decode after this many tokens of context already in each slot
    /// (llama-bench's -d): decode speed at a long context.
    #[arg(long, default_value_t = 0)]
    pub depth: usize,
    /// Caps each slot's context (default: the model's).
    #[arg(long)]
    pub ctx_size: Option<usize>,
    /// GPU memory (GiB) for the load plan, as the server's --gpu-memory.
    #[arg(long)]
    pub gpu_memory: Option<f64>,
    /// How the KV cache stores keys and values: f16 or q8_0.
    #[arg(long, default_value = "f16")]
    pub cache_type: CacheType,
}

#[derive(Debug, Serialize)]
pub struct BenchResult {
    pub model: String,
    pub device: String,
    pub threads: usize,
    pub prompt_tokens: usize,
    pub gen_tokens: usize,
    pub batch: usize,
    /// Tokens of context before the decode.
    pub depth: usize,
    pub cache_type: CacheType,
    pub load_seconds: f64,
    pub prompt_tokens_per_second: f64,
    pub decode_tokens_per_second: f64,
    pub time_to_first_token_ms: f64,
    pub peak_rss_mib: Option<f64>,
    pub gpu_memory_mib: Option<f64>,
    /// What the KV caches of every slot took at the end (0 where the
    /// backend cannot tell).
    pub kv_cache_mib: f64,
}

/// Text that tokenizes to a realistic mix: prose, code and numbers.
const FILLER: &str = "The lighthouse keeper wrote in her log every evening, noting the wind, \
the ships that passed and the colour of the sea. fn fibonacci(n: u64) -> u64 { if n < 2 { n } \
else { fibonacci(n - 1) + fibonacci(n - 2) } } In 1887 the lamp burned 2,430 litres of oil. ";

pub fn run(args: &BenchArgs) -> Result<BenchResult, ToolError> {
    if args.prompt_tokens == 0 || args.gen_tokens == 0 || args.repeats == 0 {
        return Err(ToolError::Invalid(
            "--prompt-tokens, --gen-tokens and --repeats must be at least 1".into(),
        ));
    }
    let gpu_before = memory::gpu_used_mib();
    let started = Instant::now();
    let mut options = one_sequence(args.device, args.reference);
    options.parallel = args.batch.max(1);
    options.ctx_size = args.ctx_size;
    options.gpu_memory = args.gpu_memory.map(crate::memory::gib_to_bytes);
    options.cache_type = args.cache_type;
    let (parts, mut model) = load_model(&args.model, options)?;
    let batch = args.batch.clamp(1, model.shape().slots);
    let load_seconds = started.elapsed().as_secs_f64();
    let context = model.shape().context_length;
    let longest = args.prompt_tokens.max(args.depth) + args.gen_tokens;
    if longest > context {
        return Err(ToolError::Invalid(format!(
            "prompt (or depth) plus generated tokens ({longest}) exceed the context ({context})",
        )));
    }
    let prompt = prompt_tokens(&parts, args.prompt_tokens)?;
    let depth = prompt_tokens(&parts, args.depth)?;
    // The warm-up runs the kernels once, without filling the depth.
    let warm_up = Decode {
        gen: args.gen_tokens.min(4),
        batch,
        context: &[],
    };
    round(model.as_mut(), &prompt, &warm_up)?;
    let mut rounds = Vec::new();
    for _ in 0..args.repeats {
        let decode = Decode {
            gen: args.gen_tokens,
            batch,
            context: &depth,
        };
        rounds.push(round(model.as_mut(), &prompt, &decode)?);
    }
    let median = |f: fn(&Round) -> f64| {
        let mut v: Vec<f64> = rounds.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok(BenchResult {
        model: parts.info.name.clone(),
        device: parts.info.device.to_string(),
        threads: candle_core::utils::get_num_threads(),
        prompt_tokens: args.prompt_tokens,
        gen_tokens: args.gen_tokens,
        batch,
        depth: args.depth,
        cache_type: args.cache_type,
        load_seconds,
        prompt_tokens_per_second: median(|r| r.prompt_tps),
        decode_tokens_per_second: median(|r| r.decode_tps),
        time_to_first_token_ms: median(|r| r.ttft_ms),
        peak_rss_mib: memory::peak_rss_mib(),
        gpu_memory_mib: memory::gpu_used_mib().map(|after| after - gpu_before.unwrap_or(0.0)),
        kv_cache_mib: model.cache_bytes() as f64 / (1 << 20) as f64,
    })
}

/// Prints the result for people, then as one JSON line for scripts.
pub fn print(r: &BenchResult) {
    println!(
        "model:   {} on {} ({} threads)",
        r.model, r.device, r.threads
    );
    println!(
        "kv cache: {}, {:.0} MiB at the end",
        r.cache_type, r.kv_cache_mib
    );
    println!(
        "prompt:  {} tokens at {:.1} tok/s",
        r.prompt_tokens, r.prompt_tokens_per_second
    );
    let after = if r.depth > 0 {
        format!(" after {} tokens of context", r.depth)
    } else {
        String::new()
    };
    if r.batch > 1 {
        println!(
            "decode:  {} tokens in each of {} sequences{after} at {:.1} tok/s together",
            r.gen_tokens, r.batch, r.decode_tokens_per_second
        );
    } else {
        println!(
            "decode:  {} tokens{after} at {:.1} tok/s",
            r.gen_tokens, r.decode_tokens_per_second
        );
    }
    println!("ttft:    {:.0} ms", r.time_to_first_token_ms);
    if let Some(rss) = r.peak_rss_mib {
        println!("peak rss: {rss:.0} MiB");
    }
    if let Some(gpu) = r.gpu_memory_mib {
        println!("gpu memory: {gpu:.0} MiB");
    }
    println!("{}", serde_json::to_string(r).unwrap_or_default());
}

struct Round {
    prompt_tps: f64,
    decode_tps: f64,
    ttft_ms: f64,
}

/// The decode half of a round: `gen` tokens for each of `batch` slots,
/// after `context` (read first, untimed; empty: from position 0).
#[derive(Clone, Copy)]
struct Decode<'a> {
    gen: usize,
    batch: usize,
    context: &'a [u32],
}

/// One measurement, as llama-bench makes them: the prompt processed in one
/// go from an empty cache, and separately `gen` tokens generated one at a
/// time after the decode's context (llama-bench's depth), by `batch`
/// sequences stepped together (each in its own slot).
fn round(model: &mut dyn BatchModel, prompt: &[u32], decode: &Decode) -> Result<Round, ToolError> {
    let Decode {
        gen,
        batch,
        context,
    } = *decode;
    let start = Instant::now();
    let logits = model.forward_one(0, prompt, 0)?;
    let _first = argmax(&logits);
    let prefill = start.elapsed().as_secs_f64();
    if !context.is_empty() {
        for slot in 0..batch {
            model.forward_one(slot, context, 0)?;
        }
    }
    let depth = context.len();

    let decode_start = Instant::now();
    let mut tokens: Vec<u32> = (0..batch).map(|b| prompt[b % prompt.len()]).collect();
    for pos in 0..gen {
        let chunks: Vec<SeqChunk> = tokens
            .iter()
            .enumerate()
            .map(|(slot, t)| SeqChunk {
                slot,
                tokens: std::slice::from_ref(t),
                start: depth + pos,
                logits: true,
                all_logits: false,
                exact: false,
            })
            .collect();
        let logits = model.forward(&chunks)?;
        tokens = logits.iter().map(|l| argmax(l)).collect();
    }
    let decode = decode_start.elapsed().as_secs_f64();
    Ok(Round {
        prompt_tps: prompt.len() as f64 / prefill.max(1e-9),
        decode_tps: (gen * batch) as f64 / decode.max(1e-9),
        ttft_ms: prefill * 1000.0,
    })
}

fn argmax(logits: &[f32]) -> u32 {
    logits
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i as u32)
}

fn prompt_tokens(parts: &ModelParts, n: usize) -> Result<Vec<u32>, ToolError> {
    let mut text = String::new();
    let mut ids = Vec::new();
    while ids.len() < n {
        text.push_str(FILLER);
        ids = parts.tokenizer.encode(&text)?;
    }
    ids.truncate(n);
    Ok(ids)
}

/// One sequence slot on `device`, on candle's kernels with `reference`.
pub fn one_sequence(device: DeviceSpec, reference: bool) -> LoadOptions {
    LoadOptions {
        device,
        ctx_size: None,
        parallel: 1,
        model_impl: if reference {
            ModelImpl::Candle
        } else {
            ModelImpl::Auto
        },
        ..LoadOptions::default()
    }
}
