//! The q8_0 KV cache (`--cache-type q8_0`) on the real models: the same
//! greedy tokens as the f16 cache wherever the choice is not a near tie,
//! logits close, in about half the memory; refused with what to do where
//! it cannot run.

use domain::CacheType;
use engine::{load_model, BatchModel, DeviceSpec, EngineError, LoadOptions, ModelImpl};

use crate::kernels::{compare, one_slot};

fn with_cache(cache_type: CacheType) -> LoadOptions {
    LoadOptions {
        cache_type,
        ..one_slot(ModelImpl::Auto)
    }
}

/// A prompt long enough that attention reads many cache blocks.
fn long_prompt() -> String {
    let story = "The lighthouse keeper wrote in her log every evening, noting the wind, \
                 the ships that passed and the colour of the sea. ";
    format!("{}Summarise her log in one sentence:", story.repeat(8))
}

/// `tolerance`: the largest logit difference allowed over 24 steps
/// (measured: Qwen 1.13-1.38, whose keys have large outliers; Gemma
/// 0.74-0.79; a misplaced scale or block is off by whole logits everywhere).
fn q8_answers_as_f16_does(path: std::path::PathBuf, tolerance: f32, agree_above: f32) {
    let (parts, mut q8) = load_model(&path, with_cache(CacheType::Q8_0)).unwrap();
    let (_, mut f16) = load_model(&path, with_cache(CacheType::F16)).unwrap();
    assert_eq!(parts.info.cache_type, CacheType::Q8_0);
    let per_token = |m: &dyn BatchModel| m.shape().kv_bytes_per_token as f64;
    let ratio = per_token(q8.as_ref()) / per_token(f16.as_ref());
    assert!(
        (ratio - 34.0 / 64.0).abs() < 1e-9,
        "bytes per token: {ratio}"
    );
    for text in ["What is the capital of France?", long_prompt().as_str()] {
        let ids = parts.tokenizer.encode(text).unwrap();
        let (f16_tokens, q8_tokens, worst, margins) = compare(q8.as_mut(), f16.as_mut(), &ids, 24);
        println!(
            "{} prompt tokens: max |Δlogit| q8_0 vs f16 = {worst:.3}; f16 {:?}; q8_0 {:?}",
            ids.len(),
            parts.tokenizer.decode(&f16_tokens).unwrap(),
            parts.tokenizer.decode(&q8_tokens).unwrap()
        );
        assert!(worst > 0.0, "the q8_0 cache changed nothing: did it run?");
        assert!(worst <= tolerance, "{text:?}: logits differ by {worst}");
        for (i, ((a, b), m)) in f16_tokens.iter().zip(&q8_tokens).zip(&margins).enumerate() {
            if *m > agree_above {
                assert_eq!(a, b, "step {i}: f16 margin {m}");
            }
        }
        // What the caches hold now: the same positions in 34/64 of the bytes.
        let (a, b) = (q8.cache_bytes() as f64, f16.cache_bytes() as f64);
        assert!(a > 0.0 && a / b < 0.56, "q8_0 {a} bytes vs f16 {b}");
    }
}

#[test]
fn qwen_q8_0_cache_answers_as_f16_does_in_half_the_memory() {
    if !crate::common::fast_kernels_or_skip(
        "qwen_q8_0_cache_answers_as_f16_does_in_half_the_memory",
    ) {
        return;
    }
    q8_answers_as_f16_does(crate::common::qwen_path(), 2.0, 1.0);
}

/// Gemma 3's heads are 256 wide, and half its layers see a sliding window.
#[test]
fn gemma_q8_0_cache_answers_as_f16_does_in_half_the_memory() {
    if !crate::common::fast_kernels_or_skip(
        "gemma_q8_0_cache_answers_as_f16_does_in_half_the_memory",
    ) {
        return;
    }
    q8_answers_as_f16_does(crate::common::gemma_path(), 1.5, 1.0);
}

/// candle's models (the reference, and CPUs without AVX-512 VNNI) and the
/// GPU path keep no q8_0 cache: the load says so and what to use instead,
/// rather than silently running f16.
#[test]
fn a_q8_0_cache_is_refused_where_it_cannot_run() {
    for model_impl in [ModelImpl::Candle, ModelImpl::Gpu] {
        let options = LoadOptions {
            device: DeviceSpec::Cpu,
            cache_type: CacheType::Q8_0,
            ..one_slot(model_impl)
        };
        match load_model(&crate::common::smollm2_path(), options) {
            Err(e @ EngineError::Unsupported(_)) => {
                assert!(e.to_string().contains("use --cache-type f16"), "{e}")
            }
            Err(e) => panic!("{model_impl:?}: {e}"),
            Ok(_) => panic!("{model_impl:?} loaded a q8_0 cache"),
        }
    }
}
