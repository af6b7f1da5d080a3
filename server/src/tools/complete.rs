//! `candlelight complete`: the greedy reply to one user message (or the
//! greedy continuation of raw text, for base models), as token ids and
//! text, for comparing devices and builds token for token.

use std::path::PathBuf;

use domain::{ChatMessage, Role};
use serde::Serialize;

use super::bench::one_sequence;
use super::ToolError;
use engine::{load_model, DeviceSpec};

#[derive(clap::Args, Debug)]
pub struct CompleteArgs {
    /// GGUF model file.
    #[arg(long)]
    pub model: PathBuf,
    /// The user's message (rendered with the model's chat template).
    #[arg(long)]
    pub prompt: String,
    /// Continue the prompt as raw text, without a chat template (base models).
    #[arg(long)]
    pub raw: bool,
    #[arg(long, default_value_t = 32)]
    pub max_tokens: usize,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceSpec,
    /// Run candle's kernels (the reference) instead of candlelight's own.
    #[arg(long)]
    pub reference: bool,
}

#[derive(Debug, Serialize)]
pub struct Completion {
    pub device: String,
    pub tokens: Vec<u32>,
    pub text: String,
    /// The margin between the best and second-best logit at each step: a
    /// small margin explains a device difference as float noise.
    pub margins: Vec<f32>,
    /// The ten largest logits after the prompt, as (token, logit): the same
    /// input on every device, so these compare the numerics directly.
    pub first_top_logits: Vec<(u32, f32)>,
}

pub fn run(args: &CompleteArgs) -> Result<Completion, ToolError> {
    let (parts, mut model) = load_model(&args.model, one_sequence(args.device, args.reference))?;
    let prompt = if args.raw {
        args.prompt.clone()
    } else {
        let template = crate::prompt::ChatTemplate::of_model(&parts)
            .map_err(|e| ToolError::Invalid(format!("the model cannot chat: {e}")))?;
        template
            .render(&[ChatMessage::new(Role::User, args.prompt.clone())], true)
            .map_err(|e| ToolError::Invalid(e.to_string()))?
    };
    let mut ids = parts.tokenizer.encode(&prompt)?;
    let prompt_len = ids.len();
    let mut logits = model.forward_one(0, &ids, 0)?;
    let first_top_logits = top_logits(&logits, 10);
    let (mut tokens, mut margins) = (Vec::new(), Vec::new());
    for _ in 0..args.max_tokens {
        let (best, margin) = top_with_margin(&logits);
        margins.push(margin);
        if parts.tokenizer.is_eos(best) {
            break;
        }
        tokens.push(best);
        ids.push(best);
        logits = model.forward_one(0, &[best], ids.len() - 1)?;
    }
    debug_assert_eq!(ids.len(), prompt_len + tokens.len());
    Ok(Completion {
        device: args.device.to_string(),
        text: parts.tokenizer.decode(&tokens)?,
        tokens,
        margins,
        first_top_logits,
    })
}

fn top_logits(logits: &[f32], k: usize) -> Vec<(u32, f32)> {
    let mut indexed: Vec<(u32, f32)> = logits
        .iter()
        .enumerate()
        .map(|(i, &l)| (i as u32, l))
        .collect();
    indexed.sort_by(|a, b| b.1.total_cmp(&a.1));
    indexed.truncate(k);
    indexed
}

fn top_with_margin(logits: &[f32]) -> (u32, f32) {
    let (mut best, mut first, mut second) = (0, f32::NEG_INFINITY, f32::NEG_INFINITY);
    for (i, &l) in logits.iter().enumerate() {
        if l > first {
            second = first;
            first = l;
            best = i as u32;
        } else if l > second {
            second = l;
        }
    }
    (best, first - second)
}
