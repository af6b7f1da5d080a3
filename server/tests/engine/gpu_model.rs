//! The GPU path's model (`server::gpu`) on candle's CPU device, against
//! candle's own models (the reference), on the real files: the same greedy
//! tokens over 32 steps and logits within a bound; chunks of two sequences
//! in one forward give what each gives alone; a slot cut back to a shared
//! prefix continues as a fresh one would. On a GPU the same code runs in
//! bf16 (checked by scripts/gpu-check.sh).

use domain::CacheType;
use engine::{load_model, BatchModel, DeviceSpec, LoadOptions, ModelImpl, SeqChunk};

/// Both compute in f32 with the same quantized matrix kernels, and every
/// step is bit-identical except grouped-query attention, which multiplies
/// a group's query heads as one matrix (a different summation order than
/// one product per head: ~1e-6, see `gpu::attention`'s unit test). candle
/// quantizes each matrix product's input to 8 bits, and a value that
/// lands on the other side of a rounding step moves the logits by a few
/// tenths: measured 0 on SmolLM2 (3 query heads per key head) and ≤ 0.6 on
/// Qwen (7 per key head, K-quants).
const TOLERANCE: f32 = 1.0;
const STEPS: usize = 32;

fn options(model_impl: ModelImpl, parallel: usize) -> LoadOptions {
    LoadOptions {
        device: DeviceSpec::Cpu,
        parallel,
        ctx_size: Some(1024),
        model_impl,
        ..LoadOptions::default()
    }
}

/// Our GPU model itself (not behind `load_model`, for what only it tells),
/// on candle's CPU device.
fn gpu_model(
    path: &std::path::Path,
    slots: usize,
    ctx_size: usize,
    activations: Option<candle_core::DType>,
) -> engine::gpu::GpuModel {
    use engine::{gpu::Capacity, model_port::hyperparams::Hyperparams, GgufFile};
    let GgufFile {
        content,
        mut reader,
    } = GgufFile::open(path).unwrap();
    let params = Hyperparams::read(&content).unwrap();
    let capacity = Capacity {
        ctx_size: Some(ctx_size),
        slots,
        memory_limit: None,
        activations,
    };
    let device = candle_core::Device::Cpu;
    engine::gpu::GpuModel::load(path, content, &mut reader, params, &device, capacity).unwrap()
}

fn argmax(l: &[f32]) -> u32 {
    l.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 {
                (i, v)
            } else {
                best
            }
        })
        .0 as u32
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Greedy decoding on each model by itself; returns both token lists and
/// the largest logit difference while they agree.
fn greedy_side_by_side(
    ours: &mut dyn BatchModel,
    reference: &mut dyn BatchModel,
    prompt: &[u32],
) -> (Vec<u32>, Vec<u32>, f32) {
    let mut lo = ours.forward_one(0, prompt, 0).unwrap();
    let mut lr = reference.forward_one(0, prompt, 0).unwrap();
    let (mut to, mut tr, mut worst) = (vec![], vec![], 0f32);
    for step in 0..STEPS {
        worst = worst.max(max_diff(&lo, &lr));
        to.push(argmax(&lo));
        tr.push(argmax(&lr));
        let pos = prompt.len() + step;
        lo = ours.forward_one(0, &[*to.last().unwrap()], pos).unwrap();
        lr = reference
            .forward_one(0, &[*tr.last().unwrap()], pos)
            .unwrap();
    }
    (to, tr, worst)
}

fn matches_candle(path: std::path::PathBuf, prompts: &[&str]) {
    let prompts: Vec<String> = prompts.iter().map(|p| p.to_string()).collect();
    matches_candle_on(path, &prompts);
}

fn matches_candle_on(path: std::path::PathBuf, prompts: &[String]) {
    let (parts, mut ours) = load_model(&path, options(ModelImpl::Gpu, 1)).unwrap();
    let (_, mut reference) = load_model(&path, options(ModelImpl::Candle, 1)).unwrap();
    for text in prompts {
        let ids = crate::common::prompt_ids(&parts, text);
        let (to, tr, worst) = greedy_side_by_side(ours.as_mut(), reference.as_mut(), &ids);
        println!(
            "{} prompt tokens: max |Δlogit| = {worst:.5}; {:?}",
            ids.len(),
            parts.tokenizer.decode(&to).unwrap()
        );
        assert_eq!(to, tr, "{text:?}: greedy tokens differ");
        assert!(worst <= TOLERANCE, "{text:?}: logits differ by {worst}");
    }
}

#[test]
fn smollm2_on_the_gpu_path_matches_candle_on_cpu() {
    matches_candle(
        crate::common::smollm2_path(),
        &["What is the capital of France?", "List three colors."],
    );
}

#[test]
fn qwen_on_the_gpu_path_matches_candle_on_cpu() {
    // The third prompt is longer than a block of query rows
    // (gpu::attention's QUERY_BLOCK), so its attention runs in blocks.
    let long = format!(
        "Summarize this log in one sentence:\n{}",
        "The lighthouse keeper noted the wind, the ships that passed and the colour of the sea. "
            .repeat(8)
    );
    matches_candle_on(
        crate::common::qwen_path(),
        &[
            "What is the capital of France?".into(),
            "写一首关于春天的短诗。".into(),
            long,
        ],
    );
}

/// Two sequences' chunks in one forward (a prompt beside a decode step)
/// give the logits each gives alone, and a slot cut back to a shared
/// prefix continues as a fresh slot does. Within [`TOLERANCE`], not
/// exactly: candle multiplies one row (a decode step alone) by Q6_K
/// weights on another kernel than many rows, with its input quantized in
/// other blocks.
#[test]
fn batched_chunks_and_cut_back_slots_match_single_runs() {
    let (parts, mut model) =
        load_model(&crate::common::qwen_path(), options(ModelImpl::Gpu, 2)).unwrap();
    assert!(model.shape().prefix_reuse && model.shape().slots == 2);
    let a = crate::common::prompt_ids(&parts, "Name a prime number.");
    let b = crate::common::prompt_ids(&parts, "What colour is the sky?");

    let alone_a = model.forward_one(0, &a, 0).unwrap();
    let alone_b = model.forward_one(1, &b, 0).unwrap();
    let next_a = model.forward_one(0, &[argmax(&alone_a)], a.len()).unwrap();

    // Slot 0 holds a + 1 token; slot 1 is read again from its start.
    let out = model
        .forward(&[
            SeqChunk {
                slot: 1,
                tokens: &b,
                start: 0,
                logits: true,
                all_logits: false,
                exact: false,
            },
            SeqChunk {
                slot: 0,
                tokens: &[argmax(&alone_a)],
                start: a.len(),
                logits: true,
                all_logits: false,
                exact: false,
            },
        ])
        .unwrap();
    assert_eq!(out.len(), 2);
    let (db, da) = (max_diff(&out[0], &alone_b), max_diff(&out[1], &next_a));
    println!("batched vs alone: {db:.6} (prompt), {da:.6} (decode)");
    assert!(db <= TOLERANCE && da <= TOLERANCE, "{db} {da}");
    assert_eq!(argmax(&out[0]), argmax(&alone_b));
    assert_eq!(argmax(&out[1]), argmax(&next_a));

    // Cut slot 0 back to the shared chat prefix and give it b's ending.
    let shared = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    assert!(shared > 4 && shared < b.len());
    let cut = model.forward_one(0, &b[shared..], shared).unwrap();
    let d = max_diff(&cut, &alone_b);
    println!("cut back to {shared} tokens vs fresh: {d:.6}");
    assert!(d <= TOLERANCE, "{d}");
    assert_eq!(argmax(&cut), argmax(&alone_b));
}

/// Too long a chunk is refused with the context's size, not a crash.
#[test]
fn the_gpu_path_refuses_what_its_slots_cannot_hold() {
    let (_, mut model) =
        load_model(&crate::common::smollm2_path(), options(ModelImpl::Gpu, 1)).unwrap();
    let long = vec![1u32; 1025];
    let err = model.forward_one(0, &long, 0).unwrap_err().to_string();
    assert!(err.contains("1024"), "{err}");
    let err = model
        .forward(&[SeqChunk {
            slot: 3,
            tokens: &[1],
            start: 0,
            logits: true,
            all_logits: false,
            exact: false,
        }])
        .unwrap_err()
        .to_string();
    assert!(err.contains("slot 3"), "{err}");
}

/// `--gpu-memory`: slots that do not fit are refused at load with the
/// number of tokens that would, and that many load.
#[test]
fn a_context_that_does_not_fit_the_gpu_memory_is_refused_with_what_fits() {
    let limit = 700 << 20;
    let with = |parallel| LoadOptions {
        gpu_memory: Some(limit),
        ..options(ModelImpl::Gpu, parallel)
    };
    let err = match load_model(&crate::common::smollm2_path(), with(64)) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("64 slots of 1024 tokens fit in 700 MiB"),
    };
    println!("{err}");
    let fit: usize = err
        .split("room for ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no token count in: {err}"));
    assert!(err.contains("--ctx-size"), "{err}");
    let slots = fit / 1024;
    assert!((1..64).contains(&slots), "{fit}");
    let (parts, model) = load_model(&crate::common::smollm2_path(), with(slots)).unwrap();
    assert_eq!(model.shape().slots, slots);
    // What the Model tab shows.
    assert_eq!(parts.info.kv_tokens_that_fit, Some(fit));
}

/// The GPU check's benchmark decodes after a depth of context in every
/// slot (llama-bench's -d), here on SmolLM2 on the CPU.
#[test]
fn bench_decodes_after_a_depth_of_context() {
    use engine::tools::bench::{run, BenchArgs};
    let args = BenchArgs {
        model: crate::common::smollm2_path(),
        prompt_tokens: 32,
        gen_tokens: 8,
        threads: None,
        device: DeviceSpec::Cpu,
        reference: false,
        repeats: 1,
        batch: 2,
        depth: 100,
        ctx_size: Some(256),
        gpu_memory: None,
        cache_type: CacheType::F16,
    };
    let result = run(&args).unwrap();
    assert_eq!((result.depth, result.batch), (100, 2));
    assert!(result.decode_tokens_per_second > 0.0);
    let too_deep = BenchArgs {
        batch: 1,
        depth: 250,
        ..args
    };
    let err = run(&too_deep).unwrap_err().to_string();
    assert!(err.contains("258") && err.contains("256"), "{err}");
}

/// q/k/v and gate/up are one matrix product each where their types match:
/// every layer of SmolLM2 (all Q4_1); on Qwen's Q4_K_M, the layers whose
/// attn_v is Q6_K keep it apart (and the numbers above stay the same).
#[test]
fn neighbouring_matrices_of_one_type_are_one_product() {
    let products = |path: std::path::PathBuf| gpu_model(&path, 1, 64, None).products_per_layer();
    let smol = products(crate::common::smollm2_path());
    assert!(smol.iter().all(|&n| n == 4), "{smol:?}");
    let qwen = products(crate::common::qwen_path());
    assert!(qwen.iter().all(|&n| n == 4 || n == 5), "{qwen:?}");
    assert!(qwen.contains(&4) && qwen.contains(&5), "{qwen:?}");
}

/// The prompt cache on the GPU path: slot 1 copies the prefix slot 0 read
/// (while slot 0 goes on with other tokens) and gives exactly the logits
/// of slot 0 cut back to that prefix.
#[test]
fn a_copied_prefix_gives_the_logits_of_the_prefix_in_place() {
    let (parts, mut model) =
        load_model(&crate::common::qwen_path(), options(ModelImpl::Gpu, 2)).unwrap();
    assert!(model.shape().prefix_copy);
    let prompt = crate::common::prompt_ids(&parts, "Name three rivers of Europe.");
    let tail = parts.tokenizer.encode(" The Rhine").unwrap();
    let n = prompt.len();
    model.forward_one(0, &prompt, 0).unwrap();
    model.copy_prefix(0, 1, n).unwrap();
    model.forward_one(0, &[11, 12, 13], n).unwrap();
    let copied = model.forward_one(1, &tail, n).unwrap();
    let in_place = model.forward_one(0, &tail, n).unwrap();
    assert_eq!(copied, in_place);
    assert!(model.copy_prefix(0, 0, n).is_err(), "a slot onto itself");
    assert!(model.copy_prefix(0, 2, n).is_err(), "no slot 2");
}

/// A decode step's attention runs for all its rows at once: each layer
/// issues the same operations for 8 sequences as for 4 (24-25 on Qwen;
/// before, ~12 more per sequence), and for 1 a few fewer (a single row
/// needs no heads-first copies and no length mask); rows of different
/// lengths, in consecutive slots or gathered from scattered ones, give
/// the logits each gives alone. Qwen on candle's CPU device, 8 slots.
#[test]
fn a_decode_step_issues_the_same_launches_for_any_number_of_rows() {
    let path = crate::common::qwen_path();
    let mut model = gpu_model(&path, 8, 256, None);
    // The load warmed the kernels up with a decode step of its own.
    assert_eq!(
        model.launches_per_layer().len(),
        24,
        "Qwen2.5-0.5B's layers"
    );
    let (parts, _) = load_model(&path, options(ModelImpl::Candle, 1)).unwrap();
    let questions = [
        "Name a prime number.",
        "What colour is the sky?",
        "Say hello.",
        "Count to three.",
        "What is 2 + 2?",
        "Name a fruit.",
        "Which ocean is largest?",
        "Spell cat.",
    ];
    // Each slot reads its own prompt; its next token and position follow.
    let next: Vec<(u32, usize)> = questions
        .iter()
        .enumerate()
        .map(|(slot, q)| {
            let ids = crate::common::prompt_ids(&parts, q);
            let logits = model.forward_one(slot, &ids, 0).unwrap();
            (argmax(&logits), ids.len())
        })
        .collect();
    let step =
        |model: &mut engine::gpu::GpuModel, slots: &[usize]| -> (Vec<Vec<f32>>, Vec<usize>) {
            let tokens: Vec<[u32; 1]> = slots.iter().map(|&s| [next[s].0]).collect();
            let chunks: Vec<SeqChunk> = slots
                .iter()
                .zip(&tokens)
                .map(|(&slot, token)| SeqChunk {
                    slot,
                    tokens: token,
                    start: next[slot].1,
                    logits: true,
                    all_logits: false,
                    exact: false,
                })
                .collect();
            let logits = model.forward(&chunks).unwrap();
            (logits, model.launches_per_layer().to_vec())
        };
    let (_, one) = step(&mut model, &[0]);
    let (_, four) = step(&mut model, &[0, 1, 2, 3]);
    let (eight_logits, eight) = step(&mut model, &(0..8).collect::<Vec<_>>());
    println!("launches per layer: 1 row {one:?}\n4 rows {four:?}\n8 rows {eight:?}");
    assert_eq!(four, eight, "launches grow with the rows");
    assert!(one.iter().zip(&four).all(|(a, b)| a <= b));
    assert!(*eight.iter().max().unwrap() <= 25, "{eight:?}");

    // Scattered slots, out of order: gathered, and each row as alone.
    let (gathered, _) = step(&mut model, &[6, 1, 3]);
    for (row, &slot) in [6usize, 1, 3].iter().enumerate() {
        let alone = model
            .forward_one(slot, &[next[slot].0], next[slot].1)
            .unwrap();
        let (d_gathered, d_eight) = (
            max_diff(&gathered[row], &alone),
            max_diff(&eight_logits[slot], &alone),
        );
        println!("slot {slot}: gathered {d_gathered:.6}, consecutive {d_eight:.6}");
        // Within TOLERANCE, as any batch against one row (see the test
        // above: candle's matrix kernels quantize a batch's input in other
        // blocks than one row's); measured 0 for most rows, 0.28 at most.
        assert!(
            d_gathered <= TOLERANCE && d_eight <= TOLERANCE,
            "{d_gathered} {d_eight}"
        );
        assert_eq!(argmax(&gathered[row]), argmax(&alone));
        assert_eq!(argmax(&eight_logits[slot]), argmax(&alone));
    }
}

/// The GPU path in its own activation type, bf16, on candle's CPU device:
/// Qwen (quantized weights) and SmolLM2 with every matrix in F16 (dense
/// weights, which must become bf16, not the f32 candle makes them, or the
/// first product fails on a card) follow candle's f32 reference: greedy
/// tokens agree wherever the reference's top two are clearly apart (SmolLM2's
/// first is a near tie, 0.08 apart), logits within 3 (measured 0.56 and
/// 0.87).
#[test]
fn the_gpu_path_runs_in_bf16() {
    use engine::tools::quantize::{run, QuantizeArgs, Target};
    let dir = tempfile::tempdir().unwrap();
    let dense = dir.path().join("smollm2-f16.gguf");
    run(&QuantizeArgs {
        model: crate::common::smollm2_path(),
        out: dense.clone(),
        to: Target::F16,
    })
    .unwrap();
    for path in [crate::common::qwen_path(), dense] {
        let mut ours = gpu_model(&path, 1, 256, Some(candle_core::DType::BF16));
        let (parts, mut reference) = load_model(&path, options(ModelImpl::Candle, 1)).unwrap();
        let ids = crate::common::prompt_ids(&parts, "What is the capital of France?");
        let mut lo = ours.forward_one(0, &ids, 0).unwrap();
        let mut lr = reference.forward_one(0, &ids, 0).unwrap();
        let mut worst = 0f32;
        for step in 0..8 {
            worst = worst.max(max_diff(&lo, &lr));
            let mut sorted = lr.clone();
            sorted.sort_by(|a, b| b.total_cmp(a));
            let token = argmax(&lr);
            if sorted[0] - sorted[1] > 2.0 {
                assert_eq!(argmax(&lo), token, "{path:?} step {step}");
            }
            let pos = ids.len() + step;
            lo = ours.forward_one(0, &[token], pos).unwrap();
            lr = reference.forward_one(0, &[token], pos).unwrap();
        }
        println!("{path:?} in bf16: max |Δlogit| {worst:.3} over 8 steps");
        assert!(worst < 3.0, "{path:?}: {worst}");
    }
}

/// Sliding windows in a batch: on the tiny Gemma (a window of 8; one
/// local layer, one global), decode rows of three lengths (one within its
/// window, two past it) and a prompt chunk in one forward give what each
/// gives alone, and what our CPU kernels give for the same batch (where
/// this CPU has them). The rows' local and global masks differ only here.
#[test]
fn windowed_rows_of_one_forward_match_each_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny-gemma3.gguf");
    engine::tools::tiny::write_tiny("gemma3", &path, 7).unwrap();
    let mut model = gpu_model(&path, 4, 128, None);
    let mut cpu = engine::cpu::quant::has_fast_kernels().then(|| {
        let (_, m) = load_model(&path, options(ModelImpl::Auto, 4)).unwrap();
        assert!(m.shape().exact_from.is_some(), "our CPU kernels run it");
        m
    });
    if cpu.is_none() {
        crate::common::skip(
            "gpu_model::windowed rows against our CPU kernels",
            "this CPU lacks AVX-512 VNNI (the batch is still checked against single rows)",
        );
    }
    let prompt = |len: usize, salt: usize| -> Vec<u32> {
        (0..len)
            .map(|i| ((i * 31 + salt) % 250) as u32 + 3)
            .collect()
    };
    let lens = [5usize, 11, 20];
    for (slot, &len) in lens.iter().enumerate() {
        model.forward_one(slot, &prompt(len, slot), 0).unwrap();
        if let Some(cpu) = cpu.as_mut() {
            cpu.forward_one(slot, &prompt(len, slot), 0).unwrap();
        }
    }
    let tokens: Vec<[u32; 1]> = (0..3).map(|s| [s as u32 + 40]).collect();
    let chunk = prompt(14, 9);
    let mut batch: Vec<SeqChunk> = (0..3)
        .map(|slot| SeqChunk {
            slot,
            tokens: &tokens[slot],
            start: lens[slot],
            logits: true,
            all_logits: false,
            exact: false,
        })
        .collect();
    batch.insert(
        1,
        SeqChunk {
            slot: 3,
            tokens: &chunk,
            start: 0,
            logits: true,
            all_logits: false,
            exact: false,
        },
    );
    let together = model.forward(&batch).unwrap();
    let on_cpu = cpu.as_mut().map(|cpu| cpu.forward(&batch).unwrap());
    for (row, chunk) in batch.iter().enumerate() {
        let alone = model
            .forward_one(chunk.slot, chunk.tokens, chunk.start)
            .unwrap();
        let d = max_diff(&together[row], &alone);
        let d_cpu = on_cpu.as_ref().map(|l| max_diff(&together[row], &l[row]));
        println!(
            "slot {}: alone {d:.6}, our CPU kernels {d_cpu:?}",
            chunk.slot
        );
        assert!(d <= TOLERANCE, "slot {}: {d}", chunk.slot);
        assert_eq!(argmax(&together[row]), argmax(&alone));
        if let (Some(d_cpu), Some(l)) = (d_cpu, &on_cpu) {
            assert!(d_cpu <= TOLERANCE, "slot {}: {d_cpu}", chunk.slot);
            assert_eq!(argmax(&together[row]), argmax(&l[row]));
        }
    }
}

/// A switch between two models that do not fit in the GPU memory together
/// (`--gpu-memory` with room for either alone) frees the old one first and
/// says so; the new one answers. With room for both, the old one stays
/// until the new one has loaded. A next model that fails to load in the
/// room the old one left brings the old one back.
#[tokio::test]
async fn a_switch_frees_the_old_model_first_when_both_do_not_fit() {
    use engine::{gpu_plan_bytes, Engine, EngineOptions};
    let (qwen, smol) = (crate::common::qwen_path(), crate::common::smollm2_path());
    let load = |limit: usize| LoadOptions {
        gpu_memory: Some(limit),
        ..options(ModelImpl::Gpu, 1)
    };
    let bytes = |path: &std::path::Path| gpu_plan_bytes(path, load(usize::MAX)).unwrap().unwrap();
    let (qwen_bytes, smol_bytes) = (bytes(&qwen), bytes(&smol));
    assert!(qwen_bytes > smol_bytes && smol_bytes > 0);
    let engine_within = |limit| {
        Engine::load(
            &qwen,
            EngineOptions {
                load: load(limit),
                ..EngineOptions::default()
            },
        )
    };

    let both = engine_within(qwen_bytes + smol_bytes);
    assert!(both.model().is_ok());
    let switched = both.switch_to(&smol).unwrap();
    assert!(!switched.freed_old_first, "both fit");

    let one = engine_within(qwen_bytes + smol_bytes / 2);
    assert!(one.model().is_ok());
    let switched = one.switch_to(&smol).unwrap();
    assert!(switched.freed_old_first, "both do not fit");
    assert_eq!(one.model_path(), Some(smol.clone()));
    let params = domain::GenerationParams {
        max_new_tokens: 4,
        temperature: 0.0,
        ..Default::default()
    };
    let reply =
        crate::common::collect(&one, crate::common::chat_job(&one, "Say hi.", params)).await;
    assert!(!reply.text().is_empty());

    // A copy of Qwen cut short: its header plans as Qwen, its weights fail.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("qwen-cut-short.gguf");
    let data = std::fs::read(&qwen).unwrap();
    std::fs::write(&broken, &data[..data.len() * 3 / 5]).unwrap();
    let two = engine_within(qwen_bytes + smol_bytes / 2);
    two.switch_to(&smol).unwrap();
    assert!(two.switch_to(&broken).is_err());
    assert_eq!(
        two.model_path(),
        Some(smol.clone()),
        "the old model is back"
    );
    assert!(two.model().is_ok());
}

/// The memory plan counts the weights as the GPU path allocates them:
/// quantized matrices as in the file, dense ones (norms, F16 matrices) in
/// the activation type, the dense ends of the model in f32 (a tied dense
/// table once), a mixture's router in f32. Equal to the byte, in f32 and
/// in bf16, for a K-quant Qwen, an all-F16 SmolLM2 (whose tied table
/// candle would have held twice, in f32) and the tiny MoE, Gemma and Phi-3,
/// each of which then runs in that type.
#[test]
fn the_memory_plan_counts_the_weights_as_allocated() {
    use engine::{gpu::fit::Footprint, model_port::hyperparams::Hyperparams, GgufFile};
    let dir = tempfile::tempdir().unwrap();
    let dense = dir.path().join("smollm2-f16.gguf");
    engine::tools::quantize::run(&engine::tools::quantize::QuantizeArgs {
        model: crate::common::smollm2_path(),
        out: dense.clone(),
        to: engine::tools::quantize::Target::F16,
    })
    .unwrap();
    let mut files = vec![crate::common::qwen_path(), dense];
    for arch in ["qwen3moe", "gemma3", "phi3"] {
        let path = dir.path().join(format!("tiny-{arch}.gguf"));
        engine::tools::tiny::write_tiny(arch, &path, 7).unwrap();
        files.push(path);
    }
    for path in &files {
        for dtype in [candle_core::DType::F32, candle_core::DType::BF16] {
            let mut model = gpu_model(path, 1, 64, Some(dtype));
            let content = GgufFile::open(path).unwrap().content;
            let params = Hyperparams::read(&content).unwrap();
            let planned = Footprint::of(&content, &params, dtype.size_in_bytes()).weights;
            let file_bytes = std::fs::metadata(path).unwrap().len();
            println!(
                "{}: {dtype:?}: planned {planned}, allocated {}, file {file_bytes}",
                path.file_name().unwrap().to_string_lossy(),
                model.weight_bytes()
            );
            assert_eq!(planned, model.weight_bytes(), "{path:?} in {dtype:?}");
            // Every architecture runs in the type too (a dtype mismatch
            // between weights and activations would fail here, not on a
            // card): a 9-token prompt and two steps give finite logits.
            let prompt: Vec<u32> = (3..12).collect();
            let mut logits = model.forward_one(0, &prompt, 0).unwrap();
            for step in 0..2 {
                assert!(logits.iter().all(|l| l.is_finite()), "{path:?} {dtype:?}");
                logits = model.forward_one(0, &[argmax(&logits)], 9 + step).unwrap();
            }
        }
    }
}
