//! `candlelight bench-speculative`: greedy decode speed with speculative
//! decoding off and on (`ngram`, or a draft model with `--draft`), on a
//! reply that repeats its prompt (code to copy with one change) and on a
//! free-form story, through the engine's scheduler as the server runs it.
//! The texts must be identical; prints the speeds, their ratio and how
//! many drafted tokens were confirmed.

use std::path::PathBuf;

use domain::{ChatMessage, Role};
use serde::Serialize;

use super::ToolError;
use engine::{DeviceSpec, Engine, EngineOptions, GenerationJob, LoadOptions, Speculative};

#[derive(clap::Args, Debug)]
pub struct SpeculativeBenchArgs {
    /// GGUF model file (with a chat template).
    #[arg(long)]
    pub model: PathBuf,
    /// New tokens at most per reply.
    #[arg(long, default_value_t = 400)]
    pub gen_tokens: usize,
    /// Rounds per setting; medians are reported.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Draft with this model (same vocabulary) instead of `ngram`.
    #[arg(long)]
    pub draft: Option<PathBuf>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceSpec,
}

#[derive(Debug, Serialize)]
pub struct Task {
    pub task: &'static str,
    pub tokens: u32,
    /// `ngram` or the draft model's file.
    pub drafting: String,
    pub off_tps: f64,
    pub on_tps: f64,
    pub speedup: f64,
    pub drafted: u32,
    pub accepted: u32,
    pub identical: bool,
}

/// ~300 tokens of Python (shared with `scripts/bench_speculative.py`).
const CODE: &str = include_str!("../../../scripts/bench_speculative_code.py");

fn tasks() -> [(&'static str, String); 2] {
    [
        (
            "repeat code with one change",
            format!(
                "Rename the function parse_config to read_config and change nothing else. \
                 Reply with the whole code only.\n\n```python\n{CODE}```"
            ),
        ),
        (
            "free-form story",
            "Write a long story about a lighthouse keeper who finds a message in a bottle."
                .to_string(),
        ),
    ]
}

/// One greedy reply: its text, tokens, decode speed, drafted and confirmed.
struct Reply {
    text: String,
    tokens: u32,
    tps: f64,
    drafted: u32,
    accepted: u32,
}

pub fn run(args: &SpeculativeBenchArgs) -> Result<Vec<Task>, ToolError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| ToolError::Invalid(e.to_string()))?;
    let mut replies: Vec<Vec<Vec<Reply>>> = Vec::new();
    let on = match &args.draft {
        Some(draft) => Speculative::Model(draft.clone()),
        None => Speculative::Ngram,
    };
    for speculative in [Speculative::Off, on.clone()] {
        let options = EngineOptions {
            load: LoadOptions {
                device: args.device,
                ..LoadOptions::default()
            },
            speculative,
            ..EngineOptions::default()
        };
        let engine = Engine::load(&args.model, options);
        let model = engine.model()?;
        if model.info.speculative.starts_with("off:") {
            return Err(ToolError::Invalid(format!(
                "speculative decoding is {}",
                model.info.speculative
            )));
        }
        let template = crate::prompt::ChatTemplate::of_model(&model)
            .map_err(|e| ToolError::Invalid(format!("the model cannot chat: {e}")))?;
        let mut per_task = Vec::new();
        for (_, message) in tasks() {
            let prompt = template
                .render(&[ChatMessage::new(Role::User, message)], true)
                .map_err(|e| ToolError::Invalid(e.to_string()))?;
            let ids = model.tokenizer.encode(&prompt)?;
            let mut rounds = Vec::new();
            for _ in 0..args.rounds.max(1) {
                let job = GenerationJob::greedy(
                    ids.clone(),
                    args.gen_tokens,
                    model.tokenizer.eos_ids().to_vec(),
                );
                rounds.push(runtime.block_on(reply(&engine, job))?);
            }
            per_task.push(rounds);
        }
        replies.push(per_task);
    }
    let median = |rounds: &[Reply]| {
        let mut v: Vec<f64> = rounds.iter().map(|r| r.tps).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok(tasks()
        .iter()
        .enumerate()
        .map(|(i, (task, _))| {
            let (off, drafting) = (&replies[0][i], &replies[1][i]);
            let (off_tps, on_tps) = (median(off), median(drafting));
            Task {
                task,
                tokens: off[0].tokens,
                drafting: on.to_string(),
                off_tps,
                on_tps,
                speedup: on_tps / off_tps.max(1e-9),
                drafted: drafting[0].drafted,
                accepted: drafting[0].accepted,
                identical: off.iter().chain(drafting).all(|r| r.text == off[0].text),
            }
        })
        .collect())
}

async fn reply(engine: &Engine, job: GenerationJob) -> Result<Reply, ToolError> {
    let (text, stats) = super::whole_reply(engine, job).await?;
    Ok(Reply {
        text,
        tokens: stats.completion_tokens,
        tps: stats.decode_tokens_per_second,
        drafted: stats.draft_tokens,
        accepted: stats.draft_accepted,
    })
}

/// Prints the table for people, then each task as a JSON line.
pub fn print(tasks: &[Task]) {
    for t in tasks {
        println!(
            "{}: {} tokens; off {:.1} tok/s, {} {:.1} tok/s ({:.2}x); {} of {} drafted tokens confirmed; identical text: {}",
            t.task, t.tokens, t.off_tps, t.drafting, t.on_tps, t.speedup, t.accepted, t.drafted, t.identical
        );
    }
    for t in tasks {
        println!("{}", serde_json::to_string(t).unwrap_or_default());
    }
}
