//! From a chat request to a running generation: choose the template, build
//! and fit the prompt for the mode, queue the job. The UI and the API share
//! this, so both send the same prompt for the same request.

mod backend;
mod error;
mod expansion;
pub mod job;
mod request;
mod template_cache;

use std::sync::Arc;

use domain::ValidParams;

pub use backend::{Backend, BoxFuture, CompletionOptions, Loader, ServedModel};
pub use error::ChatError;
pub use request::ChatRequest;
use template_cache::TemplateCache;

use engine::{EngineError, GenerationJob, Submitter, TextTokenizer};

use crate::{
    prompt::{build_prompt, BuiltPrompt, ChatTemplate, PromptError, PromptSettings},
    replies::{Replies, ReplyStream},
    tool_calls::{self, ToolFormat},
};

/// The local backend: replies from the in-process engine.
pub struct ChatEngine {
    submitter: Submitter,
    replies: Arc<Replies>,
    /// Compiled templates: the model's own and any chosen per request.
    templates: TemplateCache,
}

/// A prompt ready to run, and the job that runs it.
pub struct Prepared {
    pub prompt: BuiltPrompt,
    pub job: GenerationJob,
    /// Names whose leading `Name:` is trimmed from the reply (chat modes).
    pub strip_names: Vec<String>,
}

impl ChatEngine {
    pub fn new(submitter: Submitter, replies: Arc<Replies>) -> Self {
        Self {
            submitter,
            replies,
            templates: TemplateCache::default(),
        }
    }

    /// Queues `job` as `owner`'s reply `request_id`.
    fn submit(
        &self,
        owner: &str,
        request_id: &str,
        job: GenerationJob,
    ) -> Result<ReplyStream, EngineError> {
        let (cancel, registration) = self.replies.open(owner, request_id);
        let events = self.submitter.submit(job, cancel)?;
        Ok(ReplyStream::new(events, registration))
    }
}

impl Backend for ChatEngine {
    /// Builds the prompt exactly as it will be sent, without running it.
    fn prepare(&self, request: &ChatRequest) -> Result<Prepared, ChatError> {
        request.check_expansion()?;
        let model = self.submitter.model()?;
        let template = self.template_for(request)?;
        // Tools go to a template that renders them; one that does not gets
        // them described in the system message.
        let tools = &request.tools;
        let template_takes_tools =
            tool_calls::template_takes_tools(&self.template_source(request)?);
        let system_message = match (
            tools.is_empty() || template_takes_tools,
            &request.system_message,
        ) {
            (true, system) => system.clone(),
            (false, None) => Some(tool_calls::fallback_system_prompt(tools)),
            (false, Some(system)) => Some(format!(
                "{system}\n\n{}",
                tool_calls::fallback_system_prompt(tools)
            )),
        };
        let settings = PromptSettings {
            mode: request.mode,
            character: &request.character,
            user: &request.user,
            system_message: system_message.as_deref(),
            chat_instruct_command: &request.chat_instruct_command,
            enable_thinking: request.enable_thinking,
            tools: (!tools.is_empty() && template_takes_tools).then_some(tools.as_slice()),
        };
        let context = model.info.context_length;
        let limit = match request.params.truncation_length as usize {
            0 => context,
            n => n.min(context),
        };
        let max_new = request.params.max_new_tokens as usize;
        if max_new >= limit {
            return Err(ChatError::InvalidParameter {
                message: format!(
                    "max_new_tokens ({max_new}) must be smaller than the context ({limit} tokens)"
                ),
                param: "max_tokens",
            });
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
        if request.params.auto_max_new_tokens {
            job.max_new_tokens = limit.saturating_sub(prompt.tokens.len()).max(max_new);
        }
        job::add_vocabulary_ids(&mut job, &request.params, tokenizer);
        job.logprobs = request.logprobs;
        if let Some(grammar) = &request.grammar {
            job.constraint = Some(blocking(|| model.constraints.constraint(grammar))?);
            // The grammar decides where the reply ends.
            job.ban_eos = false;
        }
        Ok(Prepared {
            prompt,
            job,
            strip_names: settings.names_to_strip(request.continuation),
        })
    }

    /// Prepares and queues `owner`'s request. Dropping the stream cancels it.
    fn start(
        &self,
        owner: &str,
        request_id: &str,
        request: &ChatRequest,
    ) -> Result<(ReplyStream, BuiltPrompt), ChatError> {
        let Prepared {
            prompt,
            job,
            strip_names,
        } = self.prepare(request)?;
        let stream = self.submit(owner, request_id, job)?.trimming(&strip_names);
        Ok((stream, prompt))
    }

    /// Queues a raw prompt (no template), as `/v1/completions` sends it,
    /// with log-probabilities and a grammar if asked. Returns the stream
    /// and the prompt's length in tokens.
    fn start_completion(
        &self,
        owner: &str,
        request_id: &str,
        prompt: &str,
        params: ValidParams,
        options: CompletionOptions,
    ) -> Result<(ReplyStream, usize), ChatError> {
        let model = self.submitter.model()?;
        let tokens = blocking(|| model.tokenizer.encode(prompt)).map_err(|e| match e {
            e @ EngineError::TextTooLong { .. } => ChatError::InvalidParameter {
                message: e.to_string(),
                param: "prompt",
            },
            e => e.into(),
        })?;
        let context = model.info.context_length;
        if tokens.is_empty() || tokens.len() >= context {
            return Err(ChatError::InvalidParameter {
                message: format!(
                    "the prompt has {} tokens; it must have between 1 and {} for this model",
                    tokens.len(),
                    context - 1
                ),
                param: "prompt",
            });
        }
        let prompt_tokens = tokens.len();
        let mut job = job::job(
            tokens,
            &params,
            params.custom_stopping_strings.clone(),
            model.tokenizer.eos_ids().to_vec(),
        );
        job::add_vocabulary_ids(&mut job, &params, &model.tokenizer);
        if params.auto_max_new_tokens {
            job.max_new_tokens = context - prompt_tokens;
        }
        job.logprobs = options.logprobs;
        if let Some(grammar) = &options.grammar {
            job.constraint = Some(blocking(|| model.constraints.constraint(grammar))?);
            job.ban_eos = false;
        }
        Ok((self.submit(owner, request_id, job)?, prompt_tokens))
    }

    /// How the model writes tool calls, from the template it is prompted
    /// with.
    fn tool_format(&self, request: &ChatRequest) -> Result<ToolFormat, ChatError> {
        Ok(ToolFormat::from_template(&self.template_source(request)?))
    }

    fn served(&self) -> Result<ServedModel, EngineError> {
        let m = self.submitter.model()?;
        Ok(ServedModel {
            name: m.info.name.clone(),
            architecture: m.info.architecture.clone(),
            context_length: m.info.context_length,
            device: m.info.device.to_string(),
            loader: backend::Loader::Local,
        })
    }

    fn models(&self) -> BoxFuture<'_, Result<Vec<String>, EngineError>> {
        let names = self.served().map(|m| vec![m.name]);
        Box::pin(std::future::ready(names))
    }

    fn tokenizer(&self) -> Result<Arc<TextTokenizer>, EngineError> {
        Ok(self.submitter.model()?.tokenizer.clone())
    }

    fn model_template(&self) -> Option<String> {
        self.submitter.model().ok()?.template_source.clone()
    }
}

impl ChatEngine {
    fn template_source(&self, request: &ChatRequest) -> Result<String, ChatError> {
        match &request.instruction_template {
            Some(source) => Ok(source.clone()),
            None => Ok(self
                .submitter
                .model()?
                .template_source
                .clone()
                .unwrap_or_default()),
        }
    }

    /// The request's own template, else the model's, compiled once.
    fn template_for(&self, request: &ChatRequest) -> Result<Arc<ChatTemplate>, ChatError> {
        let model = self.submitter.model()?;
        let source = match (&request.instruction_template, &model.template_source) {
            (Some(source), _) | (None, Some(source)) => source,
            (None, None) => {
                return Err(ChatError::Prompt(PromptError::NoTemplate(
                    "the model file has no tokenizer.chat_template; pick an instruction template, or use the Notebook".into(),
                )))
            }
        };
        let compiled = self.templates.get(
            source,
            model.tokenizer.bos_text(),
            model.tokenizer.eos_text(),
        );
        match (compiled, &request.instruction_template) {
            (Err(e), None) => Err(ChatError::Prompt(PromptError::NoTemplate(e.to_string()))),
            (compiled, _) => Ok(compiled?),
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
