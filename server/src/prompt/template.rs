//! The model's own chat template (GGUF `tokenizer.chat_template`), rendered
//! with minijinja the way Hugging Face's `apply_chat_template` does:
//! `trim_blocks` and `lstrip_blocks` on, Python string methods available,
//! `raise_exception` defined. Compiled once per model.

use app::types::ChatMessage;
use minijinja::{context, Environment, Error, ErrorKind};

use super::PromptError;

const TEMPLATE_NAME: &str = "chat";

pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

impl ChatTemplate {
    pub fn compile(
        source: &str,
        bos_token: Option<&str>,
        eos_token: Option<&str>,
    ) -> Result<Self, PromptError> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |message: String| -> Result<String, Error> {
                Err(Error::new(ErrorKind::InvalidOperation, message))
            },
        );
        env.add_template_owned(TEMPLATE_NAME, source.to_string())
            .map_err(|e| PromptError::TemplateSyntax(e.to_string()))?;
        Ok(Self {
            env,
            bos_token: bos_token.unwrap_or_default().to_string(),
            eos_token: eos_token.unwrap_or_default().to_string(),
        })
    }

    /// The prompt text for `messages`; with `add_generation_prompt` it ends
    /// where the assistant's reply begins.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String, PromptError> {
        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| PromptError::TemplateRender(e.to_string()))?;
        template
            .render(context! {
                messages => messages,
                add_generation_prompt => add_generation_prompt,
                bos_token => self.bos_token,
                eos_token => self.eos_token,
            })
            .map_err(|e| PromptError::TemplateRender(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::types::Role;

    const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    #[test]
    fn chatml_renders_exactly() {
        let t = ChatTemplate::compile(CHATML, None, None).unwrap();
        let out = t
            .render(
                &[
                    ChatMessage::new(Role::System, "Be brief."),
                    ChatMessage::new(Role::User, "Hi"),
                    ChatMessage::new(Role::Assistant, "Hello!"),
                    ChatMessage::new(Role::User, "2+2?"),
                ],
                true,
            )
            .unwrap();
        assert_eq!(
            out,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn python_methods_and_trim_blocks_work() {
        let src = "{% for m in messages %}\n  {{ m.content.strip().upper() }}\n{% endfor %}{{ bos_token }}";
        let t = ChatTemplate::compile(src, Some("<s>"), None).unwrap();
        let out = t
            .render(&[ChatMessage::new(Role::User, "  hi  ")], false)
            .unwrap();
        // trim_blocks drops the newline after each block tag; lstrip_blocks only
        // strips spaces before block tags, so the indent before {{ }} stays (as in Jinja2).
        assert_eq!(out, "  HI\n<s>");
    }

    #[test]
    fn raise_exception_is_a_render_error() {
        let t = ChatTemplate::compile("{{ raise_exception('roles must alternate') }}", None, None)
            .unwrap();
        let err = t.render(&[], true).unwrap_err();
        assert!(err.to_string().contains("roles must alternate"), "{err}");
    }

    #[test]
    fn syntax_errors_are_reported_not_panicked() {
        assert!(matches!(
            ChatTemplate::compile("{% for %}", None, None),
            Err(PromptError::TemplateSyntax(_))
        ));
    }
}
