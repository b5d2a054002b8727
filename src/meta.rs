//! Machine and build metadata recorded beside every result.

use crate::activation::ActivationKernels;
use crate::gemm::Gemm;

/// Where and with what a result was produced.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Machine {
    pub cpu: String,
    pub logical_cpus: usize,
    pub isa: String,
    pub gemm_kernel: String,
    /// The GEMM's cache blocking as `mc,kc,nc` (detected or forced): it changes speed only.
    #[serde(default)]
    pub gemm_blocking: String,
    pub sigmoid_kernel: String,
    pub threads: usize,
    pub rustc: String,
    pub git_revision: String,
    pub crate_version: String,
}

impl Machine {
    /// Metadata of this process, with `threads` as the thread count in use.
    pub fn current(threads: usize) -> Machine {
        let gemm = Gemm::new();
        let act = ActivationKernels::new();
        Machine {
            cpu: crate::cpu::cpu_name(),
            logical_cpus: crate::cpu::online_cpus(),
            isa: crate::isa::Isa::selected().name().into(),
            gemm_kernel: gemm.kernel_name().into(),
            gemm_blocking: {
                let b = gemm.block_sizes();
                format!("{},{},{}", b.mc, b.kc, b.nc)
            },
            sigmoid_kernel: act.sigmoid_name().into(),
            threads,
            rustc: env!("VANISHING_RUSTC_VERSION").into(),
            git_revision: git_revision(),
            crate_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// The git revision of the checkout this executable was built in
/// ([`crate::fsutil::source_checkout`], else the current directory), with `-dirty` when sources
/// outside results/ have uncommitted changes, or "unknown".
pub fn git_revision() -> String {
    let dir = crate::fsutil::source_checkout().unwrap_or_else(|| ".".into());
    let dir = dir.as_path();
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "--short=12", "HEAD"]) {
        Some(rev) if sources_dirty(dir) => format!("{rev}-dirty"),
        Some(rev) => rev,
        None => "unknown".into(),
    }
}

/// Whether the git checkout at `dir` has uncommitted changes to tracked files outside
/// `results/` (what the suite writes: regenerating it must not mark the source dirty).
pub fn sources_dirty(dir: &std::path::Path) -> bool {
    std::process::Command::new("git")
        .args([
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":(exclude)results",
        ])
        .current_dir(dir)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .is_some_and(|o| !o.stdout.is_empty())
}

/// Everything `vanishing info` reports about this machine: what it is, which kernels and blocks
/// the suite will use on it, and the measured peaks that every "% of peak" is a share of.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MachineInfo {
    pub cpu: String,
    /// File-name-safe key of the CPU model ([`crate::cpu::machine_slug`]).
    pub slug: String,
    pub logical_cpus: usize,
    pub features: Vec<&'static str>,
    pub kernel_family: String,
    pub available_families: Vec<String>,
    pub gemm_kernel: String,
    /// Every GEMM kernel this CPU runs (the candidates `VANISHING_KERNEL` may force).
    pub gemm_kernels: Vec<String>,
    pub sigmoid_kernel: String,
    pub register_tile: (usize, usize),
    pub caches: crate::cpu::CacheSizes,
    pub blocking: crate::gemm::Blocking,
    /// Whether the blocking was forced through `VANISHING_BLOCKING`.
    pub blocking_forced: bool,
    /// The tuned profile in use, or why none is.
    pub gemm_profile: String,
    pub threads: usize,
    /// One core's measured f32 FMA peak with 256-bit vectors (AVX2 + FMA), GFLOP/s.
    pub peak_avx2_gflops: Option<f64>,
    /// One core's measured f32 FMA peak with 512-bit vectors (AVX-512F), GFLOP/s.
    pub peak_avx512_gflops: Option<f64>,
    /// One core's f32 FMA peak with 128-bit NEON vectors (aarch64 only).
    pub peak_neon_gflops: Option<f64>,
    /// The peak of the family in use: the denominator of the suite's "% of peak".
    pub peak_in_use_gflops: Option<f64>,
    /// One core's measured copy bandwidth (bytes read + written), GB/s.
    pub memory_bandwidth_gbs: f64,
}

impl MachineInfo {
    /// Measures this machine (about half a second: the peaks and the bandwidth are timed).
    pub fn measure() -> MachineInfo {
        use crate::cpu;
        use crate::isa::Isa;
        let gemm = Gemm::new();
        let peak_avx2 = cpu::measure_fma_peak_gflops_for(Isa::Avx2);
        let peak_avx512 = cpu::measure_fma_peak_gflops_for(Isa::Avx512);
        let peak_neon = cpu::measure_fma_peak_gflops_for(Isa::Neon);
        let family = Isa::selected();
        MachineInfo {
            cpu: cpu::cpu_name(),
            slug: cpu::machine_slug(),
            logical_cpus: cpu::online_cpus(),
            features: crate::isa::detected_features(),
            kernel_family: family.name().into(),
            available_families: Isa::available().iter().map(|i| i.name().into()).collect(),
            gemm_kernel: gemm.kernel_name().into(),
            gemm_kernels: crate::kernels::GemmKernel::available()
                .iter()
                .map(|k| k.name.into())
                .collect(),
            sigmoid_kernel: ActivationKernels::new().sigmoid_name().into(),
            register_tile: gemm.tile(),
            caches: cpu::CacheSizes::get(),
            blocking: gemm.block_sizes(),
            blocking_forced: std::env::var(crate::gemm::blocking::BLOCKING_ENV)
                .is_ok_and(|v| !v.trim().is_empty()),
            gemm_profile: {
                let path = crate::gemm::profile::profile_path(family);
                match crate::gemm::profile::Profile::load(family) {
                    Ok(Some(p)) => format!(
                        "{} ({} with mc {}, kc {}, nc {}; {:.1} % of the defaults' time)",
                        path.display(),
                        p.kernel,
                        p.blocking.mc,
                        p.blocking.kc,
                        p.blocking.nc,
                        100.0 * p.relative_time
                    ),
                    Ok(None) => format!(
                        "none at {} (defaults in use; `vanishing tune` makes one)",
                        path.display()
                    ),
                    Err(e) => format!("unusable, defaults in use: {e}"),
                }
            },
            threads: rayon::current_num_threads(),
            peak_avx2_gflops: peak_avx2,
            peak_avx512_gflops: peak_avx512,
            peak_neon_gflops: peak_neon,
            peak_in_use_gflops: match family {
                Isa::Avx512 => peak_avx512,
                Isa::Avx2 => peak_avx2,
                Isa::Neon => peak_neon,
                Isa::Scalar => None,
            },
            memory_bandwidth_gbs: cpu::measure_memory_bandwidth_gbs(),
        }
    }
}
