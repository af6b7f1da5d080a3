//! Helpers shared by the integration tests: the model files that
//! `make test` fetches (scripts/fetch-models.sh) and a way to collect a reply.

#![allow(dead_code)]

use std::path::PathBuf;

use app::types::{FinishReason, GenerationParams, GenerationStats};
use futures::StreamExt;
use server::engine::{Engine, EngineEvent, GenerationJob};

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

pub fn reference_tokenizer_path() -> PathBuf {
    required("models/reference/qwen-tokenizer.json")
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
    use app::types::{ChatMessage, Role};
    let model = engine.model().expect("model loaded");
    let template = model.template.as_ref().expect("model has a chat template");
    let prompt = template
        .render(&[ChatMessage::new(Role::User, user)], true)
        .expect("template renders");
    GenerationJob {
        prompt_tokens: model.tokenizer.encode(&prompt).expect("prompt encodes"),
        stop_strings: params.custom_stopping_strings.clone(),
        eos_ids: model.tokenizer.eos_ids().to_vec(),
        params,
    }
}

pub async fn collect(engine: &Engine, job: GenerationJob) -> Reply {
    let mut stream = engine.submit("", "test", job).expect("job accepted");
    let mut pieces = Vec::new();
    while let Some(event) = stream.next().await {
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
        }
    }
    panic!("stream ended without a final event");
}
