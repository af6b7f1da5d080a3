//! Many replies at once on the real models: the batched forward gives each
//! sequence exactly the logits it gets alone, and four concurrent requests
//! with fixed seeds give the same text as the same four run one by one.

use crate::common::{chat_job, collect, cpu_engine};
use domain::GenerationParams;
use engine::{load_model, DeviceSpec, LoadOptions, ModelImpl, SeqChunk};

/// Four sequences of different lengths, prompts and decode steps mixed in
/// one batch, against each sequence alone: the same logits, bit for bit
/// (every row's computation depends only on its own sequence).
fn batched_logits_equal_single(path: std::path::PathBuf) {
    let options = LoadOptions {
        device: DeviceSpec::Cpu,
        parallel: 4,
        model_impl: ModelImpl::Auto,
        ..LoadOptions::default()
    };
    let (parts, mut batched) = load_model(&path, options).unwrap();
    let (_, mut alone) = load_model(&path, options).unwrap();
    let prompts: Vec<Vec<u32>> = [
        "What is the capital of France?",
        "写一首关于月亮的诗。",
        "fn main() { println!(\"hi\"); }",
        "A much longer question about the history of lighthouses on the coast, and why they were built where they stand today, please.",
    ]
    .iter()
    .map(|t| parts.tokenizer.encode(t).unwrap())
    .collect();
    // Step 1: all four prompts in one batch (long ones exact, short ones not).
    let exact = |p: &Vec<u32>| p.len() >= 16;
    let chunks: Vec<SeqChunk> = prompts
        .iter()
        .enumerate()
        .map(|(slot, p)| SeqChunk {
            slot,
            tokens: p,
            start: 0,
            logits: true,
            all_logits: false,
            exact: exact(p),
        })
        .collect();
    let together = batched.forward(&chunks).unwrap();
    let mut next: Vec<u32> = Vec::new();
    for (slot, p) in prompts.iter().enumerate() {
        let single = alone
            .forward(&[SeqChunk {
                slot,
                tokens: p,
                start: 0,
                logits: true,
                all_logits: false,
                exact: exact(p),
            }])
            .unwrap()
            .remove(0);
        assert_eq!(together[slot], single, "prompt of slot {slot}");
        next.push(argmax(&single));
    }
    // Steps 2..: decode steps of all four together, against each alone.
    let mut positions: Vec<usize> = prompts.iter().map(Vec::len).collect();
    for step in 0..8 {
        let feed = next.clone();
        let chunks: Vec<SeqChunk> = feed
            .iter()
            .enumerate()
            .map(|(slot, t)| SeqChunk {
                slot,
                tokens: std::slice::from_ref(t),
                start: positions[slot],
                logits: true,
                all_logits: false,
                exact: false,
            })
            .collect();
        let together = batched.forward(&chunks).unwrap();
        for slot in 0..4 {
            let single = alone.forward(&[chunks[slot]]).unwrap().remove(0);
            assert_eq!(together[slot], single, "step {step}, slot {slot}");
            next[slot] = argmax(&single);
            positions[slot] += 1;
        }
    }
}

fn argmax(l: &[f32]) -> u32 {
    l.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i as u32)
}

#[test]
fn smollm2_batched_logits_equal_single_sequence_logits() {
    if crate::common::fast_kernels_or_skip("smollm2_batched_logits_equal_single_sequence_logits") {
        batched_logits_equal_single(crate::common::smollm2_path());
    }
}

#[test]
fn qwen_batched_logits_equal_single_sequence_logits() {
    if crate::common::fast_kernels_or_skip("qwen_batched_logits_equal_single_sequence_logits") {
        batched_logits_equal_single(crate::common::qwen_path());
    }
}

/// The engine end to end: four requests with fixed seeds at once give the
/// texts they give one by one, and they really ran in shared batches.
#[tokio::test]
async fn concurrent_requests_give_the_texts_they_give_one_by_one() {
    let path = crate::common::smollm2_path();
    let questions = [
        "Tell me about the Moon.",
        "Give me three names for a cat.",
        "What is 12 times 7?",
        "Describe a lighthouse at night.",
    ];
    let params = |seed: i64| GenerationParams {
        max_new_tokens: 40,
        temperature: 0.8,
        top_p: 0.95,
        top_k: 40,
        seed,
        ..GenerationParams::default()
    };
    let sequential = cpu_engine(&path, 4, 8);
    let mut alone = Vec::new();
    for (i, q) in questions.iter().enumerate() {
        let job = chat_job(&sequential, q, params(i as i64 + 1));
        alone.push(collect(&sequential, job).await.text());
    }

    let engine = cpu_engine(&path, 4, 8);
    let jobs: Vec<_> = questions
        .iter()
        .enumerate()
        .map(|(i, q)| chat_job(&engine, q, params(i as i64 + 1)))
        .collect();
    let replies = futures::future::join_all(jobs.into_iter().map(|j| collect(&engine, j))).await;
    let together: Vec<String> = replies.iter().map(|r| r.text()).collect();
    assert_eq!(alone, together);

    let slots = engine.model().unwrap().info.slots;
    let mut metrics = String::new();
    engine.metrics().render(&mut metrics);
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let rows_per_batch =
        value("candlelight_batch_rows_sum") / value("candlelight_batch_rows_count");
    if slots > 1 {
        assert!(
            rows_per_batch > 2.0,
            "{rows_per_batch} rows per batch:\n{metrics}"
        );
    } else {
        crate::common::skip(
            "concurrent_requests_give_the_texts_they_give_one_by_one (batching)",
            "candle's path has one slot: the requests ran one after another",
        );
    }
}
