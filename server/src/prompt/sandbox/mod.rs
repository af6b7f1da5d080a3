//! Chat templates come from users (saved instruction templates, the API's
//! `instruction_template_str`) and from model files anyone may download.
//! Fuel bounds how long a render runs, but not how much memory the values
//! it builds take (`{% set a = a ~ a %}` doubles a string per step), and a
//! failed allocation aborts a Rust process. So the server renders every
//! template in a worker process that limits its own heap
//! ([`HEAP_LIMIT_BYTES`]): a template that asks for more kills that worker
//! alone, and the request gets a clear error. Browsers isolate untrusted
//! code the same way.
//!
//! [`install`] turns this on for the process (the server's `main`, and
//! tests); without it templates render in-process, which unit tests and
//! the command-line tools do.

mod protocol;
mod worker;

use std::{path::PathBuf, sync::OnceLock, time::Duration};

use domain::ChatMessage;
pub use worker::serve_stdio;

use super::{PromptError, TemplateVars};
use crate::isolation::{Lost, Pool};
use protocol::{RenderReply, RenderRequest};

/// The memory one render may build on top of the worker's own: far more
/// than the largest prompt (the output alone is capped at 32 MB).
pub const HEAP_LIMIT_BYTES: u64 = 256 << 20;

/// A render that takes longer than this is stopped (fuel stops runaway
/// loops long before; this catches anything else).
pub const RENDER_TIMEOUT: Duration = Duration::from_secs(10);

/// The subcommand of the candlelight binary that runs a worker.
pub const WORKER_SUBCOMMAND: &str = "template-worker";

static SANDBOX: OnceLock<Pool> = OnceLock::new();

/// Renders every template of this process in workers started from `exe`
/// (the candlelight binary) with `workers` running at most at once.
/// Later calls keep the first setting.
pub fn install(exe: PathBuf, workers: usize) {
    let _ = SANDBOX.set(Pool::new(exe, WORKER_SUBCOMMAND, workers, RENDER_TIMEOUT));
}

/// Whether templates render in workers.
pub fn installed() -> bool {
    SANDBOX.get().is_some()
}

/// Renders in a worker, or `None` where no sandbox is installed.
pub(super) fn render(
    source: &str,
    bos: &str,
    eos: &str,
    messages: &[ChatMessage],
    add_generation_prompt: bool,
    vars: &TemplateVars,
) -> Option<Result<String, PromptError>> {
    let pool = SANDBOX.get()?;
    let request = RenderRequest {
        source,
        bos,
        eos,
        messages,
        add_generation_prompt,
        enable_thinking: vars.enable_thinking,
        tools: vars.tools,
    };
    Some(match pool.call(&request) {
        Ok(RenderReply::Text(text)) => Ok(text),
        Ok(RenderReply::Syntax(m)) => Err(PromptError::TemplateSyntax(m)),
        Ok(RenderReply::Render(m)) => Err(PromptError::TemplateRender(m)),
        Ok(RenderReply::TooExpensive(m)) => Err(PromptError::TemplateTooExpensive(m)),
        Err(Lost::Died) => Err(PromptError::TemplateTooExpensive(format!(
            "rendering it needed more than {} MB of memory",
            HEAP_LIMIT_BYTES >> 20
        ))),
        Err(Lost::TimedOut) => Err(PromptError::TemplateTooExpensive(format!(
            "rendering it took longer than {} s",
            RENDER_TIMEOUT.as_secs()
        ))),
        Err(Lost::Unreadable(_)) => Err(PromptError::TemplateRender(
            "the template worker failed".into(),
        )),
        Err(Lost::Unstartable) => Err(PromptError::TemplateRender(
            "the template worker could not be started".into(),
        )),
    })
}
