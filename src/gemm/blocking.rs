//! Cache blocking: how big the packed blocks of A and B are, derived from the cache sizes.

use crate::cpu::CacheSizes;
use crate::error::{Error, Result};
use std::sync::OnceLock;

/// Environment variable that forces the block sizes, as `mc,kc,nc` (for example `12,8,64`).
/// Blocking changes speed, never results (see `kernels`' contract), so this exists to measure and
/// to prove that: the tests run `reproduce` under several forced blockings and compare the bits.
pub const BLOCKING_ENV: &str = "VANISHING_BLOCKING";

/// Block sizes of the five-loop GEMM (BLIS names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Blocking {
    /// Rows of the packed A block (loop 3); the `mc x kc` block targets a tenth of L2, which
    /// measured best on Zen 4 (larger blocks lost 5-25 % at 1024^3 to L2 conflicts with B and C).
    pub mc: usize,
    /// Depth of a rank-kc update (loop 4); one `kc x nr` B micro-panel targets an eighth of L2,
    /// within 256..=1024 (see [`Blocking::from_caches`]).
    pub kc: usize,
    /// Columns of the packed B panel (loop 5); the `kc x nc` panel targets a quarter of L3.
    pub nc: usize,
}

fn round_down(x: usize, step: usize) -> usize {
    (x / step).max(1) * step
}

impl Blocking {
    /// Block sizes for the given caches and a kernel tile of `mr x nr` (see the field docs for
    /// the rule), clamped to sane ranges so odd cache reports cannot produce degenerate blocks.
    ///
    /// kc is sized from L2, not L1d. Every k block ends with each C tile's partial sums stored
    /// and the next block starts by loading them again, so a product of depth k passes over
    /// all of C `k / kc` times, and a shallow kc also splits the trainer's depth-784 products
    /// into three blocks. The B micro-panel need not stay in L1d: one k step of the 12x32
    /// AVX-512 tile reads 176 bytes for 12 cycles of FMAs, a fraction of what L2 delivers. On
    /// a Zen 5 EPYC (family 26, L1d 48 KiB, L2 1 MiB) the rule before this one (a `kc x 16`
    /// slice in half of L1d: kc 384) ran 2048^3 at 227.7 GFLOP/s and this one (kc 1024, mc 48,
    /// nc 2048) at 240.6, +5.7 %; 4096^3 +5.2 %, 1024^3 +4.8 %, 1000x784x30 +7.7 %, 256^3
    /// -0.9 % (medians of 5 alternating rounds; the AVX2 6x16 kernel there: kc 1024 against
    /// 256 +1 to +5 %).
    pub fn from_caches(c: CacheSizes, mr: usize, nr: usize) -> Blocking {
        let f = std::mem::size_of::<f32>();
        let kc = round_down(c.l2 / 8 / (nr.max(1) * f), 8).clamp(256, 1024);
        let mc = round_down(c.l2 / 10 / (kc * f), mr).clamp(4 * mr, 64 * mr);
        let nc = round_down(c.l3 / 4 / (kc * f), nr).clamp(16 * nr, 256 * nr);
        Blocking { mc, kc, nc }
    }

    /// Block sizes for this machine and a kernel tile of `mr x nr`.
    pub fn detected(mr: usize, nr: usize) -> Blocking {
        static CACHES: OnceLock<CacheSizes> = OnceLock::new();
        Blocking::from_caches(*CACHES.get_or_init(CacheSizes::get), mr, nr)
    }

    /// Parses `mc,kc,nc` (three positive integers).
    pub fn parse(text: &str) -> Result<Blocking> {
        let invalid = |problem: String| Error::Invalid {
            what: BLOCKING_ENV,
            problem,
        };
        let parts = text
            .split(',')
            .map(|p| match p.trim().parse::<usize>() {
                Ok(v) if v > 0 => Ok(v),
                _ => Err(invalid(format!(
                    "'{}' in '{text}' is not a positive integer (expected mc,kc,nc, e.g. 12,8,64)",
                    p.trim()
                ))),
            })
            .collect::<Result<Vec<_>>>()?;
        match parts[..] {
            [mc, kc, nc] => Ok(Blocking { mc, kc, nc }),
            _ => Err(invalid(format!(
                "'{text}' has {} values, expected three: mc,kc,nc",
                parts.len()
            ))),
        }
    }

    /// The blocking forced through [`BLOCKING_ENV`], if it is set (an error if it is malformed).
    pub fn forced() -> Result<Option<Blocking>> {
        match std::env::var(BLOCKING_ENV) {
            Ok(v) if !v.trim().is_empty() => Blocking::parse(&v).map(Some),
            _ => Ok(None),
        }
    }

    /// The blocking the default entry points use for a kernel tile of `mr x nr`:
    /// [`BLOCKING_ENV`] when set, else [`Blocking::detected`]. A malformed variable is reported on stderr once and
    /// ignored, as `VANISHING_ISA` is (the command-line tool refuses to start with one).
    pub fn selected(mr: usize, nr: usize) -> Blocking {
        Blocking::forced_once().unwrap_or_else(|| Blocking::detected(mr, nr))
    }

    /// The blocking forced through [`BLOCKING_ENV`], read once per process (a malformed value is
    /// reported on stderr once and ignored).
    pub fn forced_once() -> Option<Blocking> {
        static FORCED: OnceLock<Option<Blocking>> = OnceLock::new();
        *FORCED.get_or_init(|| {
            Blocking::forced().unwrap_or_else(|e| {
                eprintln!("vanishing: ignoring {BLOCKING_ENV}: {e}");
                None
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_multiples_of_the_tile_and_in_range() {
        for &(l1d, l2, l3) in &[
            (32 << 10, 1 << 20, 32 << 20),
            (48 << 10, 2 << 20, 8 << 20),
            (1, 1, 1),
            (1 << 30, 1 << 30, 1 << 30),
        ] {
            for (mr, nr) in [(6, 16), (6, 32), (12, 32)] {
                let b = Blocking::from_caches(
                    CacheSizes {
                        l1d,
                        l2,
                        l3,
                        detected: true,
                        source: crate::cpu::CacheSource::Sysfs,
                    },
                    mr,
                    nr,
                );
                assert_eq!(b.mc % mr, 0, "{b:?}");
                assert_eq!(b.nc % nr, 0, "{b:?}");
                assert!((256..=1024).contains(&b.kc), "{b:?}");
            }
        }
        let zen = Blocking::from_caches(
            CacheSizes {
                l1d: 32 << 10,
                l2: 1 << 20,
                l3: 32 << 20,
                detected: true,
                source: crate::cpu::CacheSource::Sysfs,
            },
            6,
            16,
        );
        // 1 MiB / 8 / (16 floats of 4 bytes) = 2048, clamped.
        assert_eq!(zen.kc, 1024);
        // Zen 5 and the 12x32 tile: 1 MiB / 8 / 128 bytes = 1024; mc from a tenth of L2 is
        // 25 rows, raised to four tiles; nc from a quarter of L3 is 2048.
        let zen5 = Blocking::from_caches(
            CacheSizes {
                l1d: 48 << 10,
                l2: 1 << 20,
                l3: 32 << 20,
                detected: true,
                source: crate::cpu::CacheSource::Sysfs,
            },
            12,
            32,
        );
        assert_eq!(
            zen5,
            Blocking {
                mc: 48,
                kc: 1024,
                nc: 2048
            }
        );
    }

    #[test]
    fn parses_forced_blocking_and_rejects_malformed_text() {
        assert_eq!(
            Blocking::parse(" 12, 8 ,64").unwrap(),
            Blocking {
                mc: 12,
                kc: 8,
                nc: 64
            }
        );
        for bad in ["", "12,8", "12,8,64,1", "12,0,64", "12,x,64", "-1,8,64"] {
            let e = Blocking::parse(bad).unwrap_err().to_string();
            assert!(e.contains("VANISHING_BLOCKING"), "{bad}: {e}");
        }
    }
}
