//! A routed mixture of experts (qwen3moe) on the device: the router scores
//! every expert per row, the routing itself is decided on the host (the
//! same rule as the CPU path, `model_port::experts`), and each chosen
//! expert runs once on the rows that chose it; their weighted outputs are
//! summed into each row in f32 by one `index_add`, in expert order, as
//! the CPU path sums them. Only the chosen experts' weights are read.
//!
//! Reading the router's scores back is one wait for the device per layer;
//! candle's CUDA-only `indexed_moe_forward` would avoid it for the types
//! it covers, once a card can check it.

use std::borrow::Cow;

use candle_core::{
    quantized::{gguf_file::Content, QMatMul, QStorage, QTensor},
    DType, Device, Module, Result, Tensor,
};

use super::{feed_forward::Mlp, launches::op, layer::in_dtype, stacked::Stacked};
use crate::model_port::{
    arch::Activation,
    experts::{route, tokens_by_expert},
};

pub struct Experts {
    /// (experts, dim), kept in f32 so routing does not hinge on bf16 ties.
    router: QMatMul,
    experts: Vec<Mlp>,
    used: usize,
}

impl Experts {
    /// Loads block `prefix`'s router and its experts, each expert's gate,
    /// up and down cut out of the file's (experts, rows, columns) tensors.
    #[allow(clippy::too_many_arguments)]
    pub fn load<R: std::io::Read + std::io::Seek>(
        content: &Content,
        reader: &mut R,
        device: &Device,
        prefix: &str,
        used: usize,
        activation: Activation,
        dtype: DType,
    ) -> Result<Self> {
        let router = content.tensor(reader, &format!("{prefix}.ffn_gate_inp.weight"), device)?;
        let count = router.shape().dims()[0];
        if used == 0 || used > count {
            candle_core::bail!("{prefix}: {used} experts used of {count}");
        }
        let mut slices = |name: &str| {
            let t = content.tensor(reader, &format!("{prefix}.{name}.weight"), &Device::Cpu)?;
            per_expert(&t, count)
        };
        let (gates, ups, downs) = (
            slices("ffn_gate_exps")?,
            slices("ffn_up_exps")?,
            slices("ffn_down_exps")?,
        );
        let experts = gates
            .into_iter()
            .zip(ups)
            .zip(downs)
            .map(|((gate, up), down)| {
                Ok(Mlp {
                    gate_up: Stacked::from_tensors(vec![gate, up], device, dtype)?,
                    down: in_dtype(on_device(down, device)?, dtype)?,
                    activation,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            router: in_dtype(router, DType::F32)?,
            experts,
            used,
        })
    }

    /// The mixture's output for rows `h` (rows, dim).
    pub fn forward(&self, h: &Tensor) -> Result<Tensor> {
        let scores = op(self.router.forward(&op(h.to_dtype(DType::F32))?))?;
        let probs = op(candle_nn::ops::softmax_last_dim(&scores))?;
        // The host decides the routing: this waits for the device.
        let probs: Vec<f32> = probs.flatten_all()?.to_vec1()?;
        let count = self.experts.len();
        let routes = route(&probs, count, self.used);
        let device = h.device();
        let (mut all_rows, mut outputs) = (Vec::new(), Vec::new());
        for (expert, chosen) in self.experts.iter().zip(tokens_by_expert(&routes, count)) {
            if chosen.is_empty() {
                continue;
            }
            let rows: Vec<u32> = chosen.iter().map(|&(row, _)| row as u32).collect();
            let weights: Vec<f32> = chosen.iter().map(|&(_, w)| w).collect();
            let weights = Tensor::from_vec(weights, (chosen.len(), 1), device)?;
            let picked = op(h.index_select(&Tensor::new(rows.as_slice(), device)?, 0))?;
            let y = op(expert.forward(&picked)?.to_dtype(DType::F32))?;
            outputs.push(op(y.broadcast_mul(&weights))?);
            all_rows.extend(rows);
        }
        let sum = op(Tensor::zeros(h.shape(), DType::F32, device))?;
        let sum = op(sum.index_add(
            &Tensor::new(all_rows.as_slice(), device)?,
            &op(Tensor::cat(&outputs, 0))?,
            0,
        ))?;
        op(sum.to_dtype(h.dtype()))
    }

    /// Bytes on the device: the router and every expert.
    pub fn bytes(&self) -> usize {
        super::layer::matrix_bytes(&self.router)
            + self.experts.iter().map(Mlp::bytes).sum::<usize>()
    }

    /// Matrix products one expert runs.
    pub fn mlp_products(&self) -> usize {
        self.experts.first().map_or(0, Mlp::products)
    }
}

/// The (experts, rows, columns) tensor `t` (on the host) as one
/// (rows, columns) matrix per expert.
fn per_expert(t: &QTensor, count: usize) -> Result<Vec<QTensor>> {
    let dims = t.shape().dims();
    let [experts, rows, columns] = dims else {
        candle_core::bail!("an expert tensor is {dims:?}, not (experts, rows, columns)");
    };
    if *experts != count {
        candle_core::bail!("{experts} experts' matrices for a router of {count}");
    }
    let data = t.data()?;
    let each = data.len() / count;
    data.chunks_exact(each)
        .map(|bytes| {
            let storage = QStorage::from_data(Cow::Owned(bytes.to_vec()), &Device::Cpu, t.dtype())?;
            QTensor::new(storage, (*rows, *columns))
        })
        .collect()
}

/// A host matrix moved to `device`.
fn on_device(t: QTensor, device: &Device) -> Result<QTensor> {
    if device.is_cpu() {
        return Ok(t);
    }
    let storage = QStorage::from_data(t.data()?, device, t.dtype())?;
    QTensor::new(storage, t.shape().clone())
}
