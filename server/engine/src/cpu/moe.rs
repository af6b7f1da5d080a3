//! A mixture of experts on a batch's rows (qwen3moe): the router scores
//! every expert per token, each token keeps its top `used` (weights
//! renormalized over them), and each expert runs once on the rows that
//! chose it. Only the chosen experts' weights are read.

use std::ops::Range;

use crate::model_port::experts::route;

use super::{
    layer::Experts,
    ops::{silu_mul, softmax},
    project::{project, project_groups},
    quant::QuantizedActs,
    team::Team,
    weights::WeightFile,
};

/// Buffers reused across layers and steps.
#[derive(Default)]
pub struct ExpertScratch {
    scores: Vec<f32>,
    input: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    out: Vec<f32>,
}

/// `out` rows `0..n` (each `dim` wide) = the experts' weighted sum for
/// rows `0..n` of `h`; rows from `split` on run on the exact path.
#[allow(clippy::too_many_arguments)]
pub fn experts_forward(
    team: &Team,
    file: &WeightFile,
    experts: &Experts,
    h: &[f32],
    dim: usize,
    n: usize,
    split: usize,
    acts: &mut QuantizedActs,
    s: &mut ExpertScratch,
    out: &mut [f32],
) {
    let count = experts.count;
    s.scores.resize(n * count, 0.0);
    project_groups(
        team,
        file,
        h,
        &[(0..split, false), (split..n, true)],
        acts,
        &mut [(&experts.router, &mut s.scores)],
    );
    for row in s.scores.chunks_exact_mut(count) {
        softmax(row);
    }
    let routes = route(&s.scores, count, experts.used);
    out[..n * dim].fill(0.0);
    let ff = experts.ff;
    for e in 0..count {
        let Some((gate, up, down)) = experts.expert(e) else {
            continue;
        };
        for group in [0..split, split..n] {
            let chosen: Vec<(usize, f32)> = group
                .clone()
                .filter_map(|row| {
                    routes[row]
                        .iter()
                        .find(|(x, _)| *x == e)
                        .map(|&(_, w)| (row, w))
                })
                .collect();
            if chosen.is_empty() {
                continue;
            }
            let m = chosen.len();
            let exact = group.start == split;
            s.input.clear();
            for &(row, _) in &chosen {
                s.input.extend_from_slice(&h[row * dim..(row + 1) * dim]);
            }
            s.gate.resize(m * ff, 0.0);
            s.up.resize(m * ff, 0.0);
            s.out.resize(m * dim, 0.0);
            let all: Range<usize> = 0..m;
            project(
                team,
                file,
                &s.input,
                all.clone(),
                exact,
                acts,
                &mut [(&gate, &mut s.gate), (&up, &mut s.up)],
            );
            silu_mul(&mut s.gate, &s.up);
            project(
                team,
                file,
                &s.gate,
                all,
                exact,
                acts,
                &mut [(&down, &mut s.out)],
            );
            for (i, &(row, w)) in chosen.iter().enumerate() {
                for (o, v) in out[row * dim..(row + 1) * dim]
                    .iter_mut()
                    .zip(&s.out[i * dim..(i + 1) * dim])
                {
                    *o += w * v;
                }
            }
        }
    }
}
