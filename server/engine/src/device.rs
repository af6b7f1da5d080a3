//! Where the model runs: `cpu`, `cuda` or `cuda:N`.

use std::{fmt, str::FromStr};

use candle_core::Device;

use super::EngineError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceSpec {
    Cpu,
    Cuda(usize),
}

impl FromStr for DeviceSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" | "gpu" => Ok(DeviceSpec::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceSpec::Cuda)
                .ok_or_else(|| format!("unknown device `{s}` (use cpu, cuda or cuda:N)")),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Cpu => write!(f, "cpu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl DeviceSpec {
    /// The devices a load can use here: the CPU, and the first GPU in a
    /// CUDA build on a machine that has one.
    pub fn available() -> Vec<DeviceSpec> {
        let mut devices = vec![DeviceSpec::Cpu];
        if cfg!(feature = "cuda") && candle_core::utils::cuda_is_available() {
            devices.push(DeviceSpec::Cuda(0));
        }
        devices
    }

    pub fn open(self) -> Result<Device, EngineError> {
        match self {
            DeviceSpec::Cpu => Ok(Device::Cpu),
            DeviceSpec::Cuda(n) => {
                if !cfg!(feature = "cuda") {
                    return Err(EngineError::Device(
                        self.to_string(),
                        "this build has no CUDA support; rebuild with the `cuda` cargo feature (make run CUDA=1)".into(),
                    ));
                }
                Device::new_cuda(n).map_err(|e| {
                    let reason = e.to_string();
                    if reason.contains("OUT_OF_MEMORY") {
                        // Even the CUDA context does not fit: the card is full.
                        EngineError::OutOfMemory {
                            device: format!("GPU {n}"),
                            reason: "no memory is left on it (is another process using it?)".into(),
                        }
                    } else {
                        EngineError::Device(self.to_string(), reason)
                    }
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!("cpu".parse(), Ok(DeviceSpec::Cpu));
        assert_eq!("cuda".parse(), Ok(DeviceSpec::Cuda(0)));
        assert_eq!("cuda:1".parse(), Ok(DeviceSpec::Cuda(1)));
        assert!("tpu".parse::<DeviceSpec>().is_err());
        assert!("cuda:x".parse::<DeviceSpec>().is_err());
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_on_a_cpu_build_names_the_build_option() {
        let err = DeviceSpec::Cuda(0).open().unwrap_err().to_string();
        assert!(err.contains("`cuda` cargo feature"), "{err}");
    }
}
