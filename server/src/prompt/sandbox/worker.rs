//! The template worker: a child process of the server that renders chat
//! templates and nothing else. It limits its own heap at start (before it
//! reads any template), so a template that builds a huge value kills only
//! this process, never the server.

use std::{
    collections::HashMap,
    io::{self, BufRead, Write},
};

use super::{
    protocol::{OwnedRenderRequest, RenderReply},
    HEAP_LIMIT_BYTES,
};
use crate::prompt::{ChatTemplate, PromptError, TemplateVars};

/// Compiled templates kept between renders (a chat renders the same one
/// again and again).
const CACHED_TEMPLATES: usize = 16;

/// Serves renders on standard input and output until the server closes
/// the pipe.
pub fn serve_stdio() -> io::Result<()> {
    limit_heap(HEAP_LIMIT_BYTES)?;
    let stdin = io::stdin().lock();
    let mut stdout = io::stdout().lock();
    let mut compiled: HashMap<(String, String, String), ChatTemplate> = HashMap::new();
    for line in stdin.lines() {
        let reply = match serde_json::from_str::<OwnedRenderRequest>(&line?) {
            Ok(request) => render(&mut compiled, request),
            Err(e) => RenderReply::Render(format!("unreadable request: {e}")),
        };
        serde_json::to_writer(&mut stdout, &reply)?;
        stdout.write_all(b"\n")?;
        stdout.flush()?;
    }
    Ok(())
}

fn render(
    compiled: &mut HashMap<(String, String, String), ChatTemplate>,
    request: OwnedRenderRequest,
) -> RenderReply {
    let key = (request.source, request.bos, request.eos);
    if !compiled.contains_key(&key) {
        if compiled.len() >= CACHED_TEMPLATES {
            compiled.clear();
        }
        match ChatTemplate::compile(&key.0, Some(&key.1), Some(&key.2)) {
            Ok(t) => compiled.insert(key.clone(), t),
            Err(e) => return reply_of(Err(e)),
        };
    }
    let template = &compiled[&key];
    let vars = TemplateVars {
        enable_thinking: request.enable_thinking,
        tools: request.tools.as_deref(),
    };
    reply_of(template.render_local(&request.messages, request.add_generation_prompt, &vars))
}

fn reply_of(result: Result<String, PromptError>) -> RenderReply {
    match result {
        Ok(text) => RenderReply::Text(text),
        Err(PromptError::TemplateSyntax(m)) => RenderReply::Syntax(m),
        Err(PromptError::TemplateTooExpensive(m)) => RenderReply::TooExpensive(m),
        Err(e) => RenderReply::Render(e.to_string()),
    }
}

/// Caps this process's data segment (heap and private mappings) at what
/// it uses now plus `extra` bytes: an allocation past it fails, and the
/// process aborts.
fn limit_heap(extra: u64) -> io::Result<()> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let data_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmData:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let limit = data_kib * 1024 + extra;
    let rlimit = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: setrlimit only reads the struct passed by reference.
    if unsafe { libc::setrlimit(libc::RLIMIT_DATA, &rlimit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
