//! Each architecture in the table on candlelight's CPU kernels, and on
//! its GPU path (`engine::gpu`, run on candle's CPU device), against a
//! reference on the same file: candle's module for the tiny random-weight
//! models (`synth-gguf --arch`; random weights prove the plumbing, not
//! quality), and llama.cpp for the real Gemma 3 file and the tiny MoE
//! (candle 0.11's gemma3 uses SiLU where Gemma uses GELU, so it is no
//! reference for the numbers; it still has to say Paris; its qwen3moe
//! runs only on CUDA). The tiny Gemma's sliding window (8 positions) is
//! checked on the GPU path against our CPU kernels.

use engine::tools::tiny::write_tiny;
use engine::{load_model, BatchModel, DeviceSpec, LoadOptions, ModelImpl, ModelParts};
use sha2::Digest;

type Model = Box<dyn BatchModel>;

fn options(model_impl: ModelImpl) -> LoadOptions {
    LoadOptions {
        device: DeviceSpec::Cpu,
        ctx_size: Some(2048),
        parallel: 1,
        model_impl,
        ..LoadOptions::default()
    }
}

/// Loads the file twice: our kernels (proved by the exact-path threshold
/// only our backend has) and candle's. `None` (after a loud skip) where
/// this CPU has no fast kernels.
fn both(path: &std::path::Path, test: &str) -> Option<(ModelParts, Model, Model)> {
    if !engine::cpu::quant::has_fast_kernels() {
        crate::common::skip(
            test,
            "this CPU lacks AVX-512 VNNI: only candle's kernels run",
        );
        return None;
    }
    let (parts, ours) = load_model(path, options(ModelImpl::Auto)).expect("our kernels load it");
    assert!(
        ours.shape().exact_from.is_some(),
        "candlelight's own CPU kernels run it"
    );
    let (_, reference) = load_model(path, options(ModelImpl::Candle)).expect("candle loads it");
    assert!(reference.shape().exact_from.is_none());
    Some((parts, ours, reference))
}

fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// Greedy steps from `prompt`: the tokens and each step's logits.
fn greedy(model: &mut dyn BatchModel, prompt: &[u32], steps: usize) -> (Vec<u32>, Vec<Vec<f32>>) {
    let mut logits = model.forward_one(0, prompt, 0).expect("prompt");
    let (mut tokens, mut all) = (Vec::new(), Vec::new());
    for _ in 0..steps {
        let next = argmax(&logits);
        tokens.push(next);
        all.push(logits);
        logits = model
            .forward_one(0, &[next], prompt.len() + tokens.len() - 1)
            .expect("step");
    }
    (tokens, all)
}

/// Log-softmax of one step's logits.
fn log_probs(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let log_sum = logits.iter().map(|l| (l - max).exp()).sum::<f32>().ln() + max;
    logits.iter().map(|l| l - log_sum).collect()
}

/// What one comparison found, for the message and the log.
struct Agreement {
    /// Free-running greedy tokens equal before the first difference.
    same_prefix: usize,
    /// Steps where the reference's choice was clear (top-2 log-probability
    /// gap above `CLEAR`), and how many of them we chose the same.
    clear: usize,
    agreed: usize,
    /// Largest log-probability difference, fed the reference's tokens.
    worst: f32,
}

impl Agreement {
    /// Logs the numbers and asserts: at least `min_clear` clear choices,
    /// every one of them the same, log-probabilities within [`BOUND`].
    fn check(&self, what: &str, min_clear: usize) {
        eprintln!(
            "{what}: greedy tokens equal for {}/32 steps; {}/{} clear choices agree; largest log-probability difference {:.4}",
            self.same_prefix, self.agreed, self.clear, self.worst
        );
        assert!(
            self.clear >= min_clear,
            "{what}: only {} clear choices",
            self.clear
        );
        assert_eq!(self.agreed, self.clear, "{what}: a clear choice differs");
        assert!(
            self.worst < BOUND,
            "{what}: log-probabilities differ by {}",
            self.worst
        );
    }
}

/// A choice is clear when the runner-up is this much less likely (in
/// log-probability): quantized activations (ours, candle's and llama.cpp's
/// each quantize them their own way) move the numbers by less.
const CLEAR: f32 = 0.5;

/// Largest log-probability difference allowed: the activation rounding of
/// the two paths (measured: at most 0.22 on the tiny models, 0.16 on Gemma).
const BOUND: f32 = 0.3;

/// Runs both models greedily, then feeds the reference's tokens to ours
/// step by step (so one near tie does not send the rest apart) and
/// compares the distributions.
fn agreement(
    ours: &mut dyn BatchModel,
    reference_tokens: &[u32],
    reference_lp: &[Option<Vec<f32>>],
    prompt: &[u32],
    own_tokens: &[u32],
) -> Agreement {
    let same_prefix = own_tokens
        .iter()
        .zip(reference_tokens)
        .take_while(|(a, b)| a == b)
        .count();
    let mut ids = prompt.to_vec();
    let mut logits = ours.forward_one(0, prompt, 0).expect("prompt");
    let (mut clear, mut agreed, mut worst) = (0, 0, 0f32);
    for (&want, lp) in reference_tokens.iter().zip(reference_lp) {
        let Some(lp) = lp else {
            ids.push(want);
            logits = ours.forward_one(0, &[want], ids.len() - 1).expect("step");
            continue;
        };
        let mine = log_probs(&logits);
        let mut sorted = lp.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        worst = worst.max((mine[want as usize] - lp[want as usize]).abs());
        if sorted[0] - sorted[1] > CLEAR {
            clear += 1;
            agreed += usize::from(argmax(&logits) == want);
        }
        ids.push(want);
        logits = ours.forward_one(0, &[want], ids.len() - 1).expect("step");
    }
    Agreement {
        same_prefix,
        clear,
        agreed,
        worst,
    }
}

/// A tiny random-weight model of `arch`, in a directory that lives as
/// long as the first value.
fn tiny(arch: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("tiny-{arch}.gguf"));
    write_tiny(arch, &path, 7).expect("tiny model");
    (dir, path)
}

/// The GPU path on candle's CPU device; loading through it (not `Auto`)
/// proves it ran: it refuses what it does not port rather than fall back.
fn gpu_path(path: &std::path::Path) -> Model {
    load_model(path, options(ModelImpl::Gpu))
        .expect("the GPU path loads it")
        .1
}

/// Our CPU path against candle's module on a tiny random-weight model.
fn matches_candle(arch: &str) {
    let (_dir, path) = tiny(arch);
    let Some((_, mut ours, mut reference)) = both(&path, &format!("architectures::{arch}")) else {
        return;
    };
    compare(arch, ours.as_mut(), reference.as_mut());
}

/// Our GPU path against candle's module on a tiny random-weight model.
fn gpu_path_matches_candle(arch: &str) {
    let (_dir, path) = tiny(arch);
    let mut ours = gpu_path(&path);
    let (_, mut reference) =
        load_model(&path, options(ModelImpl::Candle)).expect("candle loads it");
    compare(
        &format!("{arch} (GPU path)"),
        ours.as_mut(),
        reference.as_mut(),
    );
}

/// `ours` against `reference` after a short prompt (integer kernels) and
/// a long one (the prompt path): every clear greedy choice the same over
/// 32 steps, and log-probabilities within [`BOUND`].
fn compare(arch: &str, ours: &mut dyn BatchModel, reference: &mut dyn BatchModel) {
    for prompt_len in [12usize, 150] {
        let prompt: Vec<u32> = (0..prompt_len).map(|i| (i * 37 % 250) as u32 + 3).collect();
        let (want, ref_logits) = greedy(reference, &prompt, 32);
        let (own, _) = greedy(ours, &prompt, 32);
        let ref_lp: Vec<Option<Vec<f32>>> = ref_logits.iter().map(|l| Some(log_probs(l))).collect();
        let a = agreement(ours, &want, &ref_lp, &prompt, &own);
        eprintln!(
            "{arch}, {prompt_len}-token prompt: greedy tokens equal for {}/32 steps; {}/{} clear choices agree; largest log-probability difference {:.4}",
            a.same_prefix, a.agreed, a.clear, a.worst
        );
        let distinct: std::collections::HashSet<_> = want.iter().collect();
        assert!(
            distinct.len() > 3,
            "{arch}: a degenerate model proves little: {want:?}"
        );
        assert!(a.clear >= 16, "{arch}: only {} clear choices", a.clear);
        assert_eq!(a.agreed, a.clear, "{arch}: a clear choice differs");
        assert!(
            a.worst < BOUND,
            "{arch}: log-probabilities differ by {}",
            a.worst
        );
    }
}

/// Our path fed llama.cpp's greedy tokens from a fixture that
/// `scripts/reference-greedy.py` wrote.
fn follows_llama_cpp(
    ours: &mut dyn BatchModel,
    prompt: &[u32],
    fixture: &serde_json::Value,
) -> Agreement {
    let tokens: Vec<u32> = serde_json::from_value(fixture["tokens"].clone()).unwrap();
    // llama-server reports the top two (token, log-probability) pairs for
    // most choices (see the script); the rest of its distribution stands
    // at the runner-up's value, which is all the comparison needs. A
    // choice it did not report is compared by token only.
    let vocab = ours.shape().vocab;
    let mut ref_lp: Vec<Option<Vec<f32>>> = vec![None; tokens.len()];
    for step in fixture["steps"].as_array().unwrap() {
        let top2: Vec<(u32, f32)> = serde_json::from_value(step["top2"].clone()).unwrap();
        let mut v = vec![top2[1].1; vocab];
        v[top2[0].0 as usize] = top2[0].1;
        ref_lp[step["position"].as_u64().unwrap() as usize] = Some(v);
    }
    let (own, _) = greedy(ours, prompt, tokens.len());
    agreement(ours, &tokens, &ref_lp, prompt, &own)
}

fn fixture(name: &str) -> serde_json::Value {
    let path = crate::common::repo_path(&format!("server/tests/fixtures/{name}"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn llama_matches_candle() {
    matches_candle("llama");
}

#[test]
fn qwen2_matches_candle() {
    matches_candle("qwen2");
}

#[test]
fn qwen3_matches_candle() {
    matches_candle("qwen3");
}

/// candle 0.11 runs its qwen3moe only on CUDA, so the tiny MoE model is
/// checked against llama.cpp's greedy run on the same file instead.
#[test]
fn qwen3moe_follows_llama_cpp() {
    let (_dir, path) = tiny("qwen3moe");
    let fixture = moe_fixture(&path);
    if !engine::cpu::quant::has_fast_kernels() {
        return crate::common::skip("architectures::qwen3moe", "this CPU lacks AVX-512 VNNI");
    }
    let (_, mut ours) = load_model(&path, options(ModelImpl::Auto)).unwrap();
    assert!(ours.shape().exact_from.is_some(), "our kernels run it");
    let prompt: Vec<u32> = serde_json::from_value(fixture["prompt"].clone()).unwrap();
    follows_llama_cpp(ours.as_mut(), &prompt, &fixture).check("qwen3moe vs llama.cpp", 16);
}

/// llama.cpp's greedy run on the tiny MoE, checked to be of this file.
fn moe_fixture(path: &std::path::Path) -> serde_json::Value {
    let fixture = fixture("tiny-qwen3moe-greedy.json");
    let sha = format!("{:x}", sha2::Sha256::digest(std::fs::read(path).unwrap()));
    assert_eq!(
        fixture["model_sha256"].as_str(),
        Some(sha.as_str()),
        "the tiny model changed: regenerate the fixture with scripts/reference-greedy.py"
    );
    fixture
}

#[test]
fn phi3_matches_candle() {
    matches_candle("phi3");
}

#[test]
fn llama_qwen2_qwen3_and_phi3_on_the_gpu_path_match_candle() {
    for arch in ["llama", "qwen2", "qwen3", "phi3"] {
        gpu_path_matches_candle(arch);
    }
}

/// The experts routed on the host, each run on the rows that chose it,
/// follow llama.cpp on the tiny MoE.
#[test]
fn qwen3moe_on_the_gpu_path_follows_llama_cpp() {
    let (_dir, path) = tiny("qwen3moe");
    let fixture = moe_fixture(&path);
    let mut ours = gpu_path(&path);
    let prompt: Vec<u32> = serde_json::from_value(fixture["prompt"].clone()).unwrap();
    follows_llama_cpp(ours.as_mut(), &prompt, &fixture)
        .check("qwen3moe (GPU path) vs llama.cpp", 16);
}

/// The tiny Gemma's window (8 positions) hides most of a 150-token prompt
/// from its local layers, which turn at their own rope base: the GPU path
/// against our CPU kernels (which follow llama.cpp on the real file).
#[test]
fn gemma3_sliding_windows_on_the_gpu_path_match_our_cpu_kernels() {
    let (_dir, path) = tiny("gemma3");
    if !engine::cpu::quant::has_fast_kernels() {
        return crate::common::skip(
            "architectures::gemma3 sliding windows",
            "this CPU lacks AVX-512 VNNI: our CPU kernels are the reference here",
        );
    }
    let (_, mut reference) = load_model(&path, options(ModelImpl::Auto)).unwrap();
    assert!(reference.shape().exact_from.is_some(), "our kernels run it");
    let mut ours = gpu_path(&path);
    compare("gemma3 (GPU path)", ours.as_mut(), reference.as_mut());
}

/// The real Gemma 3 on the GPU path says Paris and follows llama.cpp.
#[test]
fn gemma3_on_the_gpu_path_says_paris_and_follows_llama_cpp() {
    let path = crate::common::gemma_path();
    let (parts, mut ours) =
        load_model(&path, options(ModelImpl::Gpu)).expect("the GPU path loads it");
    let fixture = fixture("gemma3-greedy.json");
    let prompt = parts
        .tokenizer
        .encode(fixture["prompt"].as_str().unwrap())
        .unwrap();
    let (tokens, _) = greedy(ours.as_mut(), &prompt, 8);
    let text = parts.tokenizer.decode(&tokens).unwrap();
    assert!(text.trim_start().starts_with("Paris"), "{text:?}");
    follows_llama_cpp(ours.as_mut(), &prompt, &fixture).check("gemma3 (GPU path) vs llama.cpp", 20);
}

/// The Gemma 3 base model continues "The capital of France is the city of"
/// with Paris on our kernels and on candle's, and our numbers follow
/// llama.cpp's: fed llama.cpp's 32 greedy tokens, we pick the same token
/// wherever llama.cpp's choice is not a near tie, with log-probabilities
/// close to its own.
#[test]
fn gemma3_says_paris_and_follows_llama_cpp() {
    let path = crate::common::gemma_path();
    let Some((parts, mut ours, mut reference)) = both(&path, "architectures::gemma3") else {
        return;
    };
    let fixture = fixture("gemma3-greedy.json");
    let prompt = parts
        .tokenizer
        .encode(fixture["prompt"].as_str().unwrap())
        .unwrap();
    for (name, model) in [("ours", &mut ours), ("candle", &mut reference)] {
        let (tokens, _) = greedy(model.as_mut(), &prompt, 8);
        let text = parts.tokenizer.decode(&tokens).unwrap();
        assert!(text.trim_start().starts_with("Paris"), "{name}: {text:?}");
    }
    follows_llama_cpp(ours.as_mut(), &prompt, &fixture).check("gemma3 vs llama.cpp", 20);
}
