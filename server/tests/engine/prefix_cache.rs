//! A chat's next turn reuses the KV cache of the prefix it shares with the
//! previous turn, and gives the reply a cold cache would (exactly, where
//! the cached tokens were read as prompt).

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

    // The same prompt on a fresh engine (nothing cached) starts the same
    // reply. Not necessarily all of it: the cached run decoded the first
    // reply one token at a time, the cold one reads it as prompt on the
    // prompt kernel; both are 8-bit but add in another order, and a near
    // tie later in the reply can go either way. A wrong cache (positions,
    // another slot's rows) would differ from the first word.
    let cold = crate::common::cpu_engine(&path, 4, 2);
    let reference = collect(&cold, second_job).await;
    assert_eq!(reference.stats.cached_tokens, 0);
    let words = |t: &str| t.split_whitespace().take(8).collect::<Vec<_>>().join(" ");
    let (cached_text, cold_text) = (second.text(), reference.text());
    assert_eq!(
        words(&cached_text),
        words(&cold_text),
        "{cached_text:?} vs {cold_text:?}"
    );
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

/// A long character card: a chat that opens with it reads ~700 tokens.
fn card(parts: &engine::ModelParts) -> Vec<u32> {
    let line = "Aria is a lighthouse keeper on a windy northern island. She logs the ships, \
                the weather and the colour of the sea, and answers in short, kind sentences. ";
    crate::common::prompt_ids(parts, &line.repeat(16))
}

/// The prompt cache copies a prefix between slots byte for byte: a slot
/// that starts from a copied card (while the card's own slot goes on)
/// gives exactly the logits of the card's slot cut back to the card, for
/// both cache types. A slot freed under the cache refuses a chunk that
/// would read what it no longer holds, and read again from the start it
/// gives a cold slot's logits.
#[test]
fn a_copied_prefix_gives_the_logits_of_the_prefix_in_place() {
    use domain::CacheType;
    use engine::{load_model, DeviceSpec, LoadOptions};
    if !crate::common::fast_kernels_or_skip(
        "prefix_cache::a_copied_prefix_gives_the_logits_of_the_prefix_in_place",
    ) {
        return;
    }
    for cache_type in [CacheType::F16, CacheType::Q8_0] {
        let options = LoadOptions {
            device: DeviceSpec::Cpu,
            parallel: 2,
            cache_type,
            ..LoadOptions::default()
        };
        let (parts, mut model) = load_model(&crate::common::qwen_path(), options).unwrap();
        let shape = model.shape();
        assert!(
            shape.prefix_copy && shape.cache_slots > shape.slots,
            "{shape:?}"
        );
        let card = card(&parts);
        let n = card.len();
        let tail = parts.tokenizer.encode(" What did you see today?").unwrap();
        model.forward_one(0, &card, 0).unwrap();
        model.copy_prefix(0, 3, n).unwrap();
        // The card's slot goes on with other tokens (a running reply).
        model.forward_one(0, &[11, 12, 13, 14, 15], n).unwrap();
        let copied = model.forward_one(3, &tail, n).unwrap();
        let in_place = model.forward_one(0, &tail, n).unwrap();
        assert_eq!(copied, in_place, "{cache_type:?}");
        // Freed: a chunk past position 0 is refused, not read from stale memory.
        let before = model.cache_bytes();
        model.clear_slot(3);
        assert!(model.cache_bytes() < before);
        assert!(model.forward_one(3, &tail, n).is_err());
        let mut whole = card.clone();
        whole.extend(&tail);
        let again = model.forward_one(3, &whole, 0).unwrap();
        let (_, mut cold) = load_model(&crate::common::qwen_path(), options).unwrap();
        assert_eq!(
            again,
            cold.forward_one(0, &whole, 0).unwrap(),
            "{cache_type:?}"
        );
        println!("{cache_type:?}: {n}-token card copied; logits equal to the card in place");
    }
}

/// Through the scheduler: a second chat with the same card, sent while
/// the first is replying, starts from the first chat's card (copied) and
/// gives the reply an engine that reuses the card in place gives.
#[tokio::test]
async fn a_second_chat_starts_from_the_card_the_first_is_replying_to() {
    use engine::{Cancel, EngineEvent};
    if !crate::common::fast_kernels_or_skip(
        "prefix_cache::a_second_chat_starts_from_the_card_the_first_is_replying_to",
    ) {
        return;
    }
    let path = crate::common::qwen_path();
    let engine = crate::common::cpu_engine(&path, 2, 2);
    let parts = engine.model().unwrap();
    let card = card(&parts);
    let job_after = |extra: &str, max_new: u32| {
        let mut prompt = card.clone();
        prompt.extend(parts.tokenizer.encode(extra).unwrap());
        server::generation_job(
            prompt,
            &GenerationParams::greedy(max_new).validate().unwrap(),
            vec![],
            vec![],
        )
    };
    let mut first = engine
        .submitter()
        .submit(job_after(" Tell me a long story.", 200), Cancel::default())
        .unwrap();
    loop {
        match first.recv().await {
            Some(EngineEvent::Text(_)) => break,
            Some(EngineEvent::Failed(e)) => panic!("{e}"),
            Some(_) => {}
            None => panic!("the first chat ended"),
        }
    }
    let second_job = job_after(" What did you see today?", 12);
    let second = collect(&engine, second_job.clone()).await;
    assert_eq!(
        second.stats.cached_tokens as usize,
        card.len(),
        "the card was copied"
    );
    drop(first);
    let one_slot = crate::common::cpu_engine(&path, 1, 1);
    collect(&one_slot, job_after(" Tell me a long story.", 1)).await;
    let reference = collect(&one_slot, second_job).await;
    assert_eq!(
        reference.stats.cached_tokens as usize,
        card.len(),
        "reused in place"
    );
    assert_eq!(second.text(), reference.text());
    println!("{} card tokens copied; {:?}", card.len(), second.text());
}
