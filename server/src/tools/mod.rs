//! Subcommands besides serving. Those that need only the engine (bench,
//! quantize, synth-gguf) live in it; these run the server's own stack
//! (templates, the router).

pub mod bench_serve;
pub mod complete;
pub mod prefix_bench;
pub mod speculative_bench;

pub use engine::tools::{bench, quantize, synth, tiny, ToolError};

use engine::{Cancel, Engine, EngineEvent, GenerationJob, GenerationStats};

/// Runs `job` on `engine` to its end: the reply's text and numbers.
pub async fn whole_reply(
    engine: &Engine,
    job: GenerationJob,
) -> Result<(String, GenerationStats), ToolError> {
    let mut events = engine.submitter().submit(job, Cancel::default())?;
    let mut text = String::new();
    while let Some(event) = events.recv().await {
        match event {
            EngineEvent::Text(t) => text.push_str(&t),
            EngineEvent::Finished { stats, .. } => return Ok((text, stats)),
            EngineEvent::Failed(e) => return Err(e.into()),
            EngineEvent::Waiting { .. }
            | EngineEvent::Reading { .. }
            | EngineEvent::Logprobs(_) => {}
        }
    }
    Err(ToolError::Invalid("the reply did not finish".into()))
}
