//! Speculative decoding on the real Qwen model, `--speculative ngram` and
//! a draft model: replies are what decoding one token at a time gives,
//! greedy and seeded sampled alike, while most drafted tokens of a reply
//! that repeats its prompt are confirmed in one step; the slot's cache
//! stays right for the next request that reuses it. A draft model that
//! cannot draft for the model is refused, and the model serves without.

use crate::common::{chat_job, collect};
use domain::GenerationParams;
use engine::{DeviceSpec, Engine, EngineOptions, LoadOptions, ModelImpl, Speculative};

fn engine(speculative: Speculative) -> Engine {
    engine_on(ModelImpl::Auto, speculative)
}

fn engine_on(model_impl: ModelImpl, speculative: Speculative) -> Engine {
    engine_with(model_impl, speculative, 1)
}

fn engine_with(model_impl: ModelImpl, speculative: Speculative, parallel: usize) -> Engine {
    let engine = Engine::load(
        &crate::common::qwen_path(),
        EngineOptions {
            load: LoadOptions {
                device: DeviceSpec::Cpu,
                parallel,
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

const STORY: &str =
    "Write a short story about a lighthouse keeper who finds a message in a bottle.";

/// The Qwen file drafting for itself: greedy drafts are nearly all kept
/// (the draft runs one row at a time, the check eight, so a near tie can
/// go the other way; a real pair, Qwen2.5-0.5B for a 32B, keeps fewer);
/// sampled replies reject some. Two replies draft at once. (On
/// this CPU a draft model as big as the model costs more than it saves,
/// so the scheduler drafts less as it measures that.)
#[tokio::test]
async fn replies_drafted_by_a_draft_model_are_the_replies_one_token_at_a_time_gives() {
    if !crate::common::fast_kernels_or_skip(
        "replies_drafted_by_a_draft_model_are_the_replies_one_token_at_a_time_gives",
    ) {
        return;
    }
    let draft = Speculative::Model(crate::common::qwen_path());
    let plain = engine_with(ModelImpl::Auto, Speculative::Off, 2);
    for temperature in [0.0, 0.8] {
        // A fresh engine: it drafts until it has measured that drafting
        // does not pay here.
        let drafting = engine_with(ModelImpl::Auto, draft.clone(), 2);
        let shown = drafting.model().unwrap().info.speculative.clone();
        assert_eq!(shown, "draft model qwen2.5-coder-0.5b-instruct-q4_k_m.gguf");
        let job = |e: &Engine, message: &str| chat_job(e, message, params(temperature));
        let (edit, story) = tokio::join!(
            collect(&drafting, job(&drafting, EDIT)),
            collect(&drafting, job(&drafting, STORY))
        );
        for (got, message) in [(edit, EDIT), (story, STORY)] {
            let expected = collect(&plain, job(&plain, message)).await;
            let stats = &got.stats;
            println!(
                "temperature {temperature}: {} of {} drafted tokens kept",
                stats.draft_accepted, stats.draft_tokens
            );
            assert_eq!(got.text(), expected.text(), "temperature {temperature}");
            assert!(stats.draft_tokens > 0, "{stats:?}");
            if temperature == 0.0 {
                assert!(
                    stats.draft_accepted * 4 >= stats.draft_tokens * 3,
                    "{stats:?}"
                );
            }
        }
    }
}

/// SmolLM2's vocabulary is not Qwen's: the draft is refused with the
/// reason on the Model tab (file names, no paths), and Qwen serves
/// without drafts. So does a draft file that is not there.
#[tokio::test]
async fn a_draft_model_that_cannot_draft_for_the_model_is_refused() {
    let missing = std::env::temp_dir().join("candlelight-no-such-draft.gguf");
    for (draft, why) in [
        (
            crate::common::smollm2_path(),
            "its vocabulary has 49152 tokens",
        ),
        (missing, "could not be opened"),
    ] {
        let engine = engine_with(ModelImpl::Auto, Speculative::Model(draft), 1);
        let shown = engine.model().unwrap().info.speculative.clone();
        assert!(shown.starts_with("off: "), "{shown}");
        assert!(shown.contains(why), "{shown}");
        assert!(!shown.contains('/'), "a path is shown: {shown}");
        let reply = collect(&engine, chat_job(&engine, EDIT, params(0.0))).await;
        assert!(!reply.text().is_empty());
        assert_eq!(reply.stats.draft_tokens, 0);
    }
}

/// On the GPU path (candle's CPU device here), the draft model runs on
/// the GPU path too.
#[tokio::test]
async fn the_gpu_path_drafts_with_a_draft_model() {
    let draft = Speculative::Model(crate::common::qwen_path());
    let (plain, drafting) = (
        engine_on(ModelImpl::Gpu, Speculative::Off),
        engine_on(ModelImpl::Gpu, draft),
    );
    let short = |e: &Engine| {
        let mut job = chat_job(e, EDIT, params(0.0));
        job.max_new_tokens = 24;
        job
    };
    let expected = collect(&plain, short(&plain)).await;
    let got = collect(&drafting, short(&drafting)).await;
    assert_eq!(got.text(), expected.text());
    // The Qwen file drafting for itself costs as much as it saves, so the
    // scheduler soon stops drafting; the first step's drafts are kept.
    assert!(got.stats.draft_accepted > 0, "{:?}", got.stats);
}
