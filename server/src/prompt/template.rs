//! The model's own chat template (GGUF `tokenizer.chat_template`), rendered
//! with minijinja the way Hugging Face's `apply_chat_template` does:
//! `trim_blocks` and `lstrip_blocks` on, Python string methods available,
//! `raise_exception` defined. Compiled once per model.
//!
//! Templates come from model files and from users, so a render is bounded:
//! it may run [`RENDER_FUEL`] instructions (a nested loop is stopped, not
//! left to run for hours) and write [`MAX_RENDER_BYTES`]; where the
//! [`sandbox`](super::sandbox) is installed (the server) it runs in a
//! worker process whose heap is capped, so no value it builds can exhaust
//! the server's memory.

use std::io::Write;

use domain::{ChatMessage, Role};
use minijinja::{context, Environment, Error, ErrorKind, Value};

use super::PromptError;

const TEMPLATE_NAME: &str = "chat";

/// Instructions one render may run. Real templates need about a hundred
/// per message (see the test below), so this allows chats of thousands of
/// messages while stopping a runaway loop within a fraction of a second.
pub const RENDER_FUEL: u64 = 2_000_000;

/// Text one render may produce: far more than any context holds.
pub const MAX_RENDER_BYTES: usize = 32 << 20;

/// A buffer that refuses to grow past its limit.
struct Bounded(Vec<u8>);

impl Write for Bounded {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + bytes.len() > MAX_RENDER_BYTES {
            return Err(std::io::Error::other("the template's output is too large"));
        }
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Variables some templates read beyond the messages; unset ones stay
/// undefined, so templates apply their own defaults.
#[derive(Clone, Copy, Debug, Default)]
pub struct TemplateVars<'a> {
    /// Qwen3's switch for its reasoning.
    pub enable_thinking: Option<bool>,
    /// OpenAI function definitions (`{"type": "function", "function": …}`).
    pub tools: Option<&'a [serde_json::Value]>,
}

pub struct ChatTemplate {
    env: Environment<'static>,
    source: String,
    bos_token: String,
    eos_token: String,
    /// Worked out at the first reply that needs them, then kept.
    turn_ends: std::sync::OnceLock<Vec<String>>,
}

impl ChatTemplate {
    pub fn compile(
        source: &str,
        bos_token: Option<&str>,
        eos_token: Option<&str>,
    ) -> Result<Self, PromptError> {
        let mut env = Environment::new();
        env.set_fuel(Some(RENDER_FUEL));
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
            source: source.to_string(),
            bos_token: bos_token.unwrap_or_default().to_string(),
            eos_token: eos_token.unwrap_or_default().to_string(),
            turn_ends: std::sync::OnceLock::new(),
        })
    }

    /// Strings that mean the model finished its turn and began another
    /// (see [`turn_end`](super::turn_end)); stop strings in the modes that
    /// use this template.
    pub fn turn_end_strings(&self) -> &[String] {
        self.turn_ends
            .get_or_init(|| super::turn_end::turn_end_strings(self))
    }

    /// The chat template a loaded model file carries, compiled with its
    /// BOS and EOS texts.
    pub fn of_model(parts: &engine::ModelParts) -> Result<Self, PromptError> {
        let source = parts.template_source.as_deref().ok_or_else(|| {
            PromptError::NoTemplate("the model file has no tokenizer.chat_template".into())
        })?;
        Self::compile(
            source,
            parts.tokenizer.bos_text(),
            parts.tokenizer.eos_text(),
        )
    }

    /// The prompt text for `messages`; with `add_generation_prompt` it ends
    /// where the assistant's reply begins.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String, PromptError> {
        self.render_with(messages, add_generation_prompt, &TemplateVars::default())
    }

    /// [`render`](Self::render) with the optional variables templates read.
    pub fn render_with(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
        vars: &TemplateVars,
    ) -> Result<String, PromptError> {
        let sandboxed = super::sandbox::render(
            &self.source,
            &self.bos_token,
            &self.eos_token,
            messages,
            add_generation_prompt,
            vars,
        );
        sandboxed.unwrap_or_else(|| self.render_local(messages, add_generation_prompt, vars))
    }

    /// Renders in this process (the template worker, and where no sandbox
    /// is installed).
    pub(crate) fn render_local(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
        vars: &TemplateVars,
    ) -> Result<String, PromptError> {
        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| PromptError::TemplateRender(e.to_string()))?;
        let mut out = Bounded(Vec::new());
        template
            .render_captured_to(
                context! {
                    messages => messages,
                    add_generation_prompt => add_generation_prompt,
                    bos_token => self.bos_token,
                    eos_token => self.eos_token,
                    enable_thinking => vars.enable_thinking.map_or(Value::UNDEFINED, Value::from),
                    tools => vars.tools.map_or(Value::UNDEFINED, Value::from_serialize),
                },
                &mut out,
            )
            .map_err(|e| match e.kind() {
                ErrorKind::OutOfFuel => PromptError::TemplateTooExpensive(format!(
                    "it ran more than {RENDER_FUEL} steps"
                )),
                ErrorKind::WriteFailure => PromptError::TemplateTooExpensive(format!(
                    "its output is larger than {} MB",
                    MAX_RENDER_BYTES >> 20
                )),
                _ => PromptError::TemplateRender(e.to_string()),
            })?;
        String::from_utf8(out.0).map_err(|e| PromptError::TemplateRender(e.to_string()))
    }

    /// Compiles `source` and renders a short conversation with it, so a
    /// template that loops without end is refused when it is saved, not
    /// when a chat first uses it. Other render errors (a template that
    /// refuses system messages, say) are left to the chat that hits them.
    pub fn check(source: &str) -> Result<(), PromptError> {
        let template = Self::compile(source, Some("<s>"), Some("</s>"))?;
        let sample = [
            ChatMessage::new(Role::System, "You are helpful."),
            ChatMessage::new(Role::User, "Hello"),
            ChatMessage::new(Role::Assistant, "Hi! How can I help?"),
            ChatMessage::new(Role::User, "Tell me a joke."),
        ];
        match template.render(&sample, true) {
            Err(e @ PromptError::TemplateTooExpensive(_)) => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Two nested `range()` loops would run 10^10 steps; fuel stops them.
    #[test]
    fn runaway_templates_stop_quickly() {
        let started = std::time::Instant::now();
        let nested =
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
        let t = ChatTemplate::compile(nested, None, None).unwrap();
        let err = t.render(&[], true).unwrap_err();
        assert!(matches!(err, PromptError::TemplateTooExpensive(_)), "{err}");
        assert!(matches!(
            ChatTemplate::check(nested),
            Err(PromptError::TemplateTooExpensive(_))
        ));
        let huge = "{% for i in range(1000) %}{{ 'x' * 10000000 }}{% endfor %}";
        let err = ChatTemplate::compile(huge, None, None)
            .unwrap()
            .render(&[], true)
            .unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    /// The fuel is ample for real chats: ChatML over 2,000 messages.
    #[test]
    fn long_chats_render_within_the_fuel() {
        let t = ChatTemplate::compile(CHATML, None, None).unwrap();
        let messages: Vec<ChatMessage> = (0..2000)
            .map(|i| {
                let role = if i % 2 == 0 {
                    Role::User
                } else {
                    Role::Assistant
                };
                ChatMessage::new(role, format!("message {i}"))
            })
            .collect();
        assert!(t.render(&messages, true).unwrap().contains("message 1999"));
        assert!(ChatTemplate::check(CHATML).is_ok());
    }

    #[test]
    fn syntax_errors_are_reported_not_panicked() {
        assert!(matches!(
            ChatTemplate::compile("{% for %}", None, None),
            Err(PromptError::TemplateSyntax(_))
        ));
    }
}
