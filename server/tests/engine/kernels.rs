//! candlelight's own CPU path against candle's models (the reference), on
//! the real models: the same greedy tokens, and logits within tolerance at
//! every step of the same token sequence.

use engine::{load_model, BatchModel, DeviceSpec, LoadOptions, ModelImpl, SeqChunk};

/// Both paths quantize activations to 8 bits, but in different block
/// sizes (candle: 256 for K-quants) and with differently rounded scales, so
/// logits of magnitude 10-30 differ by a few tenths (Qwen) and up to ~2 on
/// SmolLM2, whose activations have larger outliers; against the exact f32
/// computation both are equally far (see the last test).
const QWEN_TOLERANCE: f32 = 1.0;
const SMOLLM2_TOLERANCE: f32 = 2.5;

/// Our kernels run only on CPUs with AVX-512 VNNI; elsewhere `ModelImpl::Auto`
/// is candle too, and comparing candle with itself proves nothing.
fn ours_run_here(test: &str) -> bool {
    let ok = engine::cpu::quant::has_fast_kernels();
    if !ok {
        crate::common::skip(
            test,
            "this CPU lacks AVX-512 VNNI: our kernels do not run here",
        );
    }
    ok
}

/// One sequence slot on the CPU, on the given kernels.
pub(crate) fn one_slot(model_impl: ModelImpl) -> LoadOptions {
    LoadOptions {
        device: DeviceSpec::Cpu,
        parallel: 1,
        model_impl,
        ..LoadOptions::default()
    }
}

fn argmax(l: &[f32]) -> (u32, f32) {
    let mut best = (0usize, f32::NEG_INFINITY, f32::NEG_INFINITY);
    for (i, &v) in l.iter().enumerate() {
        if v > best.1 {
            best = (i, v, best.1);
        } else if v > best.2 {
            best.2 = v;
        }
    }
    (best.0 as u32, best.1 - best.2)
}

/// Feeds the same tokens to both models; returns the reference's greedy
/// tokens, the fast path's greedy choices at each step, the largest logit
/// difference, and the reference's top-2 margin at each step.
pub(crate) fn compare(
    fast: &mut dyn BatchModel,
    reference: &mut dyn BatchModel,
    prompt: &[u32],
    steps: usize,
) -> (Vec<u32>, Vec<u32>, f32, Vec<f32>) {
    let mut lf = fast.forward_one(0, prompt, 0).unwrap();
    let mut lr = reference.forward_one(0, prompt, 0).unwrap();
    let (mut ref_tokens, mut fast_tokens, mut worst, mut margins) = (vec![], vec![], 0f32, vec![]);
    for step in 0..steps {
        assert_eq!(lf.len(), lr.len());
        worst = worst.max(
            lf.iter()
                .zip(&lr)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max),
        );
        let (rt, margin) = argmax(&lr);
        let (ft, _) = argmax(&lf);
        ref_tokens.push(rt);
        fast_tokens.push(ft);
        margins.push(margin);
        let pos = prompt.len() + step;
        lf = fast.forward_one(0, &[rt], pos).unwrap();
        lr = reference.forward_one(0, &[rt], pos).unwrap();
    }
    (ref_tokens, fast_tokens, worst, margins)
}

/// Same greedy tokens wherever the reference's top-2 margin exceeds
/// `agree_above` (below it, a different summation order may flip a near
/// tie), and logits within `tolerance` at every step.
fn check(path: std::path::PathBuf, prompts: &[&str], tolerance: f32, agree_above: f32) {
    let (parts, mut fast) = load_model(&path, one_slot(ModelImpl::Auto)).unwrap();
    let (_, mut reference) = load_model(&path, one_slot(ModelImpl::Candle)).unwrap();
    for text in prompts {
        let ids = crate::common::prompt_ids(&parts, text);
        let (ref_tokens, fast_tokens, worst, margins) =
            compare(fast.as_mut(), reference.as_mut(), &ids, 24);
        println!(
            "{text:?}: max |Δlogit| = {worst:.3}; reference {:?}",
            parts.tokenizer.decode(&ref_tokens).unwrap()
        );
        assert!(worst <= tolerance, "{text:?}: logits differ by {worst}");
        for (i, ((r, f), m)) in ref_tokens
            .iter()
            .zip(&fast_tokens)
            .zip(&margins)
            .enumerate()
        {
            if *m > agree_above {
                assert_eq!(r, f, "{text:?} step {i}: reference margin {m}");
            }
        }
    }
}

#[test]
fn smollm2_matches_candle() {
    if !ours_run_here("smollm2_matches_candle") {
        return;
    }
    check(
        crate::common::smollm2_path(),
        &[
            "What is the capital of France?",
            "Write a haiku about the sea.",
            "List three colors.",
        ],
        SMOLLM2_TOLERANCE,
        2.0 * SMOLLM2_TOLERANCE,
    );
}

#[test]
fn qwen_matches_candle() {
    if !ours_run_here("qwen_matches_candle") {
        return;
    }
    check(
        crate::common::qwen_path(),
        &[
            "What is the capital of France?",
            "写一首关于春天的短诗。",
            "def fib(n):",
        ],
        QWEN_TOLERANCE,
        QWEN_TOLERANCE,
    );
}

/// Q5_K (the format of Q5_K_M files' big matrices): Qwen with every matrix
/// of whole 256-value super-blocks requantized to it (the 24 feed-forward
/// down projections; the rest have 896 columns and keep their format), on
/// our kernels for prompt and decode, against candle.
#[test]
fn qwen_with_q5_k_matches_candle() {
    if !ours_run_here("qwen_with_q5_k_matches_candle") {
        return;
    }
    use engine::tools::quantize::{run, QuantizeArgs, Target};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qwen-q5_k.gguf");
    let converted = run(&QuantizeArgs {
        model: crate::common::qwen_path(),
        out: path.clone(),
        to: Target::Q5K,
    })
    .unwrap();
    assert_eq!(converted, 24, "the down projections");
    let (parts, _) = load_model(&path, one_slot(ModelImpl::Auto)).unwrap();
    assert!(
        parts.info.cpu_threads.is_some(),
        "our kernels load Q5_K (candle's are the fallback)"
    );
    check(
        path,
        &["What is the capital of France?", "def fib(n):"],
        QWEN_TOLERANCE,
        QWEN_TOLERANCE,
    );
}

/// SmolLM2 with every weight matrix dequantized to f32, written in `dir`.
fn smollm2_as_f32(dir: &std::path::Path) -> std::path::PathBuf {
    use engine::tools::quantize::{run, QuantizeArgs, Target};
    let path = dir.join("smollm2-f32.gguf");
    run(&QuantizeArgs {
        model: crate::common::smollm2_path(),
        out: path.clone(),
        to: Target::F32,
    })
    .unwrap();
    path
}

/// Both quantized paths against the exact computation (the same weights
/// dequantized to f32, run by candle in f32): ours must be as close as
/// candle's own quantized kernels.
#[test]
fn smollm2_is_as_close_to_exact_f32_as_candle() {
    if !ours_run_here("smollm2_is_as_close_to_exact_f32_as_candle") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exact_path = smollm2_as_f32(dir.path());
    let path = crate::common::smollm2_path();
    let (parts, mut fast) = load_model(&path, one_slot(ModelImpl::Auto)).unwrap();
    let (_, mut candle) = load_model(&path, one_slot(ModelImpl::Candle)).unwrap();
    let (_, mut exact) = load_model(&exact_path, one_slot(ModelImpl::Candle)).unwrap();
    // The worst prompt of each: which of two 8-bit paths lands nearer on
    // one prompt is chance (ours 1.01 and 1.22, candle 1.53 and 0.81).
    let (mut ours_worst, mut candle_worst) = (0f32, 0f32);
    for text in [
        "What is the capital of France?",
        "Write a haiku about the sea.",
    ] {
        let ids = crate::common::prompt_ids(&parts, text);
        let (_, _, fast_err, _) = compare(fast.as_mut(), exact.as_mut(), &ids, 16);
        let (_, _, candle_err, _) = compare(candle.as_mut(), exact.as_mut(), &ids, 16);
        println!("{text:?}: max |Δlogit| vs exact f32: ours {fast_err:.3}, candle {candle_err:.3}");
        ours_worst = ours_worst.max(fast_err);
        candle_worst = candle_worst.max(candle_err);
    }
    assert!(
        ours_worst <= candle_worst * 1.25 + 0.1,
        "ours {ours_worst} vs candle {candle_worst}"
    );
}

/// On f32 weights a prompt on our exact path (the f32 matrix products) is
/// computed without quantizing the activations on either path, so ours and
/// candle's differ only by f32 summation order and by our KV cache holding
/// f16 (as llama.cpp's does; candle's holds f32): 0.016 measured on these
/// prompts, where a wrong product or layout is off by whole logits. The
/// pieces are exact on their own (the gemm and attention unit tests).
/// (Single tokens run on 8-bit activations and are covered above.)
#[test]
fn f32_weights_give_candles_prompt_logits() {
    if !ours_run_here("f32_weights_give_candles_prompt_logits") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exact_path = smollm2_as_f32(dir.path());
    let (parts, mut ours) = load_model(&exact_path, one_slot(ModelImpl::Auto)).unwrap();
    let (_, mut candle) = load_model(&exact_path, one_slot(ModelImpl::Candle)).unwrap();
    for text in [
        "What is the capital of France?",
        "Write a haiku about the sea.",
    ] {
        let ids = crate::common::prompt_ids(&parts, text);
        let exact = SeqChunk {
            slot: 0,
            tokens: &ids,
            start: 0,
            logits: true,
            all_logits: false,
            exact: true,
        };
        let a = ours.forward(&[exact]).unwrap().remove(0);
        let b = candle.forward_one(0, &ids, 0).unwrap();
        let err = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        println!("{text:?}: max |Δlogit| = {err:.5}");
        assert!(err < 0.05, "ours and candle differ by {err} on f32 weights");
    }
}
