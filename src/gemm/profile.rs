//! The saved result of `vanishing tune` (in the spirit of FFTW's wisdom): the fastest GEMM
//! kernel and cache blocking measured on this CPU model for one kernel family. `Gemm::new` uses
//! it when it exists and nothing is forced through `VANISHING_KERNEL` or `VANISHING_BLOCKING`;
//! without one the family's default kernel and the blocking derived from the caches run. A
//! profile changes speed only: every kernel and blocking gives the same bits (see `kernels`).

use super::Blocking;
use crate::error::{Error, Result};
use crate::isa::Isa;
use crate::kernels::GemmKernel;
use std::path::{Path, PathBuf};

/// Set to `off` to ignore any saved profile (to compare it with the defaults).
pub const PROFILE_ENV: &str = "VANISHING_PROFILE";

/// What `tune` chose for one CPU model and kernel family.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Profile {
    /// [`crate::cpu::machine_slug`] of the CPU it was measured on.
    pub cpu: String,
    /// The kernel family it applies to.
    pub isa: String,
    pub kernel: String,
    pub blocking: Blocking,
    /// Geometric mean over the tuning shapes of (time with this choice / time with the
    /// defaults): below 1 is faster.
    pub relative_time: f64,
    /// Every combination timed, for the record.
    pub trials: Vec<Trial>,
}

/// One timed combination.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Trial {
    pub kernel: String,
    pub blocking: Blocking,
    /// Seconds per call on each tuning shape (best of the repeats).
    pub seconds: Vec<f64>,
    pub relative_time: f64,
    /// The largest (time with this choice / time with the defaults) over the shapes.
    #[serde(default)]
    pub worst_shape_ratio: f64,
}

/// Where profiles live: `VANISHING_CACHE_DIR`, else `$XDG_CACHE_HOME/vanishing`, else
/// `~/.cache/vanishing`, else the system temp directory.
pub fn profile_dir() -> PathBuf {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    // The variable the MNIST cache honours too (`data::mnist::CACHE_DIR_ENV`).
    var("VANISHING_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("vanishing")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("vanishing")))
        .unwrap_or_else(|| std::env::temp_dir().join("vanishing"))
}

/// The profile file for this CPU model and `isa`.
pub fn profile_path(isa: Isa) -> PathBuf {
    profile_dir().join(format!(
        "gemm-profile-{}-{}.json",
        crate::cpu::machine_slug(),
        isa.name()
    ))
}

impl Profile {
    /// The saved profile for this CPU and `isa`: `Ok(None)` when there is none (or
    /// `VANISHING_PROFILE=off`), an error when the file exists but cannot be used.
    pub fn load(isa: Isa) -> Result<Option<Profile>> {
        if std::env::var(PROFILE_ENV).is_ok_and(|v| v.trim().eq_ignore_ascii_case("off")) {
            return Ok(None);
        }
        let path = profile_path(isa);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(Error::Io {
                    context: format!("reading {}", path.display()),
                    source,
                })
            }
        };
        Profile::parse(&text, isa, &path).map(Some)
    }

    /// Parses and checks a profile's text (`origin` names it in errors): the JSON shape, a
    /// known kernel of `isa`, made on this CPU model, with positive block sizes.
    pub fn parse(text: &str, isa: Isa, origin: &Path) -> Result<Profile> {
        let bad = |problem: String| Error::Invalid {
            what: "GEMM profile",
            problem: format!(
                "{}: {problem} (run `vanishing tune` again)",
                origin.display()
            ),
        };
        let p: Profile = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let kernel = GemmKernel::by_name(&p.kernel).map_err(|e| bad(e.to_string()))?;
        if kernel.isa != isa || p.cpu != crate::cpu::machine_slug() {
            return Err(bad(format!(
                "made for {} on {}, not {} on this CPU",
                p.kernel,
                p.cpu,
                isa.name()
            )));
        }
        let b = p.blocking;
        if b.mc == 0 || b.kc == 0 || b.nc == 0 {
            return Err(bad(format!("block sizes must be positive: {b:?}")));
        }
        Ok(p)
    }

    /// The kernel the profile names (checked against the CPU by [`Profile::load`]).
    pub fn kernel(&self) -> Result<GemmKernel> {
        GemmKernel::by_name(&self.kernel)
    }
}
