//! Speculative decoding (`--speculative ngram`) on the real Qwen model:
//! replies are what decoding one token at a time gives, greedy and seeded
//! sampled alike, while most drafted tokens of a reply that repeats its
//! prompt are confirmed in one step; the slot's cache stays right for the
//! next request that reuses it.

use crate::common::{chat_job, collect};
use domain::GenerationParams;
use engine::{DeviceSpec, Engine, EngineOptions, LoadOptions, ModelImpl, Speculative};

fn engine(speculative: Speculative) -> Engine {
    engine_on(ModelImpl::Auto, speculative)
}

fn engine_on(model_impl: ModelImpl, speculative: Speculative) -> Engine {
    let engine = Engine::load(
        &crate::common::qwen_path(),
        EngineOptions {
            load: LoadOptions {
                device: DeviceSpec::Cpu,
                parallel: 1,
                ctx_size: Some(1024),
                model_impl,
                ..LoadOptions::default()
            },
            speculative,
            ..EngineOptions::default()
        },
    );
    engine.model().expect("model loads");
    engine
}

const EDIT: &str = "Rename the function total to sum_prices and change nothing else. Reply with \
the code only.\n\n```python\ndef total(items):\n    result = 0\n    for item in items:\n        \
if item.price > 0:\n            result += item.price * item.quantity\n    return result\n```";

fn params(temperature: f32) -> GenerationParams {
    GenerationParams {
        max_new_tokens: 80,
        temperature,
        seed: 21,
        ..GenerationParams::default()
    }
}

#[tokio::test]
async fn drafted_replies_are_the_replies_one_token_at_a_time_gives() {
    if !crate::common::fast_kernels_or_skip(
        "drafted_replies_are_the_replies_one_token_at_a_time_gives",
    ) {
        return;
    }
    let (plain, drafting) = (engine(Speculative::Off), engine(Speculative::Ngram));
    for temperature in [0.0, 0.8] {
        let job = |e: &Engine| chat_job(e, EDIT, params(temperature));
        let expected = collect(&plain, job(&plain)).await;
        let got = collect(&drafting, job(&drafting)).await;
        println!(
            "temperature {temperature}: {} of {} drafted tokens confirmed; {:?}",
            got.stats.draft_accepted,
            got.stats.draft_tokens,
            got.text()
        );
        assert_eq!(got.text(), expected.text(), "temperature {temperature}");
        assert_eq!(
            got.stats.completion_tokens,
            expected.stats.completion_tokens
        );
        assert_eq!(expected.stats.draft_tokens, 0, "off drafts nothing");
        // Greedy copies the code, which is drafted from the prompt: most
        // drafts hold. (The sampled reply rewrites it; its drafts are checked
        // all the same.)
        assert!(got.stats.draft_tokens > 0);
        if temperature == 0.0 {
            assert!(
                got.stats.draft_accepted * 2 > got.stats.draft_tokens
                    && got.stats.draft_accepted > 20,
                "{} of {}",
                got.stats.draft_accepted,
                got.stats.draft_tokens
            );
        }
        // The same request again reuses the slot's cache (the prompt and
        // as much of the reply as was kept): the same reply.
        let again = collect(&drafting, job(&drafting)).await;
        assert!(again.stats.cached_tokens > 0);
        assert_eq!(
            again.text(),
            expected.text(),
            "temperature {temperature}, again"
        );
    }
    let mut metrics = String::new();
    drafting.metrics().render(&mut metrics);
    assert!(
        metrics.contains("candlelight_speculative_accepted_tokens_total"),
        "{metrics}"
    );
}

/// The GPU path (run on candle's CPU device here) returns every drafted
/// row's logits too: greedy drafts are checked and the reply is the one
/// decoding one token at a time gives.
#[tokio::test]
async fn the_gpu_path_checks_drafts_too() {
    let (plain, drafting) = (
        engine_on(ModelImpl::Gpu, Speculative::Off),
        engine_on(ModelImpl::Gpu, Speculative::Ngram),
    );
    let job = |e: &Engine| chat_job(e, EDIT, params(0.0));
    let expected = collect(&plain, job(&plain)).await;
    let got = collect(&drafting, job(&drafting)).await;
    println!(
        "GPU path: {} of {} drafted tokens confirmed",
        got.stats.draft_accepted, got.stats.draft_tokens
    );
    assert_eq!(got.text(), expected.text());
    assert!(got.stats.draft_accepted > 20, "{:?}", got.stats);
}
