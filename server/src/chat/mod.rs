//! From a chat request to a running generation: choose the template, build
//! and fit the prompt for the mode, queue the job. The UI and the API share
//! this, so both send the same prompt for the same request.

mod error;
pub mod job;
mod request;
mod template_cache;

use std::sync::Arc;

use app::types::GenerationParams;

pub use error::ChatError;
pub use request::ChatRequest;
use template_cache::TemplateCache;

use crate::{
    engine::{Engine, GenerationJob, ReplyStream},
    prompt::{build_prompt, BuiltPrompt, ChatTemplate, PromptError, PromptSettings},
    remote::Remote,
};

pub struct ChatEngine {
    engine: Arc<Engine>,
    templates: TemplateCache,
    /// When set, generation goes to this OpenAI-compatible server.
    remote: Option<Remote>,
}

/// A prompt ready to run, and the job that runs it.
pub struct Prepared {
    pub prompt: BuiltPrompt,
    pub job: GenerationJob,
}

impl ChatEngine {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self {
            engine,
            templates: TemplateCache::default(),
            remote: None,
        }
    }

    /// Generation by a remote server; `engine` only keeps the registry of
    /// running replies and the metrics.
    pub fn with_remote(engine: Arc<Engine>, remote: Remote) -> Self {
        Self {
            remote: Some(remote),
            ..Self::new(engine)
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn remote(&self) -> Option<&Remote> {
        self.remote.as_ref()
    }

    /// Builds the prompt exactly as it will be sent, without running it.
    pub fn prepare(&self, request: &ChatRequest) -> Result<Prepared, ChatError> {
        request
            .params
            .validate()
            .map_err(|e| ChatError::InvalidParameter(e.message))?;
        let model = self.engine.model()?;
        let template = self.template_for(request)?;
        let settings = PromptSettings {
            mode: request.mode,
            character: &request.character,
            user: &request.user,
            system_message: request.system_message.as_deref(),
            chat_instruct_command: &request.chat_instruct_command,
            enable_thinking: request.enable_thinking,
        };
        let context = model.info.context_length;
        let limit = match request.params.truncation_length as usize {
            0 => context,
            n => n.min(context),
        };
        let max_new = request.params.max_new_tokens as usize;
        if max_new >= limit {
            return Err(ChatError::InvalidParameter(format!(
                "max_new_tokens ({max_new}) must be smaller than the context ({limit} tokens)"
            )));
        }
        let tokenizer = &model.tokenizer;
        let prompt = blocking(|| {
            build_prompt(
                &settings,
                &template,
                &request.history,
                request.continuation,
                limit - max_new,
                |text| {
                    tokenizer
                        .encode(text)
                        .map_err(|e| PromptError::Tokenize(e.to_string()))
                },
            )
        })?;
        let mut stop_strings = prompt.stop_strings.clone();
        stop_strings.extend(request.params.custom_stopping_strings.iter().cloned());
        let mut job = job::job(
            prompt.tokens.clone(),
            &request.params,
            stop_strings,
            tokenizer.eos_ids().to_vec(),
        );
        job.strip_leading_names = settings.names_to_strip(request.continuation);
        Ok(Prepared { prompt, job })
    }

    /// Prepares and queues `owner`'s request. Dropping the stream cancels it.
    pub fn start(
        &self,
        owner: &str,
        request_id: &str,
        request: &ChatRequest,
    ) -> Result<(ReplyStream, BuiltPrompt), ChatError> {
        if let Some(remote) = &self.remote {
            return remote.start(&self.engine, owner, request_id, request);
        }
        let Prepared { prompt, job } = self.prepare(request)?;
        Ok((self.engine.submit(owner, request_id, job)?, prompt))
    }

    /// Queues a raw prompt (no template), as `/v1/completions` sends it.
    /// Returns the stream and the prompt's length in tokens.
    pub fn start_completion(
        &self,
        owner: &str,
        request_id: &str,
        prompt: &str,
        params: GenerationParams,
    ) -> Result<(ReplyStream, usize), ChatError> {
        params
            .validate()
            .map_err(|e| ChatError::InvalidParameter(e.message))?;
        if let Some(remote) = &self.remote {
            let stream = remote.start_completion(&self.engine, owner, request_id, prompt, &params);
            return Ok((stream, 0));
        }
        let model = self.engine.model()?;
        let tokens = blocking(|| model.tokenizer.encode(prompt))?;
        let context = model.info.context_length;
        if tokens.is_empty() || tokens.len() >= context {
            return Err(ChatError::InvalidParameter(format!(
                "the prompt has {} tokens; it must have between 1 and {} for this model",
                tokens.len(),
                context - 1
            )));
        }
        let prompt_tokens = tokens.len();
        let job = job::job(
            tokens,
            &params,
            params.custom_stopping_strings.clone(),
            model.tokenizer.eos_ids().to_vec(),
        );
        Ok((self.engine.submit(owner, request_id, job)?, prompt_tokens))
    }

    fn template_for(&self, request: &ChatRequest) -> Result<Arc<ChatTemplate>, ChatError> {
        let model = self.engine.model()?;
        match &request.instruction_template {
            Some(source) => Ok(self.templates.get(
                source,
                model.tokenizer.bos_text(),
                model.tokenizer.eos_text(),
            )?),
            None => model
                .template
                .clone()
                .map_err(|e| ChatError::Prompt(PromptError::NoTemplate(e))),
        }
    }
}

/// Runs `f` (rendering and tokenizing a long chat: tens of milliseconds)
/// without holding up the async tasks that share this worker thread, such
/// as other replies' streams. Plain call where the runtime cannot hand the
/// worker's tasks over (a current-thread runtime, as in tests).
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}
