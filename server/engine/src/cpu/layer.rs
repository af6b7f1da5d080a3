//! One transformer block's weights, found by their GGUF names for each
//! architecture: separate or fused (phi3) projections, optional biases
//! (qwen2), per-head query/key norms (qwen3, gemma3), Gemma's extra norms,
//! and a routed mixture of experts (qwen3moe) instead of one feed-forward.

use super::weights::{Matrix, WeightFile};
use crate::model_port::{hyperparams::Hyperparams, EngineError};

pub struct Layer {
    pub attn_norm: Vec<f32>,
    pub wq: Matrix,
    pub wk: Matrix,
    pub wv: Matrix,
    pub bq: Option<Vec<f32>>,
    pub bk: Option<Vec<f32>>,
    pub bv: Option<Vec<f32>>,
    /// Per-head RMSNorm weights (`head_dim` long).
    pub q_norm: Option<Vec<f32>>,
    pub k_norm: Option<Vec<f32>>,
    pub wo: Matrix,
    /// Gemma: applied to the attention output before the residual add.
    pub post_attn_norm: Option<Vec<f32>>,
    pub ffn_norm: Vec<f32>,
    pub ffn: FeedForward,
    /// Gemma: applied to the feed-forward output before the residual add.
    pub post_ffn_norm: Option<Vec<f32>>,
    /// Sliding window size, for local layers.
    pub window: Option<usize>,
}

pub enum FeedForward {
    Dense {
        gate: Matrix,
        up: Matrix,
        down: Matrix,
    },
    Experts(Experts),
}

/// A mixture of experts: a router picks `used` of them per token.
pub struct Experts {
    /// `experts × dim`.
    pub router: Matrix,
    /// Each `experts × ff` rows: expert `e`'s matrix is rows `e·ff..`.
    pub gate: Matrix,
    pub up: Matrix,
    /// `experts × dim` rows of `ff` columns.
    pub down: Matrix,
    pub count: usize,
    pub used: usize,
    pub ff: usize,
}

impl Experts {
    /// Expert `e`'s gate, up and down matrices.
    pub fn expert(&self, e: usize) -> Option<(Matrix, Matrix, Matrix)> {
        let dim = self.down.rows / self.count;
        Some((
            self.gate.rows(e * self.ff, self.ff)?,
            self.up.rows(e * self.ff, self.ff)?,
            self.down.rows(e * dim, dim)?,
        ))
    }
}

impl Layer {
    pub fn load(file: &WeightFile, config: &Hyperparams, i: usize) -> Result<Self, EngineError> {
        let t = |name: &str| format!("blk.{i}.{name}");
        let arch = config.arch;
        let q_dim = config.heads * config.head_dim;
        let kv_dim = config.kv_heads * config.head_dim;
        let split = |m: &Matrix, start: usize, rows: usize, what: &str| {
            m.rows(start, rows)
                .ok_or_else(|| EngineError::CorruptModel {
                    file: "the model file".into(),
                    reason: format!("blk.{i}: the fused matrix has no room for {what}"),
                })
        };
        let (wq, wk, wv) = if arch.fused {
            let qkv = file.matrix(&t("attn_qkv.weight"))?;
            (
                split(&qkv, 0, q_dim, "the queries")?,
                split(&qkv, q_dim, kv_dim, "the keys")?,
                split(&qkv, q_dim + kv_dim, kv_dim, "the values")?,
            )
        } else {
            (
                file.matrix(&t("attn_q.weight"))?,
                file.matrix(&t("attn_k.weight"))?,
                file.matrix(&t("attn_v.weight"))?,
            )
        };
        let ffn = if arch.experts {
            let router = file.matrix(&t("ffn_gate_inp.weight"))?;
            let gate = file.matrix(&t("ffn_gate_exps.weight"))?;
            let count = router.rows;
            let ff = gate.rows / count.max(1);
            if count == 0 || config.experts_used == 0 || config.experts_used > count {
                return Err(EngineError::CorruptModel {
                    file: "the model file".into(),
                    reason: format!("blk.{i}: {} experts used of {count}", config.experts_used),
                });
            }
            FeedForward::Experts(Experts {
                router,
                gate,
                up: file.matrix(&t("ffn_up_exps.weight"))?,
                down: file.matrix(&t("ffn_down_exps.weight"))?,
                count,
                used: config.experts_used,
                ff,
            })
        } else if arch.fused {
            let up = file.matrix(&t("ffn_up.weight"))?;
            let ff = up.rows / 2;
            FeedForward::Dense {
                gate: split(&up, 0, ff, "the gate")?,
                up: split(&up, ff, ff, "the up projection")?,
                down: file.matrix(&t("ffn_down.weight"))?,
            }
        } else {
            FeedForward::Dense {
                gate: file.matrix(&t("ffn_gate.weight"))?,
                up: file.matrix(&t("ffn_up.weight"))?,
                down: file.matrix(&t("ffn_down.weight"))?,
            }
        };
        let norm = |name: &str| -> Result<Option<Vec<f32>>, EngineError> {
            file.optional_vector(&t(name))
        };
        let (q_norm, k_norm) = if arch.qk_norm {
            (
                Some(file.vector(&t("attn_q_norm.weight"))?),
                Some(file.vector(&t("attn_k_norm.weight"))?),
            )
        } else {
            (None, None)
        };
        let layer = Self {
            attn_norm: file.vector(&t("attn_norm.weight"))?,
            wq,
            wk,
            wv,
            bq: norm("attn_q.bias")?,
            bk: norm("attn_k.bias")?,
            bv: norm("attn_v.bias")?,
            q_norm,
            k_norm,
            wo: file.matrix(&t("attn_output.weight"))?,
            post_attn_norm: if arch.gemma_norms {
                Some(file.vector(&t("post_attention_norm.weight"))?)
            } else {
                None
            },
            ffn_norm: file.vector(&t("ffn_norm.weight"))?,
            ffn,
            post_ffn_norm: if arch.gemma_norms {
                Some(file.vector(&t("post_ffw_norm.weight"))?)
            } else {
                None
            },
            window: config.window(i),
        };
        layer.check(config, i)?;
        Ok(layer)
    }

    /// Shapes that would make the forward pass index out of bounds are a
    /// corrupt file, said so at load time.
    fn check(&self, config: &Hyperparams, i: usize) -> Result<(), EngineError> {
        let (dim, hd) = (config.dim, config.head_dim);
        let (q_dim, kv_dim) = (config.heads * hd, config.kv_heads * hd);
        let mut wrong = Vec::new();
        let mut expect = |what: &str, m: &Matrix, rows: usize, cols: usize| {
            if m.rows != rows || m.cols != cols {
                wrong.push(format!(
                    "{what} is {}×{}, not {rows}×{cols}",
                    m.rows, m.cols
                ));
            }
        };
        expect("attn_q", &self.wq, q_dim, dim);
        expect("attn_k", &self.wk, kv_dim, dim);
        expect("attn_v", &self.wv, kv_dim, dim);
        expect("attn_output", &self.wo, dim, q_dim);
        match &self.ffn {
            FeedForward::Dense { gate, up, down } => {
                let ff = gate.rows;
                expect("ffn_gate", gate, ff, dim);
                expect("ffn_up", up, ff, dim);
                expect("ffn_down", down, dim, ff);
            }
            FeedForward::Experts(x) => {
                expect("ffn_gate_inp", &x.router, x.count, dim);
                expect("ffn_gate_exps", &x.gate, x.count * x.ff, dim);
                expect("ffn_up_exps", &x.up, x.count * x.ff, dim);
                expect("ffn_down_exps", &x.down, x.count * dim, x.ff);
            }
        }
        let vectors = [
            (Some(&self.attn_norm), dim),
            (Some(&self.ffn_norm), dim),
            (self.post_attn_norm.as_ref(), dim),
            (self.post_ffn_norm.as_ref(), dim),
            (self.q_norm.as_ref(), hd),
            (self.k_norm.as_ref(), hd),
            (self.bq.as_ref(), q_dim),
            (self.bk.as_ref(), kv_dim),
            (self.bv.as_ref(), kv_dim),
        ];
        for (v, len) in vectors {
            if v.is_some_and(|v| v.len() != len) {
                wrong.push(format!("a norm or bias is not {len} long"));
            }
        }
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(EngineError::CorruptModel {
                file: "the model file".into(),
                reason: format!("blk.{i}: {}", wrong.join("; ")),
            })
        }
    }
}
