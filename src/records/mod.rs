//! Result records: one versioned JSON file per measurement run, naming the machine, the build,
//! the date and every figure with its unit, direction and spread, so that runs on different
//! machines and days compare mechanically. Records live in `results/machines/<cpu-slug>/` as
//! `record-*.json`, are only ever added (never overwritten), and merge by copying files.
//! [`validate`] refuses a record with a missing or ill-typed field and names the field.

pub mod machines;

use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The version of [`Record`]'s layout.
pub const SCHEMA_VERSION: u32 = 1;

/// One run's figures and where they came from.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    pub schema_version: u32,
    /// What produced it: `vanishing bench`, `vanishing bench --quick`, `cargo bench --bench
    /// gemm`, or `legacy` for figures converted from the hand-written table.
    pub source: String,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ` (for legacy records, the day the figures were measured).
    pub date: String,
    pub machine: RecordMachine,
    pub build: RecordBuild,
    pub figures: Vec<Figure>,
    /// Figures typed from an older hand-written table: no samples behind them here.
    #[serde(default)]
    pub legacy: bool,
    /// Free text: how the figures were taken, what to keep in mind.
    #[serde(default)]
    pub notes: String,
}

/// The machine a record was measured on.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecordMachine {
    pub cpu: String,
    /// `vanishing info`'s key of the CPU model ([`crate::cpu::machine_slug`]).
    pub slug: String,
    pub vendor: String,
    pub family: Option<u32>,
    pub model: Option<u32>,
    pub stepping: Option<u32>,
    /// The ISA features the kernels care about.
    pub isa_flags: Vec<String>,
    pub l1d_kib: usize,
    pub l2_kib: usize,
    pub l3_kib: usize,
    /// Whether the cache sizes were read from the system (or are defaults).
    pub caches_detected: bool,
    pub logical_cpus: usize,
    pub os: String,
    /// The OS kernel's release (`uname -r` on Linux), or "unknown".
    pub kernel: String,
}

/// The build that measured.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecordBuild {
    pub crate_version: String,
    /// The commit, or "unknown".
    pub commit: String,
    pub dirty: bool,
    pub rustc: String,
    /// Cargo features compiled in.
    pub features: Vec<String>,
    pub kernel_family: String,
    pub gemm_kernel: String,
    pub sigmoid_kernel: String,
    /// The GEMM's cache blocking, `mc,kc,nc`.
    pub blocking: String,
}

/// Whether a larger value is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Higher,
    Lower,
}

/// The spread of a figure over its samples.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Spread {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl Spread {
    /// min, median and max of `x` (not empty).
    pub fn of(x: &[f64]) -> Spread {
        let mut s = x.to_vec();
        s.sort_by(f64::total_cmp);
        Spread {
            min: s[0],
            median: crate::stats::median(&s),
            max: s[s.len() - 1],
        }
    }
}

/// One measured figure.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Figure {
    /// Stable name, e.g. `sgemm-1024` or `epoch-784-30-10`.
    pub name: String,
    /// The headline value (the median of the samples for timed figures).
    pub value: f64,
    pub unit: String,
    pub direction: Direction,
    pub spread: Spread,
    pub samples: usize,
    /// For speeds: the share of the machine's measured FMA peak (of the family in use).
    #[serde(default)]
    pub share_of_peak: Option<f64>,
    /// For speeds: how many times faster than each peer measured beside it (peer time over
    /// ours, median of the paired rounds).
    #[serde(default)]
    pub peers: BTreeMap<String, f64>,
}

impl RecordMachine {
    /// This machine.
    pub fn current() -> RecordMachine {
        let c = crate::cpu::CacheSizes::get();
        let field = |name: &str| crate::cpu::cpuinfo_field(name);
        let num = |name: &str| field(name).and_then(|v| v.parse().ok());
        RecordMachine {
            cpu: crate::cpu::cpu_name(),
            slug: crate::cpu::machine_slug(),
            vendor: field("vendor_id")
                .or_else(|| field("CPU implementer"))
                .unwrap_or_else(|| "unknown".into()),
            family: num("cpu family"),
            model: num("model"),
            stepping: num("stepping"),
            isa_flags: crate::isa::detected_features()
                .iter()
                .map(|f| f.to_string())
                .collect(),
            l1d_kib: c.l1d / 1024,
            l2_kib: c.l2 / 1024,
            l3_kib: c.l3 / 1024,
            caches_detected: c.detected,
            logical_cpus: crate::cpu::online_cpus(),
            os: std::env::consts::OS.into(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown".into()),
        }
    }
}

impl RecordBuild {
    /// This build.
    pub fn current() -> RecordBuild {
        let m = crate::meta::Machine::current(1);
        let rev = m.git_revision;
        let (commit, dirty) = match rev.strip_suffix("-dirty") {
            Some(c) => (c.to_string(), true),
            None => (rev, false),
        };
        let mut features = Vec::new();
        if cfg!(feature = "openblas") {
            features.push("openblas".to_string());
        }
        if cfg!(feature = "perf-canary") {
            features.push("perf-canary".to_string());
        }
        RecordBuild {
            crate_version: m.crate_version,
            commit,
            dirty,
            rustc: m.rustc,
            features,
            kernel_family: m.isa,
            gemm_kernel: m.gemm_kernel,
            sigmoid_kernel: m.sigmoid_kernel,
            blocking: m.gemm_blocking,
        }
    }
}

/// The expected type of one field of the schema.
enum Kind {
    Str,
    Num,
    /// A number or null.
    OptNum,
    Bool,
    Int,
    OptInt,
    StrList,
    /// An object mapping names to numbers.
    NumMap,
    Obj(&'static [Field]),
    List(&'static [Field]),
}

/// One field: name, type, required.
type Field = (&'static str, Kind, bool);

const SPREAD: &[Field] = &[
    ("min", Kind::Num, true),
    ("median", Kind::Num, true),
    ("max", Kind::Num, true),
];
const FIGURE: &[Field] = &[
    ("name", Kind::Str, true),
    ("value", Kind::Num, true),
    ("unit", Kind::Str, true),
    ("direction", Kind::Str, true),
    ("spread", Kind::Obj(SPREAD), true),
    ("samples", Kind::Int, true),
    ("share_of_peak", Kind::OptNum, false),
    ("peers", Kind::NumMap, false),
];
const MACHINE: &[Field] = &[
    ("cpu", Kind::Str, true),
    ("slug", Kind::Str, true),
    ("vendor", Kind::Str, true),
    ("family", Kind::OptInt, true),
    ("model", Kind::OptInt, true),
    ("stepping", Kind::OptInt, true),
    ("isa_flags", Kind::StrList, true),
    ("l1d_kib", Kind::Int, true),
    ("l2_kib", Kind::Int, true),
    ("l3_kib", Kind::Int, true),
    ("caches_detected", Kind::Bool, true),
    ("logical_cpus", Kind::Int, true),
    ("os", Kind::Str, true),
    ("kernel", Kind::Str, true),
];
const BUILD: &[Field] = &[
    ("crate_version", Kind::Str, true),
    ("commit", Kind::Str, true),
    ("dirty", Kind::Bool, true),
    ("rustc", Kind::Str, true),
    ("features", Kind::StrList, true),
    ("kernel_family", Kind::Str, true),
    ("gemm_kernel", Kind::Str, true),
    ("sigmoid_kernel", Kind::Str, true),
    ("blocking", Kind::Str, true),
];
const RECORD: &[Field] = &[
    ("schema_version", Kind::Int, true),
    ("source", Kind::Str, true),
    ("date", Kind::Str, true),
    ("machine", Kind::Obj(MACHINE), true),
    ("build", Kind::Obj(BUILD), true),
    ("figures", Kind::List(FIGURE), true),
    ("legacy", Kind::Bool, false),
    ("notes", Kind::Str, false),
];

fn check(v: &Value, fields: &[Field], at: &str) -> std::result::Result<(), String> {
    let Some(obj) = v.as_object() else {
        return Err(format!(
            "{}: not an object",
            if at.is_empty() { "record" } else { at }
        ));
    };
    for (name, kind, required) in fields {
        let path = if at.is_empty() {
            name.to_string()
        } else {
            format!("{at}.{name}")
        };
        let Some(x) = obj.get(*name) else {
            if *required {
                return Err(format!("missing field '{path}'"));
            }
            continue;
        };
        let ok = match kind {
            Kind::Str => x.is_string(),
            Kind::Num => x.as_f64().is_some_and(f64::is_finite),
            Kind::OptNum => x.is_null() || x.as_f64().is_some_and(f64::is_finite),
            Kind::Bool => x.is_boolean(),
            Kind::Int => x.is_u64(),
            Kind::OptInt => x.is_null() || x.is_u64(),
            Kind::StrList => x.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            Kind::NumMap => x
                .as_object()
                .is_some_and(|m| m.values().all(|v| v.as_f64().is_some_and(f64::is_finite))),
            Kind::Obj(sub) => {
                check(x, sub, &path)?;
                true
            }
            Kind::List(sub) => {
                let Some(items) = x.as_array() else {
                    return Err(format!("field '{path}' is not a list"));
                };
                for (i, item) in items.iter().enumerate() {
                    check(item, sub, &format!("{path}[{i}]"))?;
                }
                true
            }
        };
        if !ok {
            let want = match kind {
                Kind::Str => "a string",
                Kind::Num => "a finite number",
                Kind::OptNum => "a finite number or null",
                Kind::Bool => "true or false",
                Kind::Int => "a non-negative integer",
                Kind::OptInt => "a non-negative integer or null",
                Kind::StrList => "a list of strings",
                Kind::NumMap => "an object of finite numbers",
                Kind::Obj(_) | Kind::List(_) => unreachable!("checked above"),
            };
            return Err(format!("field '{path}' must be {want}, found {x}"));
        }
    }
    Ok(())
}

/// Checks a record's JSON against the schema and returns it typed; the error names the first
/// missing or ill-typed field (`figures[3].spread.median`), or the unknown version.
pub fn validate(v: &Value) -> std::result::Result<Record, String> {
    check(v, RECORD, "")?;
    if v["schema_version"].as_u64() != Some(u64::from(SCHEMA_VERSION)) {
        return Err(format!(
            "schema_version {} is not {SCHEMA_VERSION}, the one this build reads",
            v["schema_version"]
        ));
    }
    for (i, f) in v["figures"].as_array().into_iter().flatten().enumerate() {
        if !matches!(f["direction"].as_str(), Some("higher" | "lower")) {
            return Err(format!(
                "field 'figures[{i}].direction' must be \"higher\" or \"lower\", found {}",
                f["direction"]
            ));
        }
    }
    serde_json::from_value(v.clone()).map_err(|e| e.to_string())
}

/// Reads and validates one record file.
pub fn read(path: &Path) -> Result<Record> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
        context: format!("reading {}", path.display()),
        source: e,
    })?;
    parse(&text, path)
}

/// Parses and validates a record's text (`origin` names it in errors).
pub fn parse(text: &str, origin: &Path) -> Result<Record> {
    let bad = |problem: String| Error::Invalid {
        what: "result record",
        problem: format!("{}: {problem}", origin.display()),
    };
    let v: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    validate(&v).map_err(bad)
}

/// Whether a file name is a record's (`record-*.json`).
pub fn is_record_name(name: &str) -> bool {
    name.starts_with("record-") && name.ends_with(".json")
}

/// Every record under `root` (`root/<slug>/record-*.json`), sorted by path; the first invalid
/// one is an error naming it.
pub fn load_all(root: &Path) -> Result<Vec<(PathBuf, Record)>> {
    let mut out = Vec::new();
    let dirs = std::fs::read_dir(root).map_err(|e| Error::Io {
        context: format!("reading {}", root.display()),
        source: e,
    })?;
    for d in dirs.flatten().filter(|d| d.path().is_dir()) {
        for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
            if is_record_name(&f.file_name().to_string_lossy()) {
                out.push((f.path(), read(&f.path())?));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The file name a record gets: `record-<date>-<source>-<commit>.json` with the date's
/// punctuation removed, so names sort by date.
pub fn file_name(r: &Record) -> String {
    let date: String = r
        .date
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let source: String = r
        .source
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let commit = r.build.commit.get(..12).unwrap_or(&r.build.commit);
    format!("record-{date}-{source}-{commit}.json")
}

/// The folder a record of this machine goes to under `root`.
pub fn machine_dir(root: &Path, r: &Record) -> PathBuf {
    root.join(&r.machine.slug)
}

/// Writes `r` as a new file under `root/<slug>/`, never replacing one: a name already taken
/// gets `-2`, `-3`, ... The file appears whole or not at all (written aside, then linked in
/// place, which fails instead of overwriting).
pub fn write_new(root: &Path, r: &Record) -> Result<PathBuf> {
    let dir = machine_dir(root, r);
    let io = |context: String| move |source| Error::Io { context, source };
    std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
    let text = serde_json::to_string_pretty(r).map_err(|e| Error::Invalid {
        what: "result record",
        problem: e.to_string(),
    })? + "\n";
    let tmp = dir.join(format!(".record.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text).map_err(io(format!("writing {}", tmp.display())))?;
    let base = file_name(r);
    let stem = base.trim_end_matches(".json");
    let mut result = Err(Error::Invalid {
        what: "result record",
        problem: "no free file name".into(),
    });
    for i in 1..1000 {
        let path = if i == 1 {
            dir.join(&base)
        } else {
            dir.join(format!("{stem}-{i}.json"))
        };
        match std::fs::hard_link(&tmp, &path) {
            Ok(()) => {
                result = Ok(path);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                result = Err(Error::Io {
                    context: format!("writing {}", path.display()),
                    source: e,
                });
                break;
            }
        }
    }
    let _ = std::fs::remove_file(&tmp);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Record {
        Record {
            schema_version: SCHEMA_VERSION,
            source: "vanishing bench".into(),
            date: "2026-12-01T22:00:00Z".into(),
            machine: RecordMachine::current(),
            build: RecordBuild::current(),
            figures: vec![Figure {
                name: "sgemm-256".into(),
                value: 150.0,
                unit: "GFLOP/s".into(),
                direction: Direction::Higher,
                spread: Spread {
                    min: 140.0,
                    median: 150.0,
                    max: 155.0,
                },
                samples: 7,
                share_of_peak: Some(0.7),
                peers: [("matrixmultiply".to_string(), 1.1)].into(),
            }],
            legacy: false,
            notes: String::new(),
        }
    }

    #[test]
    fn a_record_round_trips_and_the_validator_names_bad_fields() {
        let r = sample();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(validate(&v).unwrap(), r);
        let mutate = |f: &dyn Fn(&mut Value)| {
            let mut v = v.clone();
            f(&mut v);
            validate(&v).unwrap_err()
        };
        let e = mutate(&|v| {
            v["machine"].as_object_mut().unwrap().remove("l2_kib");
        });
        assert!(
            e.contains("'machine.l2_kib'") && e.contains("missing"),
            "{e}"
        );
        let e = mutate(&|v| v["figures"][0]["spread"]["median"] = "fast".into());
        assert!(e.contains("'figures[0].spread.median'"), "{e}");
        let e = mutate(&|v| v["figures"][0]["direction"] = "up".into());
        assert!(e.contains("'figures[0].direction'"), "{e}");
        let e = mutate(&|v| v["figures"][0]["samples"] = (-1).into());
        assert!(e.contains("'figures[0].samples'"), "{e}");
        let e = mutate(&|v| v["build"]["dirty"] = "no".into());
        assert!(e.contains("'build.dirty'"), "{e}");
        let e = mutate(&|v| v["schema_version"] = 99.into());
        assert!(e.contains("schema_version 99"), "{e}");
        let e = mutate(&|v| v["figures"] = serde_json::json!({}));
        assert!(e.contains("'figures' is not a list"), "{e}");
    }

    #[test]
    fn records_are_added_never_overwritten() {
        let root = std::env::temp_dir().join(format!("vanishing-records-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let r = sample();
        let a = write_new(&root, &r).unwrap();
        let b = write_new(&root, &r).unwrap();
        assert_ne!(a, b);
        assert!(a
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("record-20261201T220000Z-vanishing-bench-"));
        assert!(b.to_string_lossy().ends_with("-2.json"), "{}", b.display());
        let all = load_all(&root).unwrap();
        assert_eq!(all.len(), 2);
        assert!(all.iter().all(|(_, x)| *x == r));
        // No temporary left behind; an invalid record is refused by name.
        let dir = machine_dir(&root, &r);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
        std::fs::write(dir.join("record-bad.json"), "{\"schema_version\": 1}").unwrap();
        let e = load_all(&root).unwrap_err().to_string();
        assert!(
            e.contains("record-bad.json") && e.contains("'source'"),
            "{e}"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
