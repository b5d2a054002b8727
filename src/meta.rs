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
            logical_cpus: crate::cpu::logical_cpus(),
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

/// The source tree's git revision (with `-dirty` when sources outside results/ have uncommitted
/// changes), or "unknown".
pub fn git_revision() -> String {
    let dir = env!("CARGO_MANIFEST_DIR");
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
        Some(rev) => {
            // results/ is what the suite writes: regenerating it must not mark the source dirty.
            let dirty = run(&[
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                ":(exclude)results",
            ])
            .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{rev}-dirty")
            } else {
                rev
            }
        }
        None => "unknown".into(),
    }
}
