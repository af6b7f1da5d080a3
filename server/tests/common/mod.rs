//! Helpers shared by the integration tests: the model files that
//! `make test` fetches (scripts/fetch-models.sh) and a way to collect a reply.

#![allow(dead_code)]

use std::path::PathBuf;

use domain::GenerationParams;
use engine::{
    Cancel, DeviceSpec, Engine, EngineEvent, EngineOptions, FinishReason, GenerationJob,
    GenerationStats, LoadOptions,
};
use server::ChatTemplate;

/// A test that cannot run here says so loudly and is counted: `make test`
/// prints the list of skips after the cargo tests (see the Makefile).
pub fn skip(test: &str, reason: &str) {
    use std::io::Write;
    eprintln!("SKIPPED {test}: {reason}");
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("skipped-tests.txt");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        let _ = writeln!(f, "{test}: {reason}");
    }
}

/// Skips loudly where our own CPU kernels cannot run (no AVX-512 VNNI):
/// candle's stand-in runs one sequence at a time and keeps no prefix, so
/// tests of batching and the prefix cache would test nothing.
pub fn fast_kernels_or_skip(test: &str) -> bool {
    if engine::cpu::quant::has_fast_kernels() {
        return true;
    }
    skip(
        test,
        "this CPU lacks AVX-512 VNNI: candle's one-sequence path runs instead",
    );
    false
}

pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel)
}

fn required(rel: &str) -> PathBuf {
    let path = repo_path(rel);
    assert!(
        path.is_file(),
        "{} is missing: run `scripts/fetch-models.sh all` (make test does this)",
        path.display()
    );
    path
}

pub fn smollm2_path() -> PathBuf {
    required("models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

pub fn qwen_path() -> PathBuf {
    required("models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
}

/// Gemma 3 270M (a base model: gemma3 architecture, SentencePiece vocabulary).
pub fn gemma_path() -> PathBuf {
    required("models/gemma-3-270m-q4_k_m.gguf")
}

pub fn reference_tokenizer_path() -> PathBuf {
    required("models/reference/qwen-tokenizer.json")
}

/// An engine on the CPU with `parallel` slots and `queue` waiting places.
pub fn cpu_engine(path: &std::path::Path, parallel: usize, queue: usize) -> Engine {
    Engine::load(
        path,
        EngineOptions {
            load: LoadOptions {
                device: DeviceSpec::Cpu,
                parallel,
                ..LoadOptions::default()
            },
            queue_capacity: queue,
            ..EngineOptions::default()
        },
    )
}

/// A finished reply: each text event as it came, and how it ended.
pub struct Reply {
    pub pieces: Vec<String>,
    pub finish: FinishReason,
    pub stats: GenerationStats,
}

impl Reply {
    pub fn text(&self) -> String {
        self.pieces.concat()
    }
}

/// The job the Chat tab would send for one user message, rendered with the
/// model's own template.
pub fn chat_job(engine: &Engine, user: &str, params: GenerationParams) -> GenerationJob {
    use domain::{ChatMessage, Role};
    let model = engine.model().expect("model loaded");
    let template = ChatTemplate::of_model(&model).expect("model has a chat template");
    let prompt = template
        .render(&[ChatMessage::new(Role::User, user)], true)
        .expect("template renders");
    let params = params.validate().expect("valid parameters");
    server::generation_job(
        model.tokenizer.encode(&prompt).expect("prompt encodes"),
        &params,
        params.custom_stopping_strings.clone(),
        model.tokenizer.eos_ids().to_vec(),
    )
}

pub async fn collect(engine: &Engine, job: GenerationJob) -> Reply {
    let mut stream = engine
        .submitter()
        .submit(job, Cancel::default())
        .expect("job accepted");
    let mut pieces = Vec::new();
    while let Some(event) = stream.recv().await {
        match event {
            EngineEvent::Text(t) => pieces.push(t),
            EngineEvent::Finished { reason, stats } => {
                return Reply {
                    pieces,
                    finish: reason,
                    stats,
                }
            }
            EngineEvent::Failed(e) => panic!("generation failed: {e}"),
            EngineEvent::Waiting { .. }
            | EngineEvent::Reading { .. }
            | EngineEvent::Logprobs(_) => {}
        }
    }
    panic!("stream ended without a final event");
}

/// A one-message chat prompt in the model's own template, as tokens.
pub fn prompt_ids(parts: &engine::ModelParts, text: &str) -> Vec<u32> {
    let t = ChatTemplate::of_model(parts).unwrap();
    let prompt = t
        .render(&[domain::ChatMessage::new(domain::Role::User, text)], true)
        .unwrap();
    parts.tokenizer.encode(&prompt).unwrap()
}
