//! How a KV cache stores keys and values (`--cache-type`, llama.cpp's and
//! TGW's name for it): f16, or q8_0 (bytes with one f16 scale per 32
//! values, as llama.cpp's q8_0), which holds a long chat in about half the
//! memory at a small cost in precision.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CacheType {
    #[default]
    #[serde(rename = "f16")]
    F16,
    #[serde(rename = "q8_0")]
    Q8_0,
}

/// Values q8_0 keeps under one scale.
pub const Q8_GROUP: usize = 32;

impl CacheType {
    pub const ALL: [CacheType; 2] = [CacheType::F16, CacheType::Q8_0];

    pub fn name(self) -> &'static str {
        match self {
            CacheType::F16 => "f16",
            CacheType::Q8_0 => "q8_0",
        }
    }

    /// Bytes `values` keys or values take (a q8_0 group is 32 bytes and
    /// its 2-byte scale).
    pub fn bytes_for(self, values: usize) -> usize {
        match self {
            CacheType::F16 => values * 2,
            CacheType::Q8_0 => values.div_ceil(Q8_GROUP) * (Q8_GROUP + 2),
        }
    }
}

impl fmt::Display for CacheType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CacheType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "f16" | "fp16" => Ok(CacheType::F16),
            "q8_0" | "q8-0" | "q8" => Ok(CacheType::Q8_0),
            other => Err(format!("unknown cache type `{other}`: use f16 or q8_0")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_q8_takes_about_half() {
        for t in CacheType::ALL {
            assert_eq!(t.name().parse::<CacheType>(), Ok(t));
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{}\"", t.name())
            );
        }
        assert_eq!("Q8-0".parse(), Ok(CacheType::Q8_0));
        assert!("q4_0"
            .parse::<CacheType>()
            .unwrap_err()
            .contains("f16 or q8_0"));
        // Qwen2.5-0.5B: 24 layers × 2 × 128 values a token.
        assert_eq!(CacheType::F16.bytes_for(6144), 12288);
        assert_eq!(CacheType::Q8_0.bytes_for(6144), 6528);
    }
}
