#!/usr/bin/env bash
# Measures the A/B gate's false alarms on changes that touch no workload's code.
#
#   scripts/gate-false-alarms.sh N [OUT]
#
# In a scratch clone of HEAD, makes N commits in a row, each a change that no workload runs
# (cycling through: a README line, a CLI help string, an unused function in stats.rs, a report
# prose string, an unused function in experiments/), builds each, and runs the gate of each
# commit against the one before with the defaults CI uses (`perf-gate --base <previous>`,
# counts included). Each build is reused as the next commit's base (copied into the clone's
# target/perf-base/), so every commit is built once. One JSON record per run goes to OUT
# (default target/gate-false-alarms/); the last line sums up fails and inconclusives, and what
# the timing alone (the rule before the counts cross-check) would have failed.
set -euo pipefail
n=${1:?usage: gate-false-alarms.sh N [OUT]}
root=$(git rev-parse --show-toplevel)
out=$(realpath -m "${2:-$root/target/gate-false-alarms}")
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q --no-hardlinks "$root" "$work/repo"
cd "$work/repo"
git config user.email gate-study@localhost
git config user.name "gate study"
build() { # builds HEAD, caches it as a base build of its commit
  cargo build --release --quiet --bin vanishing
  local c; c=$(git rev-parse HEAD)
  mkdir -p "target/perf-base/$c"
  cp target/release/vanishing "target/perf-base/$c/vanishing"
}
build
# Numbering continues after the runs already in OUT, so a second call adds to the first.
first=$(( $(find "$out" -name 'run-*.json' | wc -l) + 1 ))
for i in $(seq "$first" $((first + n - 1))); do
  case $((i % 5)) in
    1) echo "<!-- gate study $i -->" >> README.md; kind=docs ;;
    2) sed -i "s|/// Print the report as JSON.*|/// Print the report as JSON (study $i).|" src/main.rs; kind=cli-text ;;
    3) printf '\n/// Unused (gate study %s).\npub fn gate_study_%s(x: &[f64]) -> f64 {\n    x.iter().map(|v| v * %s.0).sum()\n}\n' "$i" "$i" "$i" >> src/stats.rs; kind=unused-fn ;;
    4) sed -i "s|Beyond the book[^:]*: which|Beyond the book ($i): which|" src/report/beyond.rs; kind=report-prose ;;
    0) printf '\n/// Unused (gate study %s).\npub fn gate_study_%s(n: usize) -> usize {\n    (0..n).map(|i| i * %s).sum()\n}\n' "$i" "$i" "$i" >> src/experiments/mod.rs; kind=unused-fn-experiments ;;
  esac
  git commit -q -am "gate study $i: $kind"
  build
  echo "== run $i: $kind =="
  ./target/release/vanishing perf-gate --base HEAD~1 --json "$out/run-$i-$kind.json" | tail -1 || true
done
python3 - "$out" <<'PY'
import json, sys, glob
runs = [json.load(open(f)) for f in sorted(glob.glob(sys.argv[1] + "/run-*.json"))]
fails = [r for r in runs if not r["pass"]]
inc = [r for r in runs if any(w["decision"] == "inconclusive" for w in r["workloads"])]
timing_only = [r for r in runs if any((w.get("timing") or {}).get("verdict") == "Slower"
               and (w.get("timing") or {}).get("confirmed") for w in r["workloads"])]
for r in runs:
    bad = [f'{w["workload"]} {w["decision"]}: {w["reason"]}' for w in r["workloads"] if w["decision"] != "pass"]
    print(r["head"]["commit"][:10], "PASS" if r["pass"] else "FAIL", "; ".join(bad))
print(f"{len(runs)} runs: {len(fails)} failed, {len(inc)} with an inconclusive workload; "
      f"the timing alone (previous rule) would have failed {len(timing_only)}")
PY
