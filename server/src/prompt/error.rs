use thiserror::Error;

/// Errors of the prompt layer.
#[derive(Debug, Error)]
pub enum PromptError {
    #[error("the chat template does not compile: {0}")]
    TemplateSyntax(String),
    #[error("the chat template failed to render: {0}")]
    TemplateRender(String),
    #[error("the model has no chat template")]
    NoTemplate,
}
