use thiserror::Error;

/// Errors of the prompt layer.
#[derive(Debug, Error)]
pub enum PromptError {
    #[error("the chat template does not compile: {0}")]
    TemplateSyntax(String),
    #[error("the chat template failed to render: {0}")]
    TemplateRender(String),
    #[error("the chat template is refused: {0}")]
    TemplateTooExpensive(String),
    #[error("the model has no usable chat template: {0}")]
    NoTemplate(String),
    #[error("the prompt needs {prompt_tokens} tokens even with older turns dropped, but only {budget} fit (truncation_length minus max_new_tokens)")]
    ContextTooLong { prompt_tokens: usize, budget: usize },
    #[error("the prompt could not be tokenized: {0}")]
    Tokenize(String),
}

impl PromptError {
    /// Every prompt error is the request's: a template or a chat that
    /// cannot make a prompt.
    pub fn class(&self) -> domain::ErrorClass {
        domain::ErrorClass::BadInput
    }
}
