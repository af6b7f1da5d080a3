//! Matrices that read the same input, stacked by rows into one where their
//! quantization types match: one matrix product, and on CUDA one
//! quantization of the input, instead of one per matrix (llama.cpp fuses
//! q/k/v and gate/up the same way). The output is split again by columns.
//! Each output element is still one row's dot product with the input, so
//! stacking changes no number.

use std::borrow::Cow;

use super::launches::op;

use candle_core::{
    quantized::{gguf_file::Content, QMatMul, QStorage, QTensor},
    DType, Device, Module, Result, Tensor,
};

pub struct Stacked {
    /// Each product and the widths of the outputs it holds, in order.
    groups: Vec<(QMatMul, Vec<usize>)>,
    /// Each group's biases, stacked like its rows: one add per group.
    biases: Option<Vec<Tensor>>,
}

impl Stacked {
    /// Loads `names` (matrices with the same input width), stacking each
    /// run of neighbours with the same type.
    pub fn load<R: std::io::Read + std::io::Seek>(
        content: &Content,
        reader: &mut R,
        device: &Device,
        names: &[String],
        dtype: DType,
    ) -> Result<Self> {
        let tensors = names
            .iter()
            .map(|name| content.tensor(reader, name, &Device::Cpu))
            .collect::<Result<Vec<_>>>()?;
        Self::from_tensors(tensors, device, dtype)
    }

    /// One matrix that already holds several (phi3's `attn_qkv`, its
    /// gate-then-up `ffn_up`): one product, its output split by `widths`.
    pub fn fused<R: std::io::Read + std::io::Seek>(
        content: &Content,
        reader: &mut R,
        device: &Device,
        name: &str,
        widths: &[usize],
        dtype: DType,
    ) -> Result<Self> {
        let tensor = content.tensor(reader, name, device)?;
        let rows = tensor.shape().dims()[0];
        if rows != widths.iter().sum::<usize>() {
            candle_core::bail!("{name} has {rows} rows, not {widths:?}");
        }
        Ok(Self {
            groups: vec![(super::layer::in_dtype(tensor, dtype)?, widths.to_vec())],
            biases: None,
        })
    }

    /// Matrices (on the host) stacked by runs of one type, then moved to
    /// `device`.
    pub fn from_tensors(tensors: Vec<QTensor>, device: &Device, dtype: DType) -> Result<Self> {
        let mut runs: Vec<Vec<QTensor>> = Vec::new();
        for tensor in tensors {
            match runs.last_mut() {
                Some(run) if run[0].dtype() == tensor.dtype() => run.push(tensor),
                _ => runs.push(vec![tensor]),
            }
        }
        let groups = runs
            .into_iter()
            .map(|run| {
                let widths: Vec<usize> = run.iter().map(|t| t.shape().dims()[0]).collect();
                let columns = run[0].shape().dims()[1];
                let mut bytes = Vec::new();
                for t in &run {
                    if t.shape().dims()[1] != columns {
                        candle_core::bail!("stacked matrices read inputs of different widths");
                    }
                    bytes.extend_from_slice(&t.data()?);
                }
                let storage = QStorage::from_data(Cow::Owned(bytes), device, run[0].dtype())?;
                let stacked = QTensor::new(storage, (widths.iter().sum::<usize>(), columns))?;
                Ok((super::layer::in_dtype(stacked, dtype)?, widths))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            groups,
            biases: None,
        })
    }

    /// Adds each matrix's bias (in the order of the names it was loaded
    /// with) to its outputs, one add per group of stacked matrices.
    pub fn with_biases(mut self, biases: &[Tensor]) -> Result<Self> {
        let mut next = biases.iter();
        let stacked = self
            .groups
            .iter()
            .map(|(_, widths)| {
                let parts: Vec<&Tensor> = next.by_ref().take(widths.len()).collect();
                if parts.len() != widths.len() {
                    candle_core::bail!("fewer biases than stacked matrices");
                }
                Tensor::cat(&parts, 0)
            })
            .collect::<Result<Vec<_>>>()?;
        self.biases = Some(stacked);
        Ok(self)
    }

    /// Each matrix's output for rows `x`, in the order they were named.
    pub fn forward(&self, x: &Tensor) -> Result<Vec<Tensor>> {
        let mut outputs = Vec::new();
        for (g, (weight, widths)) in self.groups.iter().enumerate() {
            let y = op(weight.forward(x))?;
            let y = match &self.biases {
                Some(biases) => op(y.broadcast_add(&biases[g]))?,
                None => y,
            };
            if widths.len() == 1 {
                outputs.push(y);
                continue;
            }
            let mut start = 0;
            for &width in widths {
                outputs.push(y.narrow(candle_core::D::Minus1, start, width)?);
                start += width;
            }
        }
        Ok(outputs)
    }

    /// Bytes on the device: the matrices and their biases.
    pub fn bytes(&self) -> usize {
        let matrices: usize = self
            .groups
            .iter()
            .map(|(m, _)| super::layer::matrix_bytes(m))
            .sum();
        let biases: usize = self
            .biases
            .iter()
            .flatten()
            .map(super::layer::tensor_bytes)
            .sum();
        matrices + biases
    }

    /// Matrix products one forward runs.
    pub fn products(&self) -> usize {
        self.groups.len()
    }
}
