//! Loads the draft model of `--speculative MODEL.gguf` next to a main
//! model and checks that it can draft for it: the same tokens under the
//! same ids (a draft is fed to the main model as it is), a slot for each of
//! the main model's, and caches that can be cut back to any position
//! (rejected drafts are dropped that way).

use std::path::Path;

use crate::{
    gguf::GgufFile,
    loader::{load_weights, LoadOptions},
    scheduler::{DraftModel, Reload},
    shown_file, EngineError, ModelShape,
};

/// A draft vocabulary may differ from the main one only by this many ids
/// at its end (llama.cpp's limit: Qwen2.5's 0.5B and 32B files pad their
/// vocabularies differently).
const VOCAB_SIZE_SLACK: usize = 128;

/// Loads `draft` to draft for the model in `main` (loaded with `load`, its
/// backend's shape `main_shape`; `main_gpu_bytes` of GPU memory planned).
/// The draft's context is the main model's; with `--gpu-memory`, it gets
/// what the main model's plan leaves.
pub fn load_draft(
    draft: &Path,
    main: &Path,
    main_shape: &ModelShape,
    load: LoadOptions,
    main_gpu_bytes: Option<usize>,
) -> Result<DraftModel, EngineError> {
    let refused = |why: String| {
        EngineError::Unsupported(format!(
            "the draft model {} cannot draft for {}: {why}",
            shown_file(draft),
            shown_file(main)
        ))
    };
    let shared_vocab = shared_vocabulary(&GgufFile::open(main)?, &GgufFile::open(draft)?)
        .map_err(&refused)?
        .min(main_shape.vocab);
    let options = LoadOptions {
        ctx_size: Some(main_shape.context_length),
        gpu_memory: load
            .gpu_memory
            .map(|limit| limit.saturating_sub(main_gpu_bytes.unwrap_or(0))),
        ..load
    };
    let model = load_weights(draft, options)?;
    let shape = model.shape();
    if !shape.prefix_reuse {
        return Err(refused(
            "it runs on candle's kernels here, whose cache cannot be cut back to a position".into(),
        ));
    }
    if shape.cache_slots.max(shape.slots) < main_shape.cache_slots.max(main_shape.slots) {
        return Err(refused(format!(
            "it has {} cache slots where the model has {}",
            shape.cache_slots.max(shape.slots),
            main_shape.cache_slots.max(main_shape.slots)
        )));
    }
    let path = draft.to_path_buf();
    let reload: Reload = Box::new(move || load_weights(&path, options));
    Ok(DraftModel {
        model,
        reload: Some(reload),
        shared_vocab,
    })
}

/// How many token ids both files give the same token (all those of the
/// smaller vocabulary), or why they do not share one.
fn shared_vocabulary(main: &GgufFile, draft: &GgufFile) -> Result<usize, String> {
    let model = |g: &GgufFile| g.str("tokenizer.ggml.model").unwrap_or("").to_string();
    if model(main) != model(draft) {
        return Err(format!(
            "its tokenizer is `{}` and the model's is `{}`",
            model(draft),
            model(main)
        ));
    }
    let main_tokens = main.strings("tokenizer.ggml.tokens").unwrap_or_default();
    let draft_tokens = draft.strings("tokenizer.ggml.tokens").unwrap_or_default();
    let shared = main_tokens.len().min(draft_tokens.len());
    if shared == 0 {
        return Err("a file has no vocabulary".into());
    }
    if main_tokens.len().abs_diff(draft_tokens.len()) > VOCAB_SIZE_SLACK {
        return Err(format!(
            "its vocabulary has {} tokens and the model's {}",
            draft_tokens.len(),
            main_tokens.len()
        ));
    }
    if let Some(id) = (0..shared).find(|&id| main_tokens[id] != draft_tokens[id]) {
        return Err(format!(
            "token {id} is {:?} there and {:?} in the model",
            draft_tokens[id], main_tokens[id]
        ));
    }
    Ok(shared)
}
