//! The model architectures candlelight runs, in one table: what the CPU
//! path builds for each (`crate::cpu`), which candle module is its
//! reference and CUDA path (`engine::candle`), and the quirks the rest of
//! the server needs. Adding an architecture starts here; the "supported:
//! …" message comes from this table.

use super::EngineError;

/// How a model pairs the dimensions it rotates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeStyle {
    /// Adjacent pairs (x[2i], x[2i+1]): llama GGUFs (llama.cpp's "norm").
    Interleaved,
    /// Halves (x[i], x[i + d/2]): qwen2, qwen3, gemma3, phi3 ("neox").
    Halves,
}

/// The feed-forward's gate activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// SwiGLU: silu(gate) · up.
    Silu,
    /// GeGLU with the tanh approximation of GELU: gelu(gate) · up.
    GeluTanh,
}

/// The candle module that loads the architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CandleModule {
    Llama,
    Qwen2,
    Qwen3,
    Qwen3Moe,
    Gemma3,
    Phi3,
}

#[derive(Debug)]
pub struct Architecture {
    /// As `general.architecture` names it.
    pub name: &'static str,
    pub rope: RopeStyle,
    pub activation: Activation,
    /// Per-head RMSNorm of queries and keys before the rotation.
    pub qk_norm: bool,
    /// Gemma: embeddings scaled by √dim, and RMSNorms after attention and
    /// after the feed-forward as well as before them.
    pub gemma_norms: bool,
    /// Queries, keys and values in one matrix (`attn_qkv`), and gate and
    /// up in one (`ffn_up`, gate first).
    pub fused: bool,
    /// A routed mixture of experts instead of one feed-forward.
    pub experts: bool,
    /// Local sliding-window layers with every n-th layer global (and the
    /// local ones at their own rope base), unless the file says otherwise.
    pub sliding_pattern: Option<usize>,
    pub candle: CandleModule,
    /// Longest context candle's module supports (tables it precomputes).
    pub candle_context_cap: Option<usize>,
}

const BASE: Architecture = Architecture {
    name: "",
    rope: RopeStyle::Halves,
    activation: Activation::Silu,
    qk_norm: false,
    gemma_norms: false,
    fused: false,
    experts: false,
    sliding_pattern: None,
    candle: CandleModule::Llama,
    candle_context_cap: None,
};

pub const ARCHITECTURES: &[Architecture] = &[
    Architecture {
        name: "llama",
        rope: RopeStyle::Interleaved,
        candle: CandleModule::Llama,
        candle_context_cap: Some(4096),
        ..BASE
    },
    Architecture {
        name: "qwen2",
        candle: CandleModule::Qwen2,
        ..BASE
    },
    Architecture {
        name: "qwen3",
        qk_norm: true,
        candle: CandleModule::Qwen3,
        ..BASE
    },
    Architecture {
        name: "qwen3moe",
        qk_norm: true,
        experts: true,
        candle: CandleModule::Qwen3Moe,
        ..BASE
    },
    Architecture {
        name: "gemma3",
        activation: Activation::GeluTanh,
        qk_norm: true,
        gemma_norms: true,
        sliding_pattern: Some(6),
        candle: CandleModule::Gemma3,
        ..BASE
    },
    Architecture {
        name: "phi3",
        fused: true,
        candle: CandleModule::Phi3,
        ..BASE
    },
];

/// The table entry for `general.architecture`.
pub fn architecture(name: &str) -> Result<&'static Architecture, EngineError> {
    ARCHITECTURES
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| EngineError::UnsupportedArchitecture(name.to_string()))
}

/// "llama, qwen2, …" for messages.
pub fn supported_names() -> String {
    ARCHITECTURES
        .iter()
        .map(|a| a.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_architectures_name_the_supported_ones() {
        let e = architecture("mamba").unwrap_err().to_string();
        assert!(e.contains("`mamba`"), "{e}");
        for a in ARCHITECTURES {
            assert!(e.contains(a.name), "{e}");
        }
        assert_eq!(architecture("gemma3").unwrap().candle, CandleModule::Gemma3);
    }
}
