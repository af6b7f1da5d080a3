//! Memory readings for the benchmark and the GPU load plan: this process's
//! peak resident set, and GPU memory in use and free where a GPU is present.

fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Peak resident set size in MiB (Linux `VmHWM`), if it can be read.
pub fn peak_rss_mib() -> Option<f64> {
    status_mib("VmHWM:")
}

/// Resident set size now, in MiB (Linux `VmRSS`).
pub fn rss_mib() -> Option<f64> {
    status_mib("VmRSS:")
}

/// GPU memory in use on the current CUDA device, in MiB.
#[cfg(feature = "cuda")]
pub fn gpu_used_mib() -> Option<f64> {
    let (free, total) = candle_core::cuda::cudarc::driver::result::mem_get_info().ok()?;
    Some((total - free) as f64 / (1024.0 * 1024.0))
}

#[cfg(not(feature = "cuda"))]
pub fn gpu_used_mib() -> Option<f64> {
    None
}

/// `gib` GiB in bytes (`--gpu-memory` takes fractions: 79.5).
pub fn gib_to_bytes(gib: f64) -> usize {
    (gib * (1u64 << 30) as f64) as usize
}

/// Bytes free on the current CUDA device.
#[cfg(feature = "cuda")]
pub fn gpu_free_bytes() -> Option<usize> {
    let (free, _) = candle_core::cuda::cudarc::driver::result::mem_get_info().ok()?;
    Some(free)
}

#[cfg(not(feature = "cuda"))]
pub fn gpu_free_bytes() -> Option<usize> {
    None
}
