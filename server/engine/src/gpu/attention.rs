//! Grouped-query attention of one chunk over its slot's cache. The query
//! heads that share a key/value head are stacked as extra rows of one
//! matrix product, so the shared keys and values are read in place and
//! never repeated per query head. A long chunk is attended in blocks of
//! query rows, so the score matrix a prompt needs at once grows with the
//! context but not with the chunk (the memory plan counts one block).

use candle_core::{DType, Device, Result, Tensor};

use super::launches::{contiguous, op};

/// Query rows whose scores exist at once.
pub const QUERY_BLOCK: usize = 64;

/// How a chunk of `n` queries at positions `start..start + n` is attended:
/// its blocks of query rows, each with its causal mask, built once per
/// forward and used by every layer.
pub struct ChunkPlan {
    start: usize,
    /// (first row, rows, mask; none for a single row no window hides a key
    /// from).
    blocks: Vec<(usize, usize, Option<Tensor>)>,
}

impl ChunkPlan {
    /// With `window`, each query sees only the last `window` positions up
    /// to its own (a sliding-window layer's plan).
    pub fn new(n: usize, start: usize, window: Option<usize>, device: &Device) -> Result<Self> {
        Self::with_block(n, start, QUERY_BLOCK, window, device)
    }

    fn with_block(
        n: usize,
        start: usize,
        block: usize,
        window: Option<usize>,
        device: &Device,
    ) -> Result<Self> {
        let blocks = (0..n)
            .step_by(block)
            .map(|first| {
                let rows = block.min(n - first);
                // The block's last query sees keys up to its own position.
                let seen = start + first + rows;
                let hides_old = window.is_some_and(|w| seen > w);
                let mask = (rows > 1 || hides_old)
                    .then(|| causal_mask(rows, start + first, seen, window, device))
                    .transpose()?;
                Ok((first, rows, mask))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { start, blocks })
    }
}

/// `queries` (heads, n, head_dim) of the chunk `plan` was made for;
/// `keys`/`values` (kv_heads, start + n, head_dim). Returns (heads, n, head_dim).
pub fn attend(
    queries: &Tensor,
    keys: &Tensor,
    values: &Tensor,
    plan: &ChunkPlan,
    scale: f64,
) -> Result<Tensor> {
    let mut outputs = Vec::with_capacity(plan.blocks.len());
    for (first, rows, mask) in &plan.blocks {
        let seen = plan.start + first + rows;
        let queries = if plan.blocks.len() == 1 {
            queries.clone()
        } else {
            contiguous(&queries.narrow(1, *first, *rows)?)?
        };
        outputs.push(attend_block(
            &queries,
            &keys.narrow(1, 0, seen)?,
            &values.narrow(1, 0, seen)?,
            mask.as_ref(),
            scale,
        )?);
    }
    match outputs.len() {
        1 => Ok(outputs.remove(0)),
        _ => op(Tensor::cat(&outputs, 1)),
    }
}

/// Every decode row of a batch at once, in a fixed number of launches
/// whatever the number of rows: `queries` (rows, heads, head_dim), each
/// row's keys and values (rows, kv_heads, len, head_dim), `mask` (rows, 1,
/// 1, len) 0 where the row's sequence has a key and −∞ past its end and,
/// in a sliding-window layer, before its window (none
/// when every row sees all `len`). Returns (rows, heads · head_dim).
pub fn attend_rows(
    queries: &Tensor,
    keys: &Tensor,
    values: &Tensor,
    mask: Option<&Tensor>,
    scale: f64,
) -> Result<Tensor> {
    let (rows, heads, head_dim) = queries.dims3()?;
    let kv_heads = keys.dim(1)?;
    // Heads g·i .. g·(i+1) share key head i: a group's queries are rows of
    // one product with its keys.
    let q = queries.reshape((rows, kv_heads, heads / kv_heads, head_dim))?;
    let masked = |scores: Tensor| match mask {
        Some(mask) => op(scores.broadcast_add(mask)),
        None => Ok(scores),
    };
    weighted_values(&q, keys, values, scale, masked)?.reshape((rows, heads * head_dim))
}

/// softmax(q · kᵀ · scale, with `masked` adding the mask in the shape it
/// needs) · v, the scores in f32. A scale of 1 (queries scaled
/// beforehand) costs no pass.
fn weighted_values(
    q: &Tensor,
    keys: &Tensor,
    values: &Tensor,
    scale: f64,
    masked: impl FnOnce(Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    // Each step's input is dropped as soon as its output exists, so at
    // most two score-sized buffers live at once: 8 bytes a score at the
    // peak (f32 and f32), within the memory plan's 10 (`fit::SCORE_BYTES`).
    // Shadowing alone would keep every step alive to the end (14).
    let scores = op(q.matmul(&keys.t()?))?;
    let scores = if scale == 1.0 {
        scores
    } else {
        op(scores * scale)?
    };
    let wide = op(scores.to_dtype(DType::F32))?;
    drop(scores);
    let masked = masked(wide)?;
    let probs = op(candle_nn::ops::softmax_last_dim(&masked))?;
    drop(masked);
    let narrow = op(probs.to_dtype(values.dtype()))?;
    drop(probs);
    op(narrow.matmul(values))
}

/// One block of query rows over the keys it may see, `mask` (rows, keys).
fn attend_block(
    queries: &Tensor,
    keys: &Tensor,
    values: &Tensor,
    mask: Option<&Tensor>,
    scale: f64,
) -> Result<Tensor> {
    let (heads, n, head_dim) = queries.dims3()?;
    let (kv_heads, len, _) = keys.dims3()?;
    let groups = heads / kv_heads;
    // Heads are numbered so that heads g·i .. g·(i+1) share key head i.
    let q = queries.reshape((kv_heads, groups * n, head_dim))?;
    let masked = |scores: Tensor| match mask {
        Some(mask) => op(scores
            .reshape((kv_heads, groups, n, len))?
            .broadcast_add(mask))?
        .reshape((kv_heads, groups * n, len)),
        None => Ok(scores),
    };
    weighted_values(&q, keys, values, scale, masked)?.reshape((heads, n, head_dim))
}

/// (n, len): 0 where query `i` (at position start + i) may see key `j`,
/// −∞ where the key lies in its future or, with `window`, more than
/// `window` − 1 positions in its past.
fn causal_mask(
    n: usize,
    start: usize,
    len: usize,
    window: Option<usize>,
    device: &Device,
) -> Result<Tensor> {
    let mask: Vec<f32> = (0..n)
        .flat_map(|i| (0..len).map(move |j| visibility(j, start + i + 1, window)))
        .collect();
    Tensor::from_vec(mask, (n, len), device)
}

/// 0 where a query that sees the first `seen` keys (within `window` of
/// the last) may see key `j`, −∞ where not: a mask's value.
pub fn visibility(j: usize, seen: usize, window: Option<usize>) -> f32 {
    let too_old = window.is_some_and(|w| j + w < seen);
    if j >= seen || too_old {
        f32::NEG_INFINITY
    } else {
        0.0
    }
}

/// Attention with every query head given its own copy of its key/value
/// head: the plain formula, for tests.
#[cfg(test)]
fn attend_repeated(
    queries: &Tensor,
    keys: &Tensor,
    values: &Tensor,
    start: usize,
    window: Option<usize>,
    scale: f64,
) -> Result<Tensor> {
    let (heads, n, _) = queries.dims3()?;
    let (kv_heads, len, _) = keys.dims3()?;
    let groups = heads / kv_heads;
    let mut out = Vec::new();
    for h in 0..heads {
        let q = queries.get(h)?;
        let k = keys.get(h / groups)?;
        let v = values.get(h / groups)?;
        let scores = (q.matmul(&k.t()?)? * scale)?;
        let mask = causal_mask(n, start, len, window, queries.device())?;
        let probs = candle_nn::ops::softmax(&(scores + mask)?, candle_core::D::Minus1)?;
        out.push(probs.matmul(&v)?);
    }
    Tensor::stack(&out, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    /// With and without a sliding window (3 positions, shorter than the
    /// chunk and its context).
    #[test]
    fn grouped_heads_match_repeated_heads_with_the_causal_mask() {
        let dev = Device::Cpu;
        let (heads, kv_heads, d, start, n) = (6, 2, 8, 5, 4);
        let len = start + n;
        let q = Tensor::randn(0f32, 1.0, (heads, n, d), &dev).unwrap();
        // A wider buffer narrowed to `len`, as the cache hands it out.
        let k_buf = Tensor::randn(0f32, 1.0, (kv_heads, 16, d), &dev).unwrap();
        let v_buf = Tensor::randn(0f32, 1.0, (kv_heads, 16, d), &dev).unwrap();
        let (k, v) = (
            k_buf.narrow(1, 0, len).unwrap(),
            v_buf.narrow(1, 0, len).unwrap(),
        );
        let scale = 1.0 / (d as f64).sqrt();
        for window in [None, Some(3)] {
            for (queries, start) in [
                (q.clone(), start),
                (
                    q.narrow(1, n - 1, 1).unwrap().contiguous().unwrap(),
                    len - 1,
                ),
            ] {
                let plan = ChunkPlan::new(queries.dim(1).unwrap(), start, window, &dev).unwrap();
                let got = attend(&queries, &k, &v, &plan, scale).unwrap();
                let want = attend_repeated(
                    &queries,
                    &k.contiguous().unwrap(),
                    &v.contiguous().unwrap(),
                    start,
                    window,
                    scale,
                )
                .unwrap();
                let diff = max_abs_diff(&got, &want);
                assert!(diff < 1e-5, "{window:?}: {diff}");
            }
        }
    }

    #[test]
    fn blocks_of_query_rows_give_what_one_block_gives() {
        let dev = Device::Cpu;
        let (heads, kv_heads, d, start, n) = (4, 2, 8, 3, 10);
        let q = Tensor::randn(0f32, 1.0, (heads, n, d), &dev).unwrap();
        let k = Tensor::randn(0f32, 1.0, (kv_heads, start + n, d), &dev).unwrap();
        let v = Tensor::randn(0f32, 1.0, (kv_heads, start + n, d), &dev).unwrap();
        for window in [None, Some(4)] {
            let plan = |block| ChunkPlan::with_block(n, start, block, window, &dev).unwrap();
            let whole = attend(&q, &k, &v, &plan(n), 0.3).unwrap();
            for block in [1, 3, 4] {
                let parts = attend(&q, &k, &v, &plan(block), 0.3).unwrap();
                let diff = max_abs_diff(&parts, &whole);
                assert!(diff < 1e-5, "block {block}, window {window:?}");
            }
        }
    }

    /// Rows of different sequences and lengths at once give what each
    /// gives alone over its own keys.
    #[test]
    fn decode_rows_at_once_match_each_alone() {
        let dev = Device::Cpu;
        let (heads, kv_heads, d, context) = (6, 2, 8, 12);
        let keys = Tensor::randn(0f32, 1.0, (3, kv_heads, context, d), &dev).unwrap();
        let values = Tensor::randn(0f32, 1.0, (3, kv_heads, context, d), &dev).unwrap();
        let q = Tensor::randn(0f32, 1.0, (3, heads, d), &dev).unwrap();
        let lens = [5usize, 12, 1];
        let mask: Vec<f32> = lens
            .iter()
            .flat_map(|&l| (0..context).map(move |j| if j < l { 0.0 } else { f32::NEG_INFINITY }))
            .collect();
        let mask = Tensor::from_vec(mask, (3, 1, 1, context), &dev).unwrap();
        let all = attend_rows(&q, &keys, &values, Some(&mask), 0.3).unwrap();
        for (row, &len) in lens.iter().enumerate() {
            let queries = q.get(row).unwrap().unsqueeze(1).unwrap();
            let k = keys.get(row).unwrap().narrow(1, 0, len).unwrap();
            let v = values.get(row).unwrap().narrow(1, 0, len).unwrap();
            let plan = ChunkPlan::new(1, len - 1, None, &dev).unwrap();
            let alone = attend(&queries, &k, &v, &plan, 0.3)
                .unwrap()
                .reshape(heads * d)
                .unwrap();
            let diff = max_abs_diff(&all.get(row).unwrap(), &alone);
            assert!(diff < 1e-5, "row {row}: {diff}");
        }
    }

    #[test]
    fn a_query_never_sees_later_keys() {
        let dev = Device::Cpu;
        let mask: Vec<Vec<f32>> = causal_mask(2, 3, 5, None, &dev).unwrap().to_vec2().unwrap();
        assert_eq!(mask[0][3], 0.0);
        assert_eq!(mask[0][4], f32::NEG_INFINITY);
        assert_eq!(mask[1][4], 0.0);
    }

    #[test]
    fn a_windowed_query_sees_only_its_last_positions() {
        let dev = Device::Cpu;
        // Queries at positions 3 and 4, a window of 2.
        let mask: Vec<Vec<f32>> = causal_mask(2, 3, 5, Some(2), &dev)
            .unwrap()
            .to_vec2()
            .unwrap();
        let seen = |row: &[f32]| -> Vec<usize> { (0..5).filter(|&j| row[j] == 0.0).collect() };
        assert_eq!(seen(&mask[0]), vec![2, 3]);
        assert_eq!(seen(&mask[1]), vec![3, 4]);
        // A single query past the window still gets a mask.
        let plan = ChunkPlan::new(1, 6, Some(2), &dev).unwrap();
        assert!(plan.blocks[0].2.is_some());
        assert!(ChunkPlan::new(1, 6, None, &dev).unwrap().blocks[0]
            .2
            .is_none());
    }
}
