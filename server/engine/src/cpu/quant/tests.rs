use candle_core::{
    quantized::{GgmlDType, QTensor},
    Device, Tensor,
};
use rand::{rngs::StdRng, Rng, SeedableRng};

use super::*;

pub(crate) const FORMATS: &[(GgmlDType, Format)] = &[
    (GgmlDType::Q4_0, Format::Q4_0),
    (GgmlDType::Q4_1, Format::Q4_1),
    (GgmlDType::Q5_0, Format::Q5_0),
    (GgmlDType::Q8_0, Format::Q8_0),
    (GgmlDType::Q4K, Format::Q4K),
    (GgmlDType::Q5K, Format::Q5K),
    (GgmlDType::Q6K, Format::Q6K),
];

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| rng.random_range(-1.0f32..1.0) * rng.random_range(0.1f32..2.0))
        .collect()
}

/// `rows × cols` random weights quantized by candle: (raw blocks, candle's dequantization).
pub(crate) fn quantized(
    dtype: GgmlDType,
    rows: usize,
    cols: usize,
    seed: u64,
) -> (Vec<u8>, Vec<f32>) {
    let t = Tensor::from_vec(random(rows * cols, seed), (rows, cols), &Device::Cpu).unwrap();
    let q = QTensor::quantize(&t, dtype).unwrap();
    let raw = q.data().unwrap().to_vec();
    let back = q
        .dequantize(&Device::Cpu)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    (raw, back)
}

#[test]
fn dequantization_matches_candle_for_every_format() {
    let (rows, cols) = (3, 512);
    for &(dtype, format) in FORMATS {
        let (raw, expected) = quantized(dtype, rows, cols, 1);
        let rb = format.row_bytes(cols);
        assert_eq!(raw.len(), rows * rb, "{format:?}");
        let mut got = vec![0f32; rows * cols];
        for r in 0..rows {
            dequantize_row(
                format,
                &raw[r * rb..(r + 1) * rb],
                &mut got[r * cols..(r + 1) * cols],
            );
        }
        assert_eq!(got, expected, "{format:?}");
    }
}

#[test]
fn activations_quantize_with_exact_block_sums() {
    let x = random(64, 2);
    let mut a = QuantizedActs::new();
    a.quantize(&x, 64);
    for b in 0..2 {
        let qs = &a.qs[b * 32..b * 32 + 32];
        assert_eq!(a.sum[b], qs.iter().map(|&q| q as i32).sum::<i32>());
        assert_eq!(
            a.sum4[b][3],
            qs[12..16].iter().map(|&q| q as i32).sum::<i32>()
        );
        for (q, v) in qs.iter().zip(&x[b * 32..]) {
            assert!((*q as f32 * a.d[b] - v).abs() <= a.d[b] / 2.0 + 1e-6);
        }
    }
}

/// The AVX-512 VNNI kernels against the dequantize-and-multiply reference
/// (skipped, loudly, where the CPU lacks them: the portable kernels are the
/// reference itself).
#[test]
fn kernels_match_the_reference_for_every_format_and_tile() {
    if !has_fast_kernels() {
        return crate::test_support::skip(
            "cpu::quant::kernels_match_the_reference_for_every_format_and_tile",
            "this CPU lacks AVX-512 VNNI",
        );
    }
    let (rows, tokens) = (4, 5);
    // Whole groups of four blocks, and a tail of two (576 = 18 blocks of 32).
    for (&(dtype, format), cols) in FORMATS.iter().flat_map(|f| {
        let widths: &[usize] = if f.1.block_len() == 256 {
            &[512, 768]
        } else {
            &[1024, 576]
        };
        widths.iter().map(move |&c| (f, c))
    }) {
        let (raw, _) = quantized(dtype, rows, cols, 3);
        let mut acts = QuantizedActs::new();
        acts.quantize(&random(tokens * cols, 4), cols);
        let rb = format.row_bytes(cols);
        for r in 0..rows {
            let row = &raw[r * rb..(r + 1) * rb];
            let tile = dot_tile::<4>(format, row, &[&acts; 4], [0, 1, 2, 3]);
            let single = dot_tile::<1>(format, row, &[&acts], [4]);
            for (t, got) in tile.iter().chain(&single).enumerate() {
                let expected = dot_reference(format, row, &acts, t);
                let tolerance = 1e-4 * (1.0 + expected.abs());
                assert!(
                    (got - expected).abs() <= tolerance,
                    "{format:?} {cols} cols, row {r} token {t}: {got} vs {expected}"
                );
            }
        }
    }
}

/// Not a test: times the kernels on a matrix that stays in cache, to see
/// compute apart from memory. `cargo test --release -p server --lib
/// kernel_timings -- --ignored --nocapture`.
#[test]
#[ignore]
fn kernel_timings() {
    if !has_fast_kernels() {
        return;
    }
    let rows = 256;
    for &(dtype, format) in FORMATS {
        let cols = if format.block_len() == 256 { 1024 } else { 896 };
        let (raw, _) = quantized(dtype, rows, cols, 3);
        let mut acts = QuantizedActs::new();
        acts.quantize(&random(8 * cols, 4), cols);
        let rb = format.row_bytes(cols);
        let mut line = format!("{format:?}:");
        macro_rules! time {
            ($t:literal) => {{
                let started = std::time::Instant::now();
                let mut sink = 0f32;
                let reps = 200;
                for _ in 0..reps {
                    for r in 0..rows {
                        let row = &raw[r * rb..(r + 1) * rb];
                        sink +=
                            dot_tile::<$t>(format, row, &[&acts; $t], std::array::from_fn(|k| k))
                                [0];
                    }
                }
                let ns = started.elapsed().as_nanos() as f64 / (reps * rows * $t) as f64;
                line.push_str(&format!(
                    "  T={}: {:.1} ns/row-token ({:.2} MAC/ns)",
                    $t,
                    ns,
                    cols as f64 / ns
                ));
                std::hint::black_box(sink);
            }};
        }
        time!(1);
        time!(4);
        time!(8);
        println!("{line}");
    }
}

/// The vector quantization gives the portable loop's values, scales and
/// sums exactly, ties to even included.
#[test]
fn vector_quantization_matches_the_portable_one() {
    if !has_fast_kernels() {
        return crate::test_support::skip(
            "cpu::quant::vector_quantization_matches_the_portable_one",
            "this CPU lacks AVX-512 VNNI",
        );
    }
    let cols = 256;
    let mut x = random(3 * cols, 9);
    // A block of ties: its scale is 1, its values halfway between integers.
    for (i, v) in x[..32].iter_mut().enumerate() {
        *v = i as f32 - 15.5;
    }
    x[0] = 127.0;
    x[33] = 0.0;
    x[64..96].fill(0.0);
    let mut fast = QuantizedActs::default();
    fast.quantize(&x, cols);
    let mut portable = QuantizedActs::default();
    portable.quantize(&x, cols);
    portable.portable_blocks(&x);
    assert_eq!(fast.qs, portable.qs);
    assert_eq!(fast.d, portable.d);
    assert_eq!(fast.sum, portable.sum);
    assert_eq!(fast.sum4, portable.sum4);
    assert_eq!(fast.dsum, portable.dsum);
}
