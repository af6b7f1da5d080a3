//! The three prompt modes text-generation-webui users know: instruct, chat
//! and chat-instruct. One function renders a conversation in any of them;
//! the UI and the API both call it, so what the API sends is what the UI
//! would send.

use domain::{substitute_names, Character, ChatMessage, Mode, Role, UserProfile};

use super::{lore, ChatTemplate, PromptError, TemplateVars};

/// Everything besides the conversation that shapes the prompt.
#[derive(Clone, Copy, Debug)]
pub struct PromptSettings<'a> {
    pub mode: Mode,
    pub character: &'a Character,
    pub user: &'a UserProfile,
    /// Instruct mode's system message; `None` keeps the template's default.
    pub system_message: Option<&'a str>,
    /// Chat-instruct's command, with `<|character|>` and `<|prompt|>`.
    pub chat_instruct_command: &'a str,
    /// The template's `enable_thinking` (Qwen3); `None`: its default.
    pub enable_thinking: Option<bool>,
    /// Functions the model may call (instruct mode, through the template).
    pub tools: Option<&'a [serde_json::Value]>,
}

/// What the model is asked to write next.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Continuation {
    /// A new reply from the character / assistant.
    #[default]
    Reply,
    /// More of the last message, which is the assistant's.
    ContinueLast,
    /// A message in the user's voice (text-generation-webui's Impersonate).
    /// A last message of the user's is its start (what the message box
    /// held), which the model goes on from.
    Impersonate,
}

impl PromptSettings<'_> {
    /// The character's name as the prompt shows it.
    pub fn bot_name(&self) -> &str {
        self.character.shown_name()
    }

    pub fn user_name(&self) -> &str {
        self.user.shown_name()
    }

    /// `{{char}}`, `{{user}}` (and the older `<BOT>`, `<USER>`) replaced by
    /// the names, as character cards expect.
    pub fn substitute(&self, text: &str) -> String {
        substitute_names(text, self.bot_name(), self.user_name())
    }

    /// Whose `Name:` is stripped from the start of a new reply: in the
    /// modes that show names the prompt already ends with the character's
    /// name, so one the model writes anyway would be shown and saved twice
    /// (and teach the next turn to repeat it), as text-generation-webui
    /// strips it. Continued and impersonated text is left as it is.
    pub fn names_to_strip(&self, continuation: Continuation) -> Vec<String> {
        match (self.mode, continuation) {
            (Mode::Chat | Mode::ChatInstruct, Continuation::Reply) => {
                vec![self.bot_name().to_string(), self.user_name().to_string()]
            }
            _ => Vec::new(),
        }
    }

    /// Stop strings the mode implies: a new `Name:` line means the model
    /// started writing someone else's turn.
    pub fn stop_strings(&self) -> Vec<String> {
        match self.mode {
            Mode::Instruct => Vec::new(),
            Mode::Chat | Mode::ChatInstruct => vec![
                format!("\n{}:", self.user_name()),
                format!("\n{}:", self.bot_name()),
            ],
        }
    }
}

/// The chat-mode prompt: the transcript, then `Name:` for the next speaker
/// (or `Name: partial` to continue). Needs no template.
pub fn chat_mode_prompt(
    settings: &PromptSettings,
    history: &[ChatMessage],
    continuation: Continuation,
) -> String {
    let (done, partial) = split_partial(history, continuation);
    let (name, text) = next_speaker(settings, continuation, partial);
    format!(
        "{}{}{}",
        chat_transcript(settings, done),
        post_history(settings),
        speaker_prefix(name, text)
    )
}

/// Chat-instruct's one user turn: the command with the transcript of
/// `history` (without the partial reply being continued).
pub fn chat_instruct_message(
    settings: &PromptSettings,
    history: &[ChatMessage],
    continuation: Continuation,
) -> String {
    let (done, partial) = split_partial(history, continuation);
    let (speaker, _) = next_speaker(settings, continuation, partial);
    settings
        .chat_instruct_command
        .replace("<|character|>", speaker)
        .replace(
            "<|prompt|>",
            &format!(
                "{}{}",
                chat_transcript(settings, done),
                post_history(settings)
            ),
        )
}

/// Renders `history` (oldest first) as the prompt text for `settings.mode`.
pub fn render_prompt(
    settings: &PromptSettings,
    template: &ChatTemplate,
    history: &[ChatMessage],
    continuation: Continuation,
) -> Result<String, PromptError> {
    let (done, partial) = split_partial(history, continuation);
    match settings.mode {
        Mode::Chat => Ok(chat_mode_prompt(settings, history, continuation)),
        Mode::ChatInstruct => {
            // The command as the user's turn, then the reply begun with the
            // speaker's `Name:` (text-generation-webui's bot prefix), so
            // the model writes only what that speaker says.
            let command = chat_instruct_message(settings, history, continuation);
            let (speaker, text) = next_speaker(settings, continuation, partial);
            open_turn(
                template,
                vec![ChatMessage::new(Role::User, command)],
                Role::Assistant,
                &speaker_prefix(speaker, text),
            )
        }
        Mode::Instruct => render_instruct(settings, template, done, partial, continuation),
    }
}

/// For ContinueLast, the last assistant message is the partial reply and
/// the rest is finished history.
fn split_partial(history: &[ChatMessage], continuation: Continuation) -> (&[ChatMessage], &str) {
    match (continuation, history.split_last()) {
        (Continuation::ContinueLast, Some((last, rest))) if last.role == Role::Assistant => {
            (rest, last.content.as_str())
        }
        (Continuation::Impersonate, Some((last, rest))) if last.role == Role::User => {
            (rest, last.content.as_str())
        }
        _ => (history, ""),
    }
}

fn next_speaker<'a>(
    settings: &'a PromptSettings,
    continuation: Continuation,
    partial: &'a str,
) -> (&'a str, &'a str) {
    match continuation {
        Continuation::Impersonate => (settings.user_name(), partial),
        _ => (settings.bot_name(), partial),
    }
}

/// `Name:` to start a new turn, or `Name: partial` to continue one.
fn speaker_prefix(name: &str, partial: &str) -> String {
    if partial.is_empty() {
        format!("{name}:")
    } else {
        format!("{name}: {partial}")
    }
}

/// A character card's post-history instructions, as their own line just
/// before the character's turn.
fn post_history(settings: &PromptSettings) -> String {
    let text = settings.substitute(settings.character.post_history_instructions.trim());
    if text.is_empty() {
        text
    } else {
        format!("{text}\n")
    }
}

/// text-generation-webui's chat format: the context, the lore entries the
/// latest messages trigger, and the user's bio, each followed by a blank
/// line, then one `Name: text` line per message.
fn chat_transcript(settings: &PromptSettings, history: &[ChatMessage]) -> String {
    let mut out = String::new();
    let context = settings.substitute(settings.character.context.trim());
    if !context.is_empty() {
        out.push_str(&context);
        out.push_str("\n\n");
    }
    let character = settings.character;
    let depth = character
        .lore_scan_depth
        .unwrap_or(lore::DEFAULT_SCAN_DEPTH);
    let lore = lore::triggered(&character.lore, history, depth);
    if !lore.is_empty() {
        out.push_str(&settings.substitute(&lore.join("\n")));
        out.push_str("\n\n");
    }
    let bio = settings.substitute(settings.user.bio.trim());
    if !bio.is_empty() {
        out.push_str(&bio);
        out.push_str("\n\n");
    }
    for message in history {
        let name = match message.role {
            Role::User => settings.user_name(),
            Role::Assistant => settings.bot_name(),
            Role::System | Role::Tool => continue,
        };
        out.push_str(&format!("{name}: {}\n", history_text(message)));
    }
    out
}

/// A finished message as the prompt's history shows it: a reply's
/// reasoning is left out (the templates of reasoning models ask for that,
/// and it would fill the context), the answer kept.
fn history_text(message: &ChatMessage) -> &str {
    match message.role {
        Role::Assistant => domain::reasoning::answer_only(&message.content),
        _ => &message.content,
    }
}

fn render_instruct(
    settings: &PromptSettings,
    template: &ChatTemplate,
    history: &[ChatMessage],
    partial: &str,
    continuation: Continuation,
) -> Result<String, PromptError> {
    let mut messages = Vec::with_capacity(history.len() + 2);
    if let Some(system) = settings.system_message.filter(|s| !s.trim().is_empty()) {
        messages.push(ChatMessage::new(Role::System, settings.substitute(system)));
    }
    messages.extend(history.iter().map(|m| ChatMessage {
        content: history_text(m).to_string(),
        ..m.clone()
    }));
    let vars = TemplateVars {
        enable_thinking: settings.enable_thinking,
        tools: settings.tools,
    };
    match continuation {
        Continuation::Reply => template.render_with(&messages, true, &vars),
        Continuation::ContinueLast => open_turn(template, messages, Role::Assistant, partial),
        Continuation::Impersonate => open_turn(template, messages, Role::User, partial),
    }
}

/// `messages`, then a turn of `role` that begins with `text` and is left
/// open: the turn is rendered as a finished one and what the template puts
/// after its content (the end-of-turn marker) is cut off.
fn open_turn(
    template: &ChatTemplate,
    mut messages: Vec<ChatMessage>,
    role: Role,
    text: &str,
) -> Result<String, PromptError> {
    const MARK: &str = "\u{E000}open-turn\u{E000}";
    messages.push(ChatMessage::new(role, format!("{text}{MARK}")));
    let rendered = template.render(&messages, false)?;
    let at = rendered.rfind(MARK).ok_or_else(|| {
        PromptError::TemplateRender("the template dropped the turn being written".into())
    })?;
    Ok(rendered[..at].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    fn fixture() -> (Character, UserProfile, ChatTemplate) {
        (
            Character {
                name: "Aria".into(),
                context: "{{char}} is a ship's navigator who helps {{user}}. <BOT> likes stars."
                    .into(),
                greeting: "Ahoy!".into(),
                ..Default::default()
            },
            UserProfile {
                name: "Sam".into(),
                bio: "{{user}} is a cartographer.".into(),
            },
            ChatTemplate::compile(CHATML, None, None).unwrap(),
        )
    }

    fn history() -> Vec<ChatMessage> {
        vec![
            ChatMessage::new(Role::Assistant, "Ahoy!"),
            ChatMessage::new(Role::User, "Where are we?"),
            ChatMessage::new(Role::Assistant, "Near the reef."),
            ChatMessage::new(Role::User, "Which way is north?"),
        ]
    }

    fn settings<'a>(mode: Mode, c: &'a Character, u: &'a UserProfile) -> PromptSettings<'a> {
        PromptSettings {
            mode,
            character: c,
            user: u,
            system_message: None,
            chat_instruct_command: domain::DEFAULT_CHAT_INSTRUCT_COMMAND,
            enable_thinking: None,
            tools: None,
        }
    }

    const TRANSCRIPT: &str = "Aria is a ship's navigator who helps Sam. Aria likes stars.\n\n\
Sam is a cartographer.\n\n\
Aria: Ahoy!\n\
Sam: Where are we?\n\
Aria: Near the reef.\n\
Sam: Which way is north?\n";

    #[test]
    fn chat_mode_is_the_transcript_ending_with_the_character_name() {
        let (c, u, t) = fixture();
        let s = settings(Mode::Chat, &c, &u);
        let out = render_prompt(&s, &t, &history(), Continuation::Reply).unwrap();
        assert_eq!(out, format!("{TRANSCRIPT}Aria:"));
        assert_eq!(
            s.stop_strings(),
            vec!["\nSam:".to_string(), "\nAria:".to_string()]
        );
    }

    /// A reply's reasoning stays out of the history in every mode; the
    /// reply being continued keeps it (the model is still inside it).
    #[test]
    fn reasoning_is_left_out_of_the_history() {
        let (c, u, t) = fixture();
        let mut h = history();
        h[2].content = "<think>\nCheck the chart.\n</think>\n\nNear the reef.".into();
        for mode in [Mode::Chat, Mode::ChatInstruct, Mode::Instruct] {
            let out = render_prompt(&settings(mode, &c, &u), &t, &h, Continuation::Reply).unwrap();
            assert!(
                out.contains("Near the reef.") && !out.contains("chart"),
                "{mode:?}: {out}"
            );
        }
        h.push(ChatMessage::new(Role::Assistant, "<think>Polaris is"));
        let s = settings(Mode::Instruct, &c, &u);
        let out = render_prompt(&s, &t, &h, Continuation::ContinueLast).unwrap();
        assert!(
            out.ends_with("<think>Polaris is") && !out.contains("chart"),
            "{out}"
        );
    }

    #[test]
    fn enable_thinking_reaches_the_template_only_when_set() {
        let t = ChatTemplate::compile(
            "{% if enable_thinking is defined and enable_thinking is false %}off{% elif enable_thinking is defined %}on{% else %}default{% endif %}",
            None,
            None,
        )
        .unwrap();
        let m = [ChatMessage::new(Role::User, "hi")];
        let thinking = |on| TemplateVars {
            enable_thinking: Some(on),
            ..TemplateVars::default()
        };
        assert_eq!(t.render_with(&m, true, &thinking(false)).unwrap(), "off");
        assert_eq!(t.render_with(&m, true, &thinking(true)).unwrap(), "on");
        assert_eq!(t.render(&m, true).unwrap(), "default");
    }

    #[test]
    fn chat_mode_continue_and_impersonate() {
        let (c, u, t) = fixture();
        let s = settings(Mode::Chat, &c, &u);
        let mut h = history();
        h.push(ChatMessage::new(Role::Assistant, "Follow the"));
        let out = render_prompt(&s, &t, &h, Continuation::ContinueLast).unwrap();
        assert_eq!(out, format!("{TRANSCRIPT}Aria: Follow the"));
        let out = render_prompt(&s, &t, &history()[..3], Continuation::Impersonate).unwrap();
        assert!(out.ends_with("Aria: Near the reef.\nSam:"), "{out}");
    }

    /// Impersonate goes on from what the message box held, in every mode.
    #[test]
    fn impersonate_starts_from_the_users_unfinished_message() {
        let (c, u, t) = fixture();
        let mut h = history()[..3].to_vec();
        h.push(ChatMessage::new(Role::User, "Let us sail"));

        let s = settings(Mode::Chat, &c, &u);
        let out = render_prompt(&s, &t, &h, Continuation::Impersonate).unwrap();
        assert!(
            out.ends_with("Aria: Near the reef.\nSam: Let us sail"),
            "{out}"
        );

        let s = settings(Mode::ChatInstruct, &c, &u);
        let out = render_prompt(&s, &t, &h, Continuation::Impersonate).unwrap();
        assert!(
            out.starts_with(
                "<|im_start|>user\nContinue the chat dialogue below. Write a single reply for the character \"Sam\"."
            ),
            "{out}"
        );
        assert!(
            out.ends_with(
                "Aria: Near the reef.\n<|im_end|>\n<|im_start|>assistant\nSam: Let us sail"
            ),
            "{out}"
        );

        let s = settings(Mode::Instruct, &c, &u);
        let out = render_prompt(&s, &t, &h[1..], Continuation::Impersonate).unwrap();
        assert!(
            out.ends_with("Near the reef.<|im_end|>\n<|im_start|>user\nLet us sail"),
            "{out}"
        );
    }

    #[test]
    fn triggered_lore_follows_the_context() {
        let (mut c, u, t) = fixture();
        c.lore = vec![domain::LoreEntry {
            keys: vec!["north".into()],
            content: "{{char}} keeps a compass.".into(),
            ..Default::default()
        }];
        let s = settings(Mode::Chat, &c, &u);
        let out = render_prompt(&s, &t, &history(), Continuation::Reply).unwrap();
        assert!(
            out.starts_with("Aria is a ship's navigator who helps Sam. Aria likes stars.\n\nAria keeps a compass.\n\nSam is a cartographer.\n\n"),
            "{out}"
        );
        let out = render_prompt(&s, &t, &history()[..3], Continuation::Reply).unwrap();
        assert!(!out.contains("compass"), "{out}");
    }

    #[test]
    fn post_history_instructions_come_right_before_the_reply() {
        let (mut c, u, t) = fixture();
        c.post_history_instructions = "[Keep {{char}}'s answers short.]".into();
        let s = settings(Mode::Chat, &c, &u);
        let out = render_prompt(&s, &t, &history(), Continuation::Reply).unwrap();
        assert_eq!(
            out,
            format!("{TRANSCRIPT}[Keep Aria's answers short.]\nAria:")
        );
    }

    /// The transcript in one user turn, then the assistant's turn begun
    /// with the speaker's name (text-generation-webui's bot prefix), so
    /// the model writes only that speaker's words: for a reply, for
    /// Continue (the partial reply after the name) and for Impersonate
    /// (the user's name, after the command names the user).
    #[test]
    fn chat_instruct_wraps_the_transcript_and_begins_the_reply_with_the_name() {
        let (c, u, t) = fixture();
        let s = settings(Mode::ChatInstruct, &c, &u);
        let command = |name: &str| {
            format!("<|im_start|>user\nContinue the chat dialogue below. Write a single reply for the character \"{name}\".\n\n")
        };
        let out = render_prompt(&s, &t, &history(), Continuation::Reply).unwrap();
        assert_eq!(
            out,
            format!(
                "{}{TRANSCRIPT}<|im_end|>\n<|im_start|>assistant\nAria:",
                command("Aria")
            )
        );
        assert_eq!(
            s.names_to_strip(Continuation::Reply),
            vec!["Aria".to_string(), "Sam".to_string()]
        );

        let mut h = history();
        h.push(ChatMessage::new(Role::Assistant, "Follow the"));
        let out = render_prompt(&s, &t, &h, Continuation::ContinueLast).unwrap();
        assert_eq!(
            out,
            format!(
                "{}{TRANSCRIPT}<|im_end|>\n<|im_start|>assistant\nAria: Follow the",
                command("Aria")
            )
        );
        assert!(s.names_to_strip(Continuation::ContinueLast).is_empty());

        let out = render_prompt(&s, &t, &history()[..3], Continuation::Impersonate).unwrap();
        let transcript = TRANSCRIPT.trim_end_matches("Sam: Which way is north?\n");
        assert_eq!(
            out,
            format!(
                "{}{transcript}<|im_end|>\n<|im_start|>assistant\nSam:",
                command("Sam")
            )
        );
        assert!(s.names_to_strip(Continuation::Impersonate).is_empty());
    }

    #[test]
    fn instruct_mode_uses_the_template_with_an_optional_system_message() {
        let (c, u, t) = fixture();
        let turns = &history()[1..];
        let mut s = settings(Mode::Instruct, &c, &u);
        let out = render_prompt(&s, &t, turns, Continuation::Reply).unwrap();
        assert_eq!(
            out,
            "<|im_start|>user\nWhere are we?<|im_end|>\n<|im_start|>assistant\nNear the reef.<|im_end|>\n<|im_start|>user\nWhich way is north?<|im_end|>\n<|im_start|>assistant\n"
        );
        assert!(s.stop_strings().is_empty());
        s.system_message = Some("Answer as {{char}}.");
        let out = render_prompt(&s, &t, turns, Continuation::Reply).unwrap();
        assert!(
            out.starts_with("<|im_start|>system\nAnswer as Aria.<|im_end|>\n<|im_start|>user\n"),
            "{out}"
        );
    }

    #[test]
    fn instruct_continue_cuts_the_end_of_turn_marker() {
        let (c, u, t) = fixture();
        let s = settings(Mode::Instruct, &c, &u);
        let h = vec![
            ChatMessage::new(Role::User, "Count to five."),
            ChatMessage::new(Role::Assistant, "1, 2, 3"),
        ];
        let out = render_prompt(&s, &t, &h, Continuation::ContinueLast).unwrap();
        assert_eq!(
            out,
            "<|im_start|>user\nCount to five.<|im_end|>\n<|im_start|>assistant\n1, 2, 3"
        );
        let out = render_prompt(&s, &t, &h, Continuation::Impersonate).unwrap();
        assert!(
            out.ends_with("<|im_start|>assistant\n1, 2, 3<|im_end|>\n<|im_start|>user\n"),
            "{out}"
        );
    }
}
