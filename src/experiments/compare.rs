//! Whether two reproductions gave the same results: every JSON result and SVG figure under
//! `<dir>/chapter5/`, bit for bit, with timings (`*_seconds` fields) and the machine metadata
//! (`meta.json`) left out. This is how a reader checks a rerun against the committed results,
//! and how the tests check that kernels, blockings and thread counts change nothing.

use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// A result file that differs between two runs (or exists in only one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    pub file: String,
    /// Where and how it differs, for a person to read.
    pub detail: String,
}

/// The comparable content of a reproduction's output directory: file name -> text, with JSON
/// normalised (timings removed, printed compactly) and `meta.json` left out.
pub fn comparable_results(dir: &Path) -> Result<BTreeMap<String, String>> {
    let data = dir.join("chapter5");
    let io = |context: String| move |source| Error::Io { context, source };
    let entries = std::fs::read_dir(&data).map_err(io(format!("reading {}", data.display())))?;
    let mut files = BTreeMap::new();
    for entry in entries {
        let path = entry
            .map_err(io(format!("reading {}", data.display())))?
            .path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let is_json = name.ends_with(".json");
        if name == "meta.json" || !(is_json || name.ends_with(".svg")) {
            continue;
        }
        let text =
            std::fs::read_to_string(&path).map_err(io(format!("reading {}", path.display())))?;
        let kept = if is_json {
            let mut v: Value = serde_json::from_str(&text).map_err(|e| Error::Invalid {
                what: "result file",
                problem: format!("{} is not valid JSON: {e}", path.display()),
            })?;
            drop_timings(&mut v);
            v.to_string()
        } else {
            text
        };
        files.insert(name, kept);
    }
    if files.is_empty() {
        return Err(Error::Invalid {
            what: "results directory",
            problem: format!(
                "{} holds no JSON results or figures (is it a `reproduce --out` directory?)",
                data.display()
            ),
        });
    }
    Ok(files)
}

/// Removes every `*_seconds` field: those are measurements of this run, not results.
fn drop_timings(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, _| !k.ends_with("_seconds"));
            map.values_mut().for_each(drop_timings);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_timings),
        _ => {}
    }
}

/// Every file in which two comparable result sets differ (empty when the runs agree).
pub fn differences(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<Difference> {
    let mut out = Vec::new();
    for name in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
        match (a.get(name), b.get(name)) {
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) => out.push(Difference {
                file: name.clone(),
                detail: first_difference(x, y),
            }),
            (Some(_), None) => out.push(Difference {
                file: name.clone(),
                detail: "only in the first run".into(),
            }),
            _ => out.push(Difference {
                file: name.clone(),
                detail: "only in the second run".into(),
            }),
        }
    }
    out
}

/// The first byte at which two texts differ, with some context from each.
fn first_difference(a: &str, b: &str) -> String {
    let at = a
        .bytes()
        .zip(b.bytes())
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let around = |s: &str| {
        let bytes = &s.as_bytes()[at.saturating_sub(50).min(s.len())..(at + 50).min(s.len())];
        String::from_utf8_lossy(bytes).to_string()
    };
    format!(
        "first difference at byte {at}:\n    {}\n    {}",
        around(a),
        around(b)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_are_ignored_and_values_are_not() {
        let mut v: Value = serde_json::from_str(
            r#"{"a": 1.5, "train_seconds": 3.0, "rows": [{"x_seconds": 1, "y": 2}]}"#,
        )
        .unwrap();
        drop_timings(&mut v);
        assert_eq!(v.to_string(), r#"{"a":1.5,"rows":[{"y":2}]}"#);
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let a = map(&[("x.json", "[1.0]"), ("y.svg", "<svg/>")]);
        assert!(differences(&a, &a).is_empty());
        let b = map(&[("x.json", "[1.0000001]"), ("z.svg", "<svg/>")]);
        let d = differences(&a, &b);
        let files: Vec<&str> = d.iter().map(|d| d.file.as_str()).collect();
        assert_eq!(files, ["x.json", "y.svg", "z.svg"]);
        assert!(d[0].detail.contains("byte 4"), "{}", d[0].detail);
    }
}
