//! Instruction templates chosen per request (a saved template, or the API's
//! `instruction_template_str`) are compiled once and reused.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use crate::prompt::{ChatTemplate, PromptError};

/// Enough for every template a user switches between; beyond it the cache
/// starts over rather than growing without bound.
const CAPACITY: usize = 32;

#[derive(Default)]
pub struct TemplateCache {
    compiled: Mutex<HashMap<String, Arc<ChatTemplate>>>,
}

impl TemplateCache {
    pub fn get(
        &self,
        source: &str,
        bos: Option<&str>,
        eos: Option<&str>,
    ) -> Result<Arc<ChatTemplate>, PromptError> {
        let key = format!(
            "{}\u{0}{}\u{0}{source}",
            bos.unwrap_or(""),
            eos.unwrap_or("")
        );
        let mut compiled = self.compiled.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = compiled.get(&key) {
            return Ok(t.clone());
        }
        let template = Arc::new(ChatTemplate::compile(source, bos, eos)?);
        if compiled.len() >= CAPACITY {
            compiled.clear();
        }
        compiled.insert(key, template.clone());
        Ok(template)
    }
}
