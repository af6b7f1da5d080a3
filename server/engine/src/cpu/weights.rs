//! Weights used in place from the memory-mapped GGUF file: a matrix is a
//! format, a shape and a byte range. Only norms and biases (small, f32) are
//! copied out.

use std::{fs::File, path::Path, sync::Arc};

use candle_core::quantized::gguf_file::Content;
use memmap2::Mmap;

use super::quant::{dequantize_row, Format};
use crate::model_port::{shown_file, EngineError};

/// A `rows × cols` weight matrix inside the mapped file.
#[derive(Clone, Copy, Debug)]
pub struct Matrix {
    pub format: Format,
    pub rows: usize,
    pub cols: usize,
    offset: usize,
    row_bytes: usize,
}

pub struct WeightFile {
    map: Arc<Mmap>,
    content: Content,
    path: String,
}

impl WeightFile {
    pub fn open(path: &Path, content: Content) -> Result<Self, EngineError> {
        let display = shown_file(path);
        let file = File::open(path).map_err(|e| EngineError::ModelFile {
            file: display.clone(),
            reason: e.to_string(),
        })?;
        // Safety: the file is only read; candlelight never writes model files
        // while they are loaded (a file changed underneath would be a user error
        // that can only give wrong numbers, not memory unsafety in Rust code
        // reading bytes).
        let map = unsafe { Mmap::map(&file) }.map_err(|e| EngineError::ModelFile {
            file: display.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            map: Arc::new(map),
            content,
            path: display,
        })
    }

    fn corrupt(&self, reason: String) -> EngineError {
        EngineError::CorruptModel {
            file: self.path.clone(),
            reason,
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// A 2-D tensor as a matrix (GGUF stores rows contiguously).
    pub fn matrix(&self, name: &str) -> Result<Matrix, EngineError> {
        let info = self
            .content
            .tensor_infos
            .get(name)
            .ok_or_else(|| self.corrupt(format!("tensor {name} is missing")))?;
        let format = Format::from_ggml(info.ggml_dtype).ok_or_else(|| {
            self.corrupt(format!(
                "tensor {name} has unsupported type {:?}",
                info.ggml_dtype
            ))
        })?;
        // Experts' matrices (3-D) are their rows one after another.
        let (rows, cols) = match info.shape.dims() {
            [experts, rows, cols] => (experts * rows, *cols),
            [rows, cols] => (*rows, *cols),
            [cols] => (1, *cols),
            dims => return Err(self.corrupt(format!("tensor {name} has shape {dims:?}"))),
        };
        if cols % format.block_len() != 0 || (format != Format::F32 && cols % 32 != 0) {
            return Err(self.corrupt(format!(
                "tensor {name}: {cols} columns do not fill whole blocks"
            )));
        }
        let offset = (self.content.tensor_data_offset + info.offset) as usize;
        let row_bytes = format.row_bytes(cols);
        if offset + rows * row_bytes > self.map.len() {
            return Err(self.corrupt(format!("tensor {name} extends past the end of the file")));
        }
        Ok(Matrix {
            format,
            rows,
            cols,
            offset,
            row_bytes,
        })
    }

    /// A 1-D tensor (norm weights, biases) copied out as f32.
    pub fn vector(&self, name: &str) -> Result<Vec<f32>, EngineError> {
        let m = self.matrix(name)?;
        let mut out = vec![0f32; m.rows * m.cols];
        for r in 0..m.rows {
            dequantize_row(
                m.format,
                self.row(&m, r),
                &mut out[r * m.cols..(r + 1) * m.cols],
            );
        }
        Ok(out)
    }

    pub fn optional_vector(&self, name: &str) -> Result<Option<Vec<f32>>, EngineError> {
        if self.has(name) {
            self.vector(name).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The bytes of row `r`.
    #[inline]
    pub fn row(&self, m: &Matrix, r: usize) -> &[u8] {
        let start = m.offset + r * m.row_bytes;
        &self.map[start..start + m.row_bytes]
    }

    /// All of the matrix's bytes.
    pub fn bytes(&self, m: &Matrix) -> &[u8] {
        &self.map[m.offset..m.offset + m.rows * m.row_bytes]
    }
}

impl Matrix {
    pub fn row_bytes(&self) -> usize {
        self.row_bytes
    }

    /// Rows `start..start + count` as a matrix of their own: one part of a
    /// fused matrix (phi3's q, k, v) or one expert of a stack.
    pub fn rows(&self, start: usize, count: usize) -> Option<Matrix> {
        (start + count <= self.rows).then_some(Matrix {
            rows: count,
            offset: self.offset + start * self.row_bytes,
            ..*self
        })
    }

    /// A matrix whose bytes the caller holds (kernel tests).
    #[cfg(test)]
    pub fn in_memory(format: Format, rows: usize, cols: usize) -> Self {
        Self {
            format,
            rows,
            cols,
            offset: 0,
            row_bytes: format.row_bytes(cols),
        }
    }
}
