//! What the machine is: CPU name, cache sizes (for GEMM blocking) and thread count.
//! Read once from Linux's sysfs/procfs; elsewhere conservative defaults are used and said so.

use std::sync::OnceLock;

/// Where the cache sizes came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheSource {
    /// Linux's `/sys/devices/system/cpu/cpu0/cache`.
    Sysfs,
    /// The x86 `cpuid` instruction (leaf 4 on Intel, 0x8000001D on AMD), on any OS.
    Cpuid,
    /// macOS's `sysctl` (`hw.perflevel0.*` on Apple Silicon).
    Sysctl,
    /// Nothing answered: typical sizes of a current x86 core.
    Defaults,
}

impl CacheSource {
    /// How `vanishing info` names it.
    pub fn describe(self) -> &'static str {
        match self {
            CacheSource::Sysfs => "detected: Linux sysfs",
            CacheSource::Cpuid => "detected: cpuid",
            CacheSource::Sysctl => "detected: macOS sysctl",
            CacheSource::Defaults => "defaults: detection failed",
        }
    }
}

/// Data-cache sizes in bytes, per core for L1/L2 and in total for L3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CacheSizes {
    pub l1d: usize,
    pub l2: usize,
    pub l3: usize,
    /// `true` when the sizes were read from the system, `false` when they are defaults.
    pub detected: bool,
    /// Where they were read.
    pub source: CacheSource,
}

impl CacheSizes {
    /// Typical sizes of a current x86 core, used when detection fails.
    pub const DEFAULT: CacheSizes = CacheSizes {
        l1d: 32 * 1024,
        l2: 512 * 1024,
        l3: 8 * 1024 * 1024,
        detected: false,
        source: CacheSource::Defaults,
    };

    /// The sizes of this machine (detected once): sysfs on Linux, else `sysctl` on macOS, else
    /// `cpuid` on x86, else the defaults.
    pub fn get() -> CacheSizes {
        static CACHE: OnceLock<CacheSizes> = OnceLock::new();
        *CACHE.get_or_init(|| {
            detect_caches()
                .or_else(sysctl_caches)
                .or_else(cpuid_caches)
                .unwrap_or(CacheSizes::DEFAULT)
        })
    }
}

/// Decodes the deterministic cache parameters of `cpuid` leaf 4 (Intel) or 0x8000001D (AMD;
/// the same layout), one `(eax, ebx, ecx, edx)` per subleaf, up to the first of type 0: level
/// in eax bits 5-7, type in bits 0-4 (1 data, 2 instruction, 3 unified), size = ways (ebx
/// 22-31, +1) x partitions (ebx 12-21, +1) x line bytes (ebx 0-11, +1) x sets (ecx, +1).
pub fn caches_from_cpuid(subleaves: &[[u32; 4]]) -> Option<CacheSizes> {
    let mut sizes = CacheSizes {
        detected: true,
        source: CacheSource::Cpuid,
        ..CacheSizes::DEFAULT
    };
    let mut found = 0;
    for &[eax, ebx, ecx, _] in subleaves {
        let kind = eax & 0x1f;
        if kind == 0 {
            break;
        }
        let level = (eax >> 5) & 0x7;
        let size = (((ebx >> 22) + 1) * (((ebx >> 12) & 0x3ff) + 1) * ((ebx & 0xfff) + 1)) as usize
            * (ecx as usize + 1);
        match (level, kind) {
            (1, 1) => sizes.l1d = size,
            (2, 1 | 3) => sizes.l2 = size,
            (3, 1 | 3) => sizes.l3 = size,
            _ => continue,
        }
        found += 1;
    }
    (found > 0).then_some(sizes)
}

/// The brand string from `cpuid` leaves 0x80000002-4 (16 bytes each, little-endian eax, ebx,
/// ecx, edx), trimmed.
pub fn brand_from_cpuid(leaves: &[[u32; 4]; 3]) -> Option<String> {
    let bytes: Vec<u8> = leaves
        .iter()
        .flat_map(|r| r.iter().flat_map(|w| w.to_le_bytes()))
        .take_while(|&b| b != 0)
        .collect();
    let s = String::from_utf8_lossy(&bytes).trim().to_string();
    (!s.is_empty()).then_some(s)
}

// Miri cannot run `cpuid`; there the caches fall back to the defaults.
#[cfg(all(target_arch = "x86_64", not(miri)))]
fn cpuid_caches() -> Option<CacheSizes> {
    use crate::kernels::x86_cpuid::{cpuid, max_leaves};
    let (standard, extended) = max_leaves();
    let read = |leaf: u32| -> Vec<[u32; 4]> { (0..8).map(|i| cpuid(leaf, i)).collect() };
    // Intel describes its caches in leaf 4, AMD in 0x8000001D (its leaf 4 is reserved, zero).
    (standard >= 4)
        .then(|| caches_from_cpuid(&read(4)))
        .flatten()
        .or_else(|| (extended >= 0x8000_001d).then(|| caches_from_cpuid(&read(0x8000_001d)))?)
}

#[cfg(not(all(target_arch = "x86_64", not(miri))))]
fn cpuid_caches() -> Option<CacheSizes> {
    None
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
fn cpuid_brand() -> Option<String> {
    use crate::kernels::x86_cpuid::{cpuid, max_leaves};
    (max_leaves().1 >= 0x8000_0004).then(|| {
        brand_from_cpuid(&[
            cpuid(0x8000_0002, 0),
            cpuid(0x8000_0003, 0),
            cpuid(0x8000_0004, 0),
        ])
    })?
}

#[cfg(not(all(target_arch = "x86_64", not(miri))))]
fn cpuid_brand() -> Option<String> {
    None
}

/// The `sysctl` names read on macOS, in the order [`caches_from_sysctl`] prefers them.
pub const SYSCTL_NAMES: [&str; 7] = [
    "hw.perflevel0.l1dcachesize",
    "hw.perflevel0.l2cachesize",
    "hw.l1dcachesize",
    "hw.l2cachesize",
    "hw.l3cachesize",
    "machdep.cpu.brand_string",
    "hw.perflevel0.physicalcpu",
];

/// The value of `name` in `sysctl` output (`name: value` lines).
fn sysctl_value<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

/// Decodes `sysctl` output: the performance cores' sizes (`hw.perflevel0.*`, Apple Silicon)
/// where present, else the plain `hw.*` ones; L3 is absent on Apple Silicon (0 then).
pub fn caches_from_sysctl(text: &str) -> Option<CacheSizes> {
    let num = |n: &str| {
        sysctl_value(text, n)?
            .parse::<usize>()
            .ok()
            .filter(|&v| v > 0)
    };
    let l1d = num("hw.perflevel0.l1dcachesize").or_else(|| num("hw.l1dcachesize"))?;
    let l2 = num("hw.perflevel0.l2cachesize").or_else(|| num("hw.l2cachesize"))?;
    Some(CacheSizes {
        l1d,
        l2,
        l3: num("hw.l3cachesize").unwrap_or(0),
        detected: true,
        source: CacheSource::Sysctl,
    })
}

/// `sysctl` output for [`SYSCTL_NAMES`] (macOS only; names it lacks are left out).
fn sysctl_text() -> Option<String> {
    if !cfg!(target_os = "macos") {
        return None;
    }
    let out = std::process::Command::new("sysctl")
        .args(SYSCTL_NAMES)
        .output()
        .ok()?;
    // sysctl exits non-zero when one name is unknown but still prints the others.
    Some(String::from_utf8_lossy(&out.stdout).to_string())
}

fn sysctl_caches() -> Option<CacheSizes> {
    caches_from_sysctl(&sysctl_text()?)
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
        source: CacheSource::Sysfs,
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

/// The CPU's model name: `/proc/cpuinfo` on Linux, `machdep.cpu.brand_string` on macOS, the
/// `cpuid` brand string on x86 elsewhere, else the architecture.
pub fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|v| v.trim().to_string())
        })
        .or_else(|| {
            sysctl_text()
                .and_then(|t| sysctl_value(&t, "machdep.cpu.brand_string").map(str::to_string))
        })
        .or_else(cpuid_brand)
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

/// Logical CPUs visible to this process (fewer than the machine has when it runs pinned, as
/// `vanishing bench` does).
pub fn logical_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Logical CPUs the machine has online, whatever this process is pinned to: what result
/// records and baselines name the machine by. From Linux's `/sys/devices/system/cpu/online`;
/// elsewhere (or if unreadable) the CPUs visible to this process.
pub fn online_cpus() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|t| count_cpu_list(&t))
        .unwrap_or_else(logical_cpus)
}

/// The number of CPUs in a Linux CPU list such as `0-3,8,10-11`; `None` if it is malformed.
pub fn count_cpu_list(text: &str) -> Option<usize> {
    let mut n = 0usize;
    for part in text.trim().split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<usize>().ok()?,
                b.trim().parse::<usize>().ok()?,
            ),
            None => {
                let v = part.trim().parse::<usize>().ok()?;
                (v, v)
            }
        };
        n = n.checked_add(hi.checked_sub(lo)? + 1)?;
    }
    (n > 0).then_some(n)
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
    #[test]
    fn counts_linux_cpu_lists() {
        assert_eq!(super::count_cpu_list("0-1\n"), Some(2));
        assert_eq!(super::count_cpu_list("0"), Some(1));
        assert_eq!(super::count_cpu_list("0-3,8,10-11"), Some(7));
        for bad in ["", "x", "3-1", "0-", "1,,2"] {
            assert_eq!(super::count_cpu_list(bad), None, "{bad:?}");
        }
    }

    use super::*;

    #[test]
    fn decodes_cpuid_cache_leaves() {
        // Captured with `cpuid` leaf 4, subleaves 0-4, on the Xeon family 6 model 167 VM
        // (2026-12-01; its sysfs says L1d 48 KiB, L2 2 MiB, L3 480 MiB).
        let intel = [
            [0x0400_0121, 0x02c0_003f, 0x3f, 0],
            [0x0400_0122, 0x03c0_003f, 0x3f, 0],
            [0x0400_0143, 0x03c0_003f, 0x7ff, 0],
            [0x0400_4163, 0x03c0_003f, 0x7_7fff, 0],
            [0, 0, 0, 0],
        ];
        let c = caches_from_cpuid(&intel).unwrap();
        assert_eq!((c.l1d, c.l2, c.l3), (48 << 10, 2 << 20, 480 << 20));
        assert_eq!(c.source, CacheSource::Cpuid);
        // Leaf 0x8000001D in AMD's documented layout (the same as Intel's leaf 4), built for a
        // Zen 4 core: L1d 32 KiB 8-way, L1i 32 KiB, L2 1 MiB 8-way, L3 32 MiB 16-way, 64 B lines.
        let amd = [
            [0x121, (7 << 22) | 63, 63, 0],
            [0x122, (7 << 22) | 63, 63, 0],
            [0x143, (7 << 22) | 63, 2047, 0],
            [0x163, (15 << 22) | 63, 32767, 0],
            [0, 0, 0, 0],
        ];
        let c = caches_from_cpuid(&amd).unwrap();
        assert_eq!((c.l1d, c.l2, c.l3), (32 << 10, 1 << 20, 32 << 20));
        assert!(caches_from_cpuid(&[[0, 0, 0, 0]]).is_none());
        // The brand string of the same Xeon (leaves 0x80000002-4).
        let brand = [
            [0x6574_6e49, 0x2952_286c, 0x6f65_5820, 0x2952_286e],
            [0x6f72_5020, 0x7373_6563, 0x726f, 0],
            [0, 0, 0, 0],
        ];
        assert_eq!(
            brand_from_cpuid(&brand).unwrap(),
            "Intel(R) Xeon(R) Processor"
        );
    }

    #[test]
    fn decodes_macos_sysctl() {
        // `sysctl` output in the form macOS prints it; the values are an Apple M1's (performance
        // cores: 128 KiB L1d, 12 MiB L2; the plain hw.* names report the efficiency cores').
        let m1 = "hw.perflevel0.l1dcachesize: 131072\nhw.perflevel0.l2cachesize: 12582912\n\
                  hw.l1dcachesize: 65536\nhw.l2cachesize: 4194304\n\
                  machdep.cpu.brand_string: Apple M1\n";
        let c = caches_from_sysctl(m1).unwrap();
        assert_eq!((c.l1d, c.l2, c.l3), (128 << 10, 12 << 20, 0));
        assert_eq!(c.source, CacheSource::Sysctl);
        assert_eq!(
            sysctl_value(m1, "machdep.cpu.brand_string"),
            Some("Apple M1")
        );
        // An Intel Mac has no perflevels: the plain names, with an L3.
        let intel_mac =
            "hw.l1dcachesize: 32768\nhw.l2cachesize: 262144\nhw.l3cachesize: 12582912\n";
        let c = caches_from_sysctl(intel_mac).unwrap();
        assert_eq!((c.l1d, c.l2, c.l3), (32 << 10, 256 << 10, 12 << 20));
        assert!(caches_from_sysctl("hw.l1dcachesize: 0\n").is_none());
    }

    #[cfg(all(target_arch = "x86_64", not(miri)))]
    #[test]
    fn cpuid_agrees_with_sysfs_where_both_answer() {
        let (Some(sysfs), Some(cpuid)) = (detect_caches(), cpuid_caches()) else {
            eprintln!("skipped: this machine lacks sysfs cache entries or cpuid leaf 4");
            return;
        };
        assert_eq!((sysfs.l1d, sysfs.l2), (cpuid.l1d, cpuid.l2));
    }

    #[test]
    fn parses_sysfs_sizes() {
        assert_eq!(parse_size("32K\n"), Some(32 * 1024));
        assert_eq!(parse_size("1024K"), Some(1024 * 1024));
        assert_eq!(parse_size("32M"), Some(32 * 1024 * 1024));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("x"), None);
    }
}
