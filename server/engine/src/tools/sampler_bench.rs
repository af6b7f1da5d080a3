//! `candlelight bench-sampler`: what choosing a token costs, on a real
//! model's logits, with the settings people use: the fast path beside the
//! reference (every candidate sorted and weighted), and whether they chose
//! the same tokens.

use std::{path::PathBuf, time::Instant};

use serde::Serialize;

use super::ToolError;
use crate::{load_model, sampler::Sampler, DeviceSpec, LoadOptions, Sampling};

#[derive(clap::Args, Debug)]
pub struct SamplerBenchArgs {
    /// GGUF model file whose logits are sampled.
    #[arg(long)]
    pub model: PathBuf,
    /// Positions whose logits are used (greedy steps after a short prompt).
    #[arg(long, default_value_t = 16)]
    pub positions: usize,
    /// Draws per position and setting.
    #[arg(long, default_value_t = 50)]
    pub draws: usize,
}

#[derive(Debug, Serialize)]
pub struct SamplerTiming {
    pub setting: String,
    pub reference_us: f64,
    pub fast_us: f64,
    /// Draws where both chose the same token (of `draws`).
    pub same: usize,
    pub draws: usize,
}

#[derive(Debug, Serialize)]
pub struct SamplerBench {
    pub model: String,
    pub vocab: usize,
    pub settings: Vec<SamplerTiming>,
}

/// The settings measured: the API's default at temperature 0.8, with a
/// nucleus, text-generation-webui's default preset (min_p), and Qwen's
/// recommendation (top_k).
fn settings() -> Vec<(&'static str, Sampling)> {
    let sampled = |f: fn(&mut Sampling)| {
        let mut s = Sampling {
            greedy: false,
            temperature: 1.0,
            ..Sampling::greedy()
        };
        f(&mut s);
        s
    };
    vec![
        ("temperature 0.8", sampled(|s| s.temperature = 0.8)),
        (
            "temperature 0.8, top_p 0.95",
            sampled(|s| {
                s.temperature = 0.8;
                s.top_p = 0.95;
            }),
        ),
        ("TGW default (min_p 0.05)", sampled(|s| s.min_p = 0.05)),
        (
            "Qwen's (t 0.7, top_p 0.8, top_k 20, rep 1.05)",
            sampled(|s| {
                s.temperature = 0.7;
                s.top_p = 0.8;
                s.top_k = 20;
                s.repetition_penalty = 1.05;
                s.repetition_penalty_range = 1024;
            }),
        ),
        (
            "TGW default + DRY 0.8",
            sampled(|s| {
                s.min_p = 0.05;
                s.dry_multiplier = 0.8;
            }),
        ),
        (
            "TGW default + XTC (0.1, 0.5)",
            sampled(|s| {
                s.min_p = 0.05;
                s.xtc_threshold = 0.1;
                s.xtc_probability = 0.5;
            }),
        ),
        ("top_n_sigma 1", sampled(|s| s.top_n_sigma = 1.0)),
        (
            "dynamic temperature 0.5-1.5",
            sampled(|s| {
                s.dynamic_temperature = true;
                s.dynatemp_low = 0.5;
                s.dynatemp_high = 1.5;
            }),
        ),
        (
            "mirostat 2 (tau 5, eta 0.1)",
            sampled(|s| {
                s.mirostat_mode = 2;
                s.mirostat_tau = 5.0;
                s.mirostat_eta = 0.1;
            }),
        ),
    ]
}

pub fn run(args: &SamplerBenchArgs) -> Result<SamplerBench, ToolError> {
    let options = LoadOptions {
        device: DeviceSpec::Cpu,
        parallel: 1,
        ..LoadOptions::default()
    };
    let (parts, mut model) = load_model(&args.model, options)?;
    let mut ids = parts
        .tokenizer
        .encode("Once upon a time, in a city by the sea, there lived")?;
    let mut all_logits = Vec::new();
    let mut logits = model.forward_one(0, &ids, 0)?;
    for _ in 0..args.positions.max(1) {
        let best = logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i as u32);
        all_logits.push(logits);
        ids.push(best);
        logits = model.forward_one(0, &[best], ids.len() - 1)?;
    }
    let mut timings = Vec::new();
    for (name, sampling) in settings() {
        let (mut reference_s, mut fast_s, mut same, mut draws) = (0.0, 0.0, 0, 0);
        for (i, logits) in all_logits.iter().enumerate() {
            let params = Sampling {
                seed: Some(i as u64),
                ..sampling.clone()
            };
            let (mut fast, mut reference) =
                (Sampler::new(&params, vec![]), Sampler::new(&params, vec![]));
            for _ in 0..args.draws {
                let (mut a, mut b) = (logits.clone(), logits.clone());
                let started = Instant::now();
                let t_ref = reference.sample_reference(&mut b, &ids);
                reference_s += started.elapsed().as_secs_f64();
                let started = Instant::now();
                let t_fast = fast.sample(&mut a, &ids);
                fast_s += started.elapsed().as_secs_f64();
                same += usize::from(t_ref == t_fast);
                draws += 1;
            }
        }
        timings.push(SamplerTiming {
            setting: name.to_string(),
            reference_us: reference_s / draws as f64 * 1e6,
            fast_us: fast_s / draws as f64 * 1e6,
            same,
            draws,
        });
    }
    Ok(SamplerBench {
        model: parts.info.name.clone(),
        vocab: all_logits[0].len(),
        settings: timings,
    })
}

pub fn print(r: &SamplerBench) {
    println!(
        "{} (vocabulary {}): microseconds per token",
        r.model, r.vocab
    );
    println!("| setting | reference (full sort) | fast path | speed-up | same tokens |");
    println!("|---|---|---|---|---|");
    for t in &r.settings {
        println!(
            "| {} | {:.0} µs | {:.0} µs | {:.1}x | {}/{} |",
            t.setting,
            t.reference_us,
            t.fast_us,
            t.reference_us / t.fast_us.max(1e-9),
            t.same,
            t.draws
        );
    }
    println!("{}", serde_json::to_string(r).unwrap_or_default());
}
