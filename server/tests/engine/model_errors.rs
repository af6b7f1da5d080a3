//! Bad model files give clear errors, never a panic, and the engine keeps
//! answering (with the reason) instead of taking the server down.

use std::io::Write;

use candle_core::quantized::gguf_file;
use engine::{Engine, EngineError, EngineOptions, GenerationJob};

fn load_error(path: &std::path::Path) -> String {
    let engine = Engine::load(path, EngineOptions::default());
    let err = engine.model().err().expect("load must fail");
    assert!(matches!(err, EngineError::NoModel(_)));
    // Requests are refused with the same reason.
    let job = GenerationJob::greedy(vec![1], 1, vec![0]);
    assert!(matches!(
        engine.submitter().submit(job, engine::Cancel::default()),
        Err(EngineError::NoModel(_))
    ));
    err.to_string()
}

#[test]
fn missing_file() {
    let msg = load_error(std::path::Path::new("/nonexistent/model.gguf"));
    assert!(msg.contains("could not be opened"), "{msg}");
}

#[test]
fn file_that_is_not_gguf() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(b"this is not a model at all").unwrap();
    let msg = load_error(f.path());
    assert!(msg.contains("not a valid GGUF"), "{msg}");
}

#[test]
fn truncated_gguf() {
    let real = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../models/SmolLM2-135M-Instruct.Q4_1.gguf"
    ))
    .expect("run scripts/fetch-models.sh all");
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(&real[..real.len() / 3]).unwrap();
    let msg = load_error(f.path());
    assert!(msg.contains("not a valid GGUF"), "{msg}");
}

#[test]
fn unknown_architecture() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    let arch = gguf_file::Value::String("mamba".into());
    gguf_file::write(f.as_file_mut(), &[("general.architecture", &arch)], &[]).unwrap();
    let msg = load_error(f.path());
    assert!(msg.contains("`mamba` is not supported"), "{msg}");
}
