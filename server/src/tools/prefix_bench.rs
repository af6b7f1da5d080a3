//! `candlelight bench-prefix`: time to first token of a chat's first and
//! second turn with a long character context, showing what the prefix
//! cache saves (the second turn computes only its new tokens).

use std::path::PathBuf;

use domain::{Character, ChatMessage, Mode, Role, UserProfile, DEFAULT_CHAT_INSTRUCT_COMMAND};
use serde::Serialize;

use super::ToolError;
use crate::prompt::{chat_mode_prompt, Continuation, PromptSettings};
use engine::{Engine, EngineOptions, GenerationJob};

#[derive(clap::Args, Debug)]
pub struct PrefixBenchArgs {
    /// GGUF model file.
    #[arg(long)]
    pub model: PathBuf,
    /// Approximate length of the character's context, in tokens.
    #[arg(long, default_value_t = 1000)]
    pub context_tokens: usize,
    /// Tokens generated per turn.
    #[arg(long, default_value_t = 32)]
    pub gen_tokens: usize,
}

#[derive(Debug, Serialize)]
pub struct Turn {
    pub prompt_tokens: u32,
    pub cached_tokens: u32,
    pub ttft_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct PrefixBench {
    pub model: String,
    pub first: Turn,
    pub second: Turn,
}

const LORE: &str = "The city of Vell stands where three rivers meet. Its guilds keep the bridges, \
the archive keeps the maps, and the lamplighters keep the old songs. ";

pub fn run(args: &PrefixBenchArgs) -> Result<PrefixBench, ToolError> {
    let engine = Engine::load(&args.model, EngineOptions::default());
    let model = engine.model()?;
    let mut context =
        String::from("{{char}} is the archivist of Vell and answers {{user}}'s questions. ");
    while model.tokenizer.encode(&context)?.len() < args.context_tokens {
        context.push_str(LORE);
    }
    let character = Character {
        name: "Archivist".into(),
        context,
        ..Character::default()
    };
    let user = UserProfile::default();
    let settings = PromptSettings {
        mode: Mode::Chat,
        character: &character,
        user: &user,
        system_message: None,
        chat_instruct_command: DEFAULT_CHAT_INSTRUCT_COMMAND,
        enable_thinking: None,
        tools: None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| ToolError::Invalid(e.to_string()))?;
    let mut history = vec![ChatMessage::new(
        Role::User,
        "Where do the three rivers meet?",
    )];
    let turn = |history: &[ChatMessage]| -> Result<(Turn, String), ToolError> {
        let prompt = chat_mode_prompt(&settings, history, Continuation::Reply);
        let job = GenerationJob {
            stop_strings: settings.stop_strings(),
            ..GenerationJob::greedy(
                model.tokenizer.encode(&prompt)?,
                args.gen_tokens,
                model.tokenizer.eos_ids().to_vec(),
            )
        };
        let (text, stats) = runtime.block_on(super::whole_reply(&engine, job))?;
        let turn = Turn {
            prompt_tokens: stats.prompt_tokens,
            cached_tokens: stats.cached_tokens,
            ttft_ms: stats.time_to_first_token_ms,
        };
        Ok((turn, text))
    };
    let (first, reply) = turn(&history)?;
    history.push(ChatMessage::new(Role::Assistant, reply.trim()));
    history.push(ChatMessage::new(Role::User, "And who keeps the old songs?"));
    let (second, _) = turn(&history)?;
    Ok(PrefixBench {
        model: model.info.name.clone(),
        first,
        second,
    })
}
