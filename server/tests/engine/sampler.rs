//! The sampler's fast path against its reference on real logits (Qwen's
//! 151,936-token vocabulary, SmolLM2's 49,152): the same tokens, seed for
//! seed, with the settings people use.

use engine::{load_model, sampler::Sampler, LoadOptions, Sampling};

/// Logits at a few positions of a greedy continuation.
fn logits_of(path: &std::path::Path, positions: usize) -> (Vec<Vec<f32>>, Vec<u32>) {
    let options = LoadOptions {
        parallel: 1,
        ..LoadOptions::default()
    };
    let (parts, mut model) = load_model(path, options).unwrap();
    let mut ids = parts
        .tokenizer
        .encode("The old lighthouse keeper opened her log and wrote")
        .unwrap();
    let mut out = Vec::new();
    let mut logits = model.forward_one(0, &ids, 0).unwrap();
    for _ in 0..positions {
        let best = logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i as u32)
            .unwrap();
        out.push(logits);
        ids.push(best);
        logits = model.forward_one(0, &[best], ids.len() - 1).unwrap();
    }
    (out, ids)
}

fn sampled(temperature: f32, top_p: f32, min_p: f32, typical_p: f32, top_k: u32) -> Sampling {
    Sampling {
        greedy: false,
        temperature,
        top_p,
        min_p,
        typical_p,
        top_k,
        repetition_penalty: 1.05,
        repetition_penalty_range: 256,
        ..Sampling::greedy()
    }
}

#[test]
fn the_fast_path_draws_the_reference_s_tokens_on_real_logits() {
    let settings = [
        sampled(0.8, 1.0, 0.0, 1.0, 0),
        sampled(0.8, 0.95, 0.0, 1.0, 0),
        sampled(1.0, 1.0, 0.05, 1.0, 0),
        sampled(0.7, 0.8, 0.0, 1.0, 20),
        sampled(1.3, 0.9, 0.02, 0.95, 0),
        sampled(2.0, 1.0, 0.0, 1.0, 0),
    ];
    let mut draws = 0;
    for path in [crate::common::qwen_path(), crate::common::smollm2_path()] {
        let (positions, context) = logits_of(&path, 6);
        for params in &settings {
            for seed in 0..60u64 {
                let params = Sampling {
                    seed: Some(seed),
                    ..params.clone()
                };
                let (mut fast, mut reference) =
                    (Sampler::new(&params, vec![]), Sampler::new(&params, vec![]));
                for logits in &positions {
                    let a = fast.sample(&mut logits.clone(), &context);
                    let b = reference.sample_reference(&mut logits.clone(), &context);
                    assert_eq!(a, b, "{} seed {seed} {params:?}", path.display());
                    draws += 1;
                }
            }
        }
    }
    assert_eq!(draws, 2 * 6 * 60 * 6);
}
