//! A chat's next turn reuses the KV cache of the prefix it shares with the
//! previous turn, and gives exactly the reply a cold cache would.

use crate::common::collect;
use domain::{ChatMessage, GenerationParams, Role};
use engine::{Engine, GenerationJob};

fn job(engine: &Engine, messages: &[ChatMessage]) -> GenerationJob {
    let model = engine.model().unwrap();
    let prompt = server::ChatTemplate::of_model(&model)
        .unwrap()
        .render(messages, true)
        .unwrap();
    server::generation_job(
        model.tokenizer.encode(&prompt).unwrap(),
        &GenerationParams::greedy(24).validate().unwrap(),
        vec![],
        model.tokenizer.eos_ids().to_vec(),
    )
}

#[tokio::test]
async fn the_second_turn_reuses_the_first_turns_cache() {
    if !crate::common::fast_kernels_or_skip(
        "prefix_cache::the_second_turn_reuses_the_first_turns_cache",
    ) {
        return;
    }
    let path = crate::common::smollm2_path();
    let engine = crate::common::cpu_engine(&path, 4, 2);
    let mut messages = vec![ChatMessage::new(Role::User, "Tell me about cats.")];
    let first_job = job(&engine, &messages);
    let first_len = first_job.prompt_tokens.len();
    let first = collect(&engine, first_job).await;
    assert_eq!(first.stats.cached_tokens, 0, "a cold cache");

    messages.push(ChatMessage::new(Role::Assistant, first.text()));
    messages.push(ChatMessage::new(Role::User, "And dogs?"));
    let second_job = job(&engine, &messages);
    let second = collect(&engine, second_job.clone()).await;
    assert!(
        second.stats.cached_tokens as usize >= first_len,
        "reused {} of a {first_len}-token first prompt",
        second.stats.cached_tokens
    );

    // The same prompt on a fresh engine (nothing cached) gives the same reply.
    let cold = crate::common::cpu_engine(&path, 4, 2);
    let reference = collect(&cold, second_job).await;
    assert_eq!(reference.stats.cached_tokens, 0);
    assert_eq!(second.text(), reference.text());
}

/// Regenerating (the identical prompt again) hits the cache for all but the
/// tail the model recomputes, and still gives the cold reply: the prompt's
/// last logits do not depend on how much of it was cached.
#[tokio::test]
async fn regenerating_gives_the_cold_reply() {
    if !crate::common::fast_kernels_or_skip("prefix_cache::regenerating_gives_the_cold_reply") {
        return;
    }
    let engine = crate::common::cpu_engine(&crate::common::smollm2_path(), 4, 2);
    let messages = [ChatMessage::new(
        Role::User,
        "What is the capital of France?",
    )];
    let cold = collect(&engine, job(&engine, &messages)).await;
    let again = collect(&engine, job(&engine, &messages)).await;
    assert!(
        again.stats.cached_tokens > 0,
        "the second run reuses the cache"
    );
    assert_eq!(cold.text(), again.text());
}
