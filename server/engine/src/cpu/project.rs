//! `out = x · Wᵀ` for a batch's rows, each group by its own method: rows
//! of prompts as matrix products (the 8-bit prompt kernel with AVX-512
//! VNNI, else f32 products), every other row (decode steps) on the per-row
//! integer kernels with 8-bit activations, reading each weight once for
//! all of them. Several matrices that read the same input (q, k, v; gate,
//! up) go together.

use std::ops::Range;

#[cfg(target_arch = "x86_64")]
use super::prompt_gemm;
use super::{
    gemm,
    matmul::{matmul, Product},
    quant::QuantizedActs,
    team::Team,
    weights::{Matrix, WeightFile},
};

/// Rows `rows` of `x` (each `cols` wide) times every matrix of
/// `products`, into the same rows of each output. `exact`: as matrix
/// products where the CPU can (the prompt path), else on the per-row
/// integer kernels.
pub fn project(
    team: &Team,
    file: &WeightFile,
    x: &[f32],
    rows: Range<usize>,
    exact: bool,
    acts: &mut QuantizedActs,
    products: &mut [(&Matrix, &mut [f32])],
) {
    if rows.is_empty() {
        return;
    }
    let cols = products[0].0.cols;
    let n = rows.len();
    let input = &x[rows.start * cols..rows.end * cols];
    // Each product on the best path the CPU has for its format: prompt
    // rows on the prompt kernel, else as f32 products; everything else (and
    // formats neither takes) on the per-row kernels, fused in one step.
    let path = |w: &Matrix| match () {
        _ if exact && prompt_kernel_takes(w) => Path::PromptKernel,
        _ if exact && gemm::suits(w) => Path::F32,
        _ => Path::PerRow,
    };
    let takes = |wanted: Path| products.iter().any(|(w, _)| path(w) == wanted);
    let (row_layout, lane_layout) = (takes(Path::PerRow), takes(Path::PromptKernel));
    if row_layout || lane_layout {
        // Once, in each layout a product here reads.
        acts.quantize_for(input, cols, row_layout, lane_layout);
    }
    let mut fused = Vec::new();
    for (w, out) in products.iter_mut() {
        let out = &mut out[rows.start * w.rows..rows.end * w.rows];
        match path(w) {
            #[cfg(target_arch = "x86_64")]
            Path::PromptKernel => prompt_gemm::gemm(team, w, file.bytes(w), &acts.lanes, out),
            Path::F32 => gemm::gemm(team, w, file.bytes(w), input, n, out),
            _ => fused.push(Product {
                w,
                bytes: file.bytes(w),
                out,
            }),
        }
    }
    if !fused.is_empty() {
        matmul(team, &mut fused, acts, n);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Path {
    PromptKernel,
    F32,
    PerRow,
}

/// Whether prompt rows times `w` run on the 8-bit prompt kernel.
pub fn prompt_kernel_takes(w: &Matrix) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        prompt_gemm::suits(w)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = w;
        false
    }
}

/// [`project`] for each group of rows on its own method: a batch's rows on
/// the integer kernels, then its exact ones.
pub fn project_groups(
    team: &Team,
    file: &WeightFile,
    x: &[f32],
    groups: &[(Range<usize>, bool)],
    acts: &mut QuantizedActs,
    products: &mut [(&Matrix, &mut [f32])],
) {
    for (rows, exact) in groups {
        project(team, file, x, rows.clone(), *exact, acts, products);
    }
}
