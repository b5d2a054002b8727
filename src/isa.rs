//! Instruction-set selection, done once per process.
//!
//! [`Isa::selected`] is the best path this CPU supports, unless the environment variable
//! `VANISHING_ISA` (`scalar`, `avx2`, `avx512`, `neon`) forces another. Every ISA-specific kernel is reached through
//! an [`Isa`] value, and a value naming a SIMD path can only be obtained after the CPU was checked
//! for it ([`Isa::checked`]), which is what makes the kernels' `unsafe` calls sound.

use crate::error::{Error, Result};
use std::sync::OnceLock;

/// A kernel family. `Scalar` is portable and always available.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Isa {
    /// Portable Rust, no `std::arch`.
    Scalar,
    /// x86-64 AVX2 + FMA (16 ymm registers).
    Avx2,
    /// x86-64 AVX-512F (with AVX2 + FMA): 16-lane activation kernels and the 12x32, 6x32 and 8x48 GEMM kernels.
    Avx512,
    /// aarch64 Advanced SIMD (NEON, 32 q registers): 4-lane activation kernels and the 8x12
    /// and 12x8 GEMM kernels.
    Neon,
}

/// Environment variable that forces a kernel family.
pub const ISA_ENV: &str = "VANISHING_ISA";

impl Isa {
    /// Every family this build knows, best last.
    pub const ALL: [Isa; 4] = [Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon];

    /// Short lowercase name, as used in `VANISHING_ISA`, kernel names and results.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
        }
    }

    /// Whether this CPU can run the family.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar => true,
            Isa::Avx2 => avx2_fma_detected(),
            Isa::Avx512 => avx2_fma_detected() && avx512f_detected(),
            Isa::Neon => neon_detected(),
        }
    }

    /// The families this CPU can run, scalar first.
    pub fn available() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_available()).collect()
    }

    /// Returns `self` if the CPU supports it, else an error naming what is available.
    pub fn checked(self) -> Result<Isa> {
        if self.is_available() {
            Ok(self)
        } else {
            Err(Error::UnknownIsa {
                requested: self.name().into(),
                reason: "not supported by this CPU",
                available: available_names(),
            })
        }
    }

    /// Parses a family name and checks the CPU supports it.
    pub fn from_name(name: &str) -> Result<Isa> {
        let isa = Isa::ALL
            .into_iter()
            .find(|i| i.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| Error::UnknownIsa {
                requested: name.into(),
                reason: "unknown",
                available: available_names(),
            })?;
        isa.checked()
    }

    /// The best family this CPU supports.
    pub fn best() -> Isa {
        *Isa::available().last().unwrap_or(&Isa::Scalar)
    }

    /// The family used by the default entry points: `VANISHING_ISA` if set and valid, else
    /// [`Isa::best`]. Decided once; an invalid `VANISHING_ISA` is reported on stderr once and
    /// ignored, because a library function has no better channel for it.
    pub fn selected() -> Isa {
        static SELECTED: OnceLock<Isa> = OnceLock::new();
        *SELECTED.get_or_init(|| match std::env::var(ISA_ENV) {
            Ok(v) if !v.trim().is_empty() => match Isa::from_name(&v) {
                Ok(isa) => isa,
                Err(e) => {
                    eprintln!("vanishing: ignoring {ISA_ENV}: {e}");
                    Isa::best()
                }
            },
            _ => Isa::best(),
        })
    }
}

fn available_names() -> String {
    Isa::available()
        .iter()
        .map(|i| i.name())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(target_arch = "x86_64")]
fn avx2_fma_detected() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx2_fma_detected() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
fn avx512f_detected() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx512f_detected() -> bool {
    false
}

#[cfg(target_arch = "aarch64")]
fn neon_detected() -> bool {
    std::arch::is_aarch64_feature_detected!("neon")
}

#[cfg(not(target_arch = "aarch64"))]
fn neon_detected() -> bool {
    false
}

/// The ISA features this CPU reports that matter to this crate, for `vanishing info`.
pub fn detected_features() -> Vec<&'static str> {
    #[allow(unused_mut)]
    let mut v = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("sse4.2") {
            v.push("sse4.2");
        }
        if has!("avx") {
            v.push("avx");
        }
        if has!("avx2") {
            v.push("avx2");
        }
        if has!("fma") {
            v.push("fma");
        }
        if has!("avx512f") {
            v.push("avx512f");
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        use std::arch::is_aarch64_feature_detected as has;
        if has!("neon") {
            v.push("neon");
        }
        if has!("fp16") {
            v.push("fp16");
        }
        if has!("sve") {
            v.push("sve");
        }
    }
    v
}
