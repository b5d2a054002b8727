//! What the machine is: CPU name, cache sizes (for GEMM blocking) and thread count.
//! Read once from Linux's sysfs/procfs; elsewhere conservative defaults are used and said so.

use std::sync::OnceLock;

/// Data-cache sizes in bytes, per core for L1/L2 and in total for L3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CacheSizes {
    pub l1d: usize,
    pub l2: usize,
    pub l3: usize,
    /// `true` when the sizes were read from the OS, `false` when they are defaults.
    pub detected: bool,
}

impl CacheSizes {
    /// Typical sizes of a current x86 core, used when detection fails.
    pub const DEFAULT: CacheSizes = CacheSizes {
        l1d: 32 * 1024,
        l2: 512 * 1024,
        l3: 8 * 1024 * 1024,
        detected: false,
    };

    /// The sizes of this machine (detected once).
    pub fn get() -> CacheSizes {
        static CACHE: OnceLock<CacheSizes> = OnceLock::new();
        *CACHE.get_or_init(|| detect_caches().unwrap_or(CacheSizes::DEFAULT))
    }
}

fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'K' => (&s[..s.len() - 1], 1024),
        'M' => (&s[..s.len() - 1], 1024 * 1024),
        'G' => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    num.parse::<usize>().ok().map(|n| n * mult)
}

fn detect_caches() -> Option<CacheSizes> {
    let base = std::path::Path::new("/sys/devices/system/cpu/cpu0/cache");
    let mut sizes = CacheSizes {
        detected: true,
        ..CacheSizes::DEFAULT
    };
    let mut found = 0;
    for entry in std::fs::read_dir(base).ok()?.flatten() {
        let dir = entry.path();
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
        let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size"))
        else {
            continue;
        };
        let Some(size) = parse_size(&size) else {
            continue;
        };
        match (level.trim(), kind.trim()) {
            ("1", "Data") => sizes.l1d = size,
            ("2", _) => sizes.l2 = size,
            ("3", _) => sizes.l3 = size,
            _ => continue,
        }
        found += 1;
    }
    (found > 0).then_some(sizes)
}

/// The CPU's model name (`/proc/cpuinfo`), or the architecture where that is unavailable.
pub fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// Logical CPUs visible to this process.
pub fn logical_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Measures one core's f32 FMA peak in GFLOP/s (median of 5 short runs of 12 independent FMA
/// chains), or `None` without AVX2+FMA. Takes about 50 ms.
pub fn measure_fma_peak_gflops() -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        if !crate::isa::Isa::Avx2.is_available() {
            return None;
        }
        let iters = 1_000_000;
        let mut runs: Vec<f64> = (0..5)
            .map(|_| {
                let t = std::time::Instant::now();
                // SAFETY: AVX2 and FMA were detected just above.
                let v = unsafe { crate::kernels::avx2::fma_peak_probe(iters) };
                std::hint::black_box(v);
                (iters * 12 * 16) as f64 / t.elapsed().as_secs_f64() / 1e9
            })
            .collect();
        runs.sort_by(|a, b| a.total_cmp(b));
        Some(runs[2])
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn parses_sysfs_sizes() {
        assert_eq!(parse_size("32K\n"), Some(32 * 1024));
        assert_eq!(parse_size("1024K"), Some(1024 * 1024));
        assert_eq!(parse_size("32M"), Some(32 * 1024 * 1024));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("x"), None);
    }
}
