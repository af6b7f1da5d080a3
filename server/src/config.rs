//! Command-line flags, named as text-generation-webui names them so its users
//! feel at home. Every flag can also be set through an environment variable.
//! The doc comments below are the `--help` text.

use std::{net::IpAddr, path::PathBuf};

use clap::{Parser, Subcommand};

use crate::tools::{
    bench::BenchArgs,
    bench_serve::BenchServeArgs,
    complete::CompleteArgs,
    prefix_bench::PrefixBenchArgs,
    quantize::QuantizeArgs,
    synth::{HeaderArgs, SynthArgs},
};
use domain::MAX_THREADS;
use engine::DeviceSpec;

/// candlelight: a chat UI for local language models, in one binary. Without
/// a subcommand it serves the web app and the API.
#[derive(Debug, Parser)]
#[command(name = "candlelight", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure prompt and decode speed, time to first token and memory of a model.
    Bench(BenchArgs),
    /// Measure many streams at once against a server (or a model served in-process).
    BenchServe(BenchServeArgs),
    /// Print the greedy reply to one message as token ids (to compare devices).
    Complete(CompleteArgs),
    /// Copy a GGUF file's header (metadata and tensor list, no weights).
    GgufHeader(HeaderArgs),
    /// Write a model with a GGUF's tensors and metadata but random weights.
    SynthGguf(SynthArgs),
    /// Rewrite a GGUF with every weight matrix in one format (e.g. q8-0).
    Quantize(QuantizeArgs),
    /// Time to first token of a chat's first and second turn (the prefix cache).
    BenchPrefix(PrefixBenchArgs),
    /// Greedy decode with speculative decoding off and ngram, side by side.
    BenchSpeculative(crate::tools::speculative_bench::SpeculativeBenchArgs),
    /// What choosing a token costs: the sampler's fast path beside the reference.
    BenchSampler(engine::tools::sampler_bench::SamplerBenchArgs),
    /// Render chat templates sent on standard input (the server starts
    /// these itself, each with a capped heap).
    #[command(hide = true)]
    TemplateWorker,
    /// Read the text of PDF and docx files sent on standard input (the
    /// server starts these itself, each with a capped heap).
    #[command(hide = true)]
    DocumentWorker,
}

/// Where replies are generated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// The in-process candle engine.
    Local,
    /// Any OpenAI-compatible server (vLLM, TGI, llama-server, candlelight).
    Openai,
}

/// Flags for serving (the default command).
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// GGUF model to load: a path, or a file name in --model-dir
    /// (architectures: llama, qwen2).
    #[arg(
        long,
        env = "CANDLELIGHT_MODEL",
        default_value = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    )]
    pub model: PathBuf,

    /// Folder of GGUF files, listed on the Model tab.
    #[arg(long, env = "CANDLELIGHT_MODEL_DIR", default_value = "models")]
    pub model_dir: PathBuf,

    /// Listen on every network interface (0.0.0.0). Without --auth, a random
    /// access token is then required; the link printed at start carries it.
    #[arg(long, env = "CANDLELIGHT_LISTEN")]
    pub listen: bool,

    /// Address to listen on (default 127.0.0.1, or 0.0.0.0 with --listen).
    #[arg(long, env = "CANDLELIGHT_LISTEN_HOST")]
    pub listen_host: Option<IpAddr>,

    /// Port to listen on (text-generation-webui's default).
    #[arg(long, env = "CANDLELIGHT_LISTEN_PORT", default_value_t = 7860)]
    pub listen_port: u16,

    /// Where the model runs: cpu, cuda or cuda:N.
    #[arg(long, env = "CANDLELIGHT_DEVICE", default_value = "cpu")]
    pub device: DeviceSpec,

    /// Caps the context length of each reply (and the memory its cache
    /// takes), in tokens.
    #[arg(long, env = "CANDLELIGHT_CTX_SIZE")]
    pub ctx_size: Option<usize>,

    /// Replies generated at once (continuous batching); more wait in the
    /// queue. Each has a KV cache slot of its own that holds up to
    /// --ctx-size tokens and grows as it is used, so the cache can take up
    /// to parallel × ctx-size tokens' worth of memory (the Model tab shows
    /// the size per token). On the CPU, what the running replies leave of
    /// that memory keeps earlier prompts (up to 8 more caches, least
    /// recently used freed first), which any new request copies its longest
    /// cached prefix from: a second chat with the same character, an
    /// Impersonate, `n` choices read a shared prompt once. On CUDA (llama, qwen2, qwen3) the slots are
    /// allocated at load, so fit them with --gpu-memory. candle's own models
    /// (CPUs without AVX-512 VNNI, other architectures on CUDA) run one
    /// reply at a time.
    #[arg(long, env = "CANDLELIGHT_PARALLEL", default_value_t = engine::DEFAULT_PARALLEL,
          value_parser = parse_parallel)]
    pub parallel: usize,

    /// Threads candlelight's CPU kernels run on (text-generation-webui's
    /// `--threads`); one per core by default. Fewer leave cores to other
    /// programs. candle's fallback kernels (CPUs without AVX-512 VNNI)
    /// follow RAYON_NUM_THREADS instead.
    #[arg(long, env = "CANDLELIGHT_THREADS", value_parser = parse_threads)]
    pub threads: Option<usize>,

    /// How the KV cache stores keys and values (llama.cpp's and
    /// text-generation-webui's `--cache-type`): f16, or q8_0, which holds
    /// a long chat in about half the memory at a small cost in precision
    /// (candlelight's CPU kernels only; elsewhere the load says so).
    #[arg(long, env = "CANDLELIGHT_CACHE_TYPE", default_value = "f16")]
    pub cache_type: domain::CacheType,

    /// GPU memory (GiB) the model may use, weights and KV caches together;
    /// a --ctx-size × --parallel that does not fit is refused at load with
    /// the number of tokens that would (emulate a 24 GB card on a bigger
    /// one with --gpu-memory 24).
    #[arg(long, env = "CANDLELIGHT_GPU_MEMORY", value_parser = parse_gib)]
    pub gpu_memory: Option<f64>,

    /// Speculative decoding: up to 7 tokens are drafted and the model
    /// checks them in one step; the text is what `off` gives. `ngram`
    /// drafts from the prompt and the reply so far (llama.cpp's prompt
    /// lookup): faster where a reply repeats its prompt (editing code,
    /// quoting). A `.gguf` path drafts with that small model, which must
    /// share the model's vocabulary (Qwen2.5-0.5B for a Qwen2.5-32B).
    /// candlelight's CPU kernels and GPU model (not candle's own models).
    #[arg(long, env = "CANDLELIGHT_SPECULATIVE", default_value = "off")]
    pub speculative: engine::Speculative,

    /// How many requests may wait for the model; more are refused as busy.
    #[arg(long, env = "CANDLELIGHT_QUEUE_SIZE", default_value_t = 16)]
    pub queue_size: usize,

    /// Folder for characters, presets, instruction templates and chat logs
    /// (text-generation-webui's layout: point it at an existing TGW folder).
    #[arg(long, env = "CANDLELIGHT_USER_DATA_DIR", default_value = "user_data")]
    pub user_data_dir: PathBuf,

    /// Require this key as `Authorization: Bearer KEY` on every /v1 request.
    /// A value on the command line shows in `ps`: prefer the environment
    /// variable or --api-key-file.
    #[arg(long, env = "CANDLELIGHT_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// Read the API key from this file (its first line).
    #[arg(long, env = "CANDLELIGHT_API_KEY_FILE", conflicts_with = "api_key")]
    pub api_key_file: Option<PathBuf>,

    /// Allow this one browser origin to call the API (CORS), e.g. http://localhost:3000.
    #[arg(long, env = "CANDLELIGHT_API_CORS")]
    pub api_cors: Option<String>,

    /// Require a login: user:password (repeatable). Each user has chats of
    /// their own. A value on the command line shows in `ps`: prefer the
    /// environment variable or --auth-file.
    #[arg(
        long,
        env = "CANDLELIGHT_AUTH",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub auth: Vec<String>,

    /// A file of user:password lines for the login.
    #[arg(long, env = "CANDLELIGHT_AUTH_FILE")]
    pub auth_file: Option<PathBuf>,

    /// How long a login lasts, in hours.
    #[arg(long, env = "CANDLELIGHT_SESSION_HOURS", default_value_t = crate::DEFAULT_SESSION_HOURS)]
    pub session_hours: u64,

    /// Also accept this host name (repeatable). Without --listen's token or
    /// --auth, only loopback names are accepted, so that other web sites
    /// cannot reach this server through DNS rebinding; add the name you
    /// open it by (a LAN name, an SSH tunnel's) here.
    #[arg(long, env = "CANDLELIGHT_ALLOWED_HOST", value_delimiter = ',')]
    pub allowed_host: Vec<String>,

    /// Release the model's weights after this many idle minutes; the next
    /// request loads them again.
    #[arg(long, env = "CANDLELIGHT_IDLE_TIMEOUT")]
    pub idle_timeout: Option<u64>,

    /// Hugging Face (or a mirror with the same layout) for downloads.
    #[arg(long, env = "HF_ENDPOINT", default_value = "https://huggingface.co")]
    pub hf_endpoint: String,

    /// Where replies are generated.
    #[arg(long, env = "CANDLELIGHT_BACKEND", value_enum, default_value_t = BackendKind::Local)]
    pub backend: BackendKind,

    /// The OpenAI-compatible server for --backend openai, e.g. http://10.0.0.5:8000.
    #[arg(long, env = "CANDLELIGHT_BACKEND_URL")]
    pub backend_url: Option<String>,

    /// Its API key, if it needs one (prefer the environment variable: a
    /// value on the command line shows in `ps`).
    #[arg(long, env = "CANDLELIGHT_BACKEND_KEY", hide_env_values = true)]
    pub backend_key: Option<String>,

    /// Serve the web app from this folder (`make site` builds it in
    /// target/site) instead of the copy inside the binary: for
    /// development.
    #[arg(long, env = "LEPTOS_SITE_ROOT")]
    pub site_root: Option<PathBuf>,
}

impl ServeArgs {
    /// `--gpu-memory` in bytes.
    pub fn gpu_memory_bytes(&self) -> Option<usize> {
        self.gpu_memory.map(engine::memory::gib_to_bytes)
    }
}

/// `--gpu-memory`: a positive number of GiB.
fn parse_gib(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(g) if g > 0.0 && g < 65536.0 => Ok(g),
        _ => Err(format!("`{text}` is not a size in GiB, such as 24 or 79.5")),
    }
}

/// `--parallel`: 1 to 64 replies at once.
/// `--threads`: 1 to 256.
fn parse_threads(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_THREADS as usize).contains(&n) => Ok(n),
        _ => Err(format!("`{text}` is not a number from 1 to {MAX_THREADS}")),
    }
}

fn parse_parallel(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=64).contains(&n) => Ok(n),
        _ => Err(format!("`{text}` is not a number from 1 to 64")),
    }
}
