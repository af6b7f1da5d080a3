//! The template worker: a child process of the server that renders chat
//! templates and nothing else. It limits its own heap at start (before it
//! reads any template), so a template that builds a huge value kills only
//! this process, never the server.

use std::{collections::HashMap, io};

use super::{
    protocol::{OwnedRenderRequest, RenderReply},
    HEAP_LIMIT_BYTES,
};
use crate::isolation::serve_lines;
use crate::prompt::{ChatTemplate, PromptError, TemplateVars};

/// Compiled templates kept between renders (a chat renders the same one
/// again and again).
const CACHED_TEMPLATES: usize = 16;

/// Serves renders on standard input and output until the server closes
/// the pipe.
pub fn serve_stdio() -> io::Result<()> {
    let mut compiled: HashMap<(String, String, String), ChatTemplate> = HashMap::new();
    serve_lines(
        HEAP_LIMIT_BYTES,
        |request: Result<OwnedRenderRequest, String>| match request {
            Ok(request) => render(&mut compiled, request),
            Err(e) => RenderReply::Render(format!("unreadable request: {e}")),
        },
    )
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
