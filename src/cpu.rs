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

/// A `/proc/cpuinfo` field of the first CPU, if present.
pub fn cpuinfo_field(name: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
        .and_then(|l| l.split(':').nth(1))
        .map(|v| v.trim().to_string())
}

/// A short, file-name-safe key for this CPU model: the model name without vendor marks and
/// filler words, plus the family and model numbers (virtual machines often report a generic
/// name such as "Intel(R) Xeon(R) Processor", shared by several generations), e.g.
/// `intel-xeon-f6-m143` or `amd-epyc-9r14-96-core-f25-m17`.
pub fn machine_slug() -> String {
    let name = cpu_name()
        .to_lowercase()
        .replace("(r)", " ")
        .replace("(tm)", " ");
    let mut words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty() && !["processor", "cpu", "with"].contains(w))
        .map(str::to_string)
        .collect();
    words.truncate(6);
    if let (Some(f), Some(m)) = (cpuinfo_field("cpu family"), cpuinfo_field("model")) {
        words.push(format!("f{f}"));
        words.push(format!("m{m}"));
    }
    if words.is_empty() {
        words.push(std::env::consts::ARCH.to_string());
    }
    words.join("-")
}

/// Logical CPUs visible to this process.
pub fn logical_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Measures one core's f32 FMA peak in GFLOP/s with the vectors of `isa` (median of 5 short
/// runs of 12 independent FMA chains), or `None` when the CPU lacks the family or it has no
/// probe (scalar). Takes about 50 ms. This is the 100 % of every "% of peak" the suite prints:
/// judge a kernel against the peak of the ISA it runs on.
pub fn measure_fma_peak_gflops_for(isa: crate::isa::Isa) -> Option<f64> {
    use crate::isa::Isa;
    if !isa.is_available() {
        return None;
    }
    // The family's probe and its flop per round (12 independent FMA chains x lanes x 2).
    // SAFETY (every probe): the family was checked against the CPU above.
    let (probe, flop_per_round): (fn(usize) -> f32, usize) = match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => (
            |n| unsafe { crate::kernels::avx2::fma_peak_probe(n) },
            12 * 16,
        ),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => (
            |n| unsafe { crate::kernels::avx512::fma_peak_probe(n) },
            12 * 32,
        ),
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => (
            |n| unsafe { crate::kernels::neon::fma_peak_probe(n) },
            12 * 8,
        ),
        _ => return None,
    };
    let iters = 1_000_000;
    let runs: Vec<f64> = (0..5)
        .map(|_| {
            let t = std::time::Instant::now();
            std::hint::black_box(probe(iters));
            (iters * flop_per_round) as f64 / t.elapsed().as_secs_f64() / 1e9
        })
        .collect();
    Some(crate::stats::median(&runs))
}

/// One core's 256-bit (AVX2 + FMA) f32 FMA peak in GFLOP/s; see
/// [`measure_fma_peak_gflops_for`].
pub fn measure_fma_peak_gflops() -> Option<f64> {
    measure_fma_peak_gflops_for(crate::isa::Isa::Avx2)
}

/// Measures one core's memory bandwidth in GB/s: copying a 128 MiB buffer (far beyond any
/// cache), counting the bytes read and written, best of 5 copies. Takes about 0.2 s. The
/// ceiling of memory-bound kernels such as a large sigmoid pass.
pub fn measure_memory_bandwidth_gbs() -> f64 {
    const FLOATS: usize = 32 << 20;
    let src = vec![1.0f32; FLOATS];
    let mut dst = vec![0.0f32; FLOATS];
    dst.copy_from_slice(&src); // touch every page first
    let best = (0..5)
        .map(|_| {
            let t = std::time::Instant::now();
            dst.copy_from_slice(std::hint::black_box(&src));
            std::hint::black_box(&dst);
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    (2 * FLOATS * std::mem::size_of::<f32>()) as f64 / best / 1e9
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
