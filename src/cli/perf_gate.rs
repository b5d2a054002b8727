//! `vanishing perf-gate`: the coarse gate against the committed baseline, or with `--base` the
//! paired A/B gate; checks every output before the work, prints the table, writes the record
//! and the dashboard files. The measuring and deciding is `vanishing::perf`'s.

use clap::Args;
use std::path::{Path, PathBuf};
use vanishing::gemm::Gemm;

fn write_atomic(path: &Path, text: &str) -> Result<(), (u8, String)> {
    vanishing::fsutil::write_atomic(path, text).map_err(|e| (1, e.to_string()))
}

fn check_output(path: &Path) -> Result<(), (u8, String)> {
    vanishing::fsutil::check_writable(path).map_err(|e| (2, e.to_string()))
}

#[derive(Args)]
pub struct PerfGateArgs {
    /// Baseline file with the thresholds.
    #[arg(long, default_value = "results/perf-baseline.json")]
    baseline: PathBuf,
    /// Rewrite the baseline from a fresh measurement (thresholds = measured x (1 - margin)).
    #[arg(long)]
    update: bool,
    /// Margin below the measured ratios for --update (wide enough for a noisy shared machine;
    /// the instruction counts are the precise check).
    #[arg(long, default_value_t = 0.35)]
    margin: f64,
    /// Skip the callgrind instruction counts.
    #[arg(long)]
    no_instructions: bool,
    /// Paired A/B mode: compare this build against the base revision (built once per commit
    /// under target/perf-base/), timing both interleaved on one pinned core.
    #[arg(long, value_name = "REV")]
    base: Option<String>,
    /// A/B: the slowdown (percent) the gate must catch.
    #[arg(long, default_value_t = 3.0)]
    threshold: f64,
    /// A/B: seconds of paired timing.
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// A/B: milliseconds per sample of one side.
    #[arg(long, default_value_t = 4.0)]
    sample_ms: f64,
    /// A/B: the core both workers are pinned to (where `taskset` exists).
    #[arg(long, default_value_t = 0)]
    cpu: usize,
    /// A/B: only these workloads (comma-separated names; all by default).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// A/B: skip the cache-simulated counts (cachegrind).
    #[arg(long)]
    no_counts: bool,
    /// A/B: also write the result here as a versioned JSON record (resolved commits, machine,
    /// every workload's figures and decision).
    #[arg(long)]
    json: Option<PathBuf>,
    /// A/B: write the head's figures in Bencher Metric Format (BMF JSON) here.
    #[arg(long, value_name = "FILE")]
    bmf: Option<PathBuf>,
    /// A/B: write the head's figures for github-action-benchmark (`customSmallerIsBetter`).
    #[arg(long, value_name = "FILE")]
    github_benchmark: Option<PathBuf>,
}

/// `perf-gate`: the coarse gate, or the A/B gate with `--base`.
pub fn run(args: PerfGateArgs) -> Result<(), (u8, String)> {
    if args.base.is_some() {
        return run_ab(args);
    }
    if !(0.0..1.0).contains(&args.margin) {
        return Err((2, "invalid margin: must be in [0, 1)".into()));
    }
    if args.update {
        check_output(&args.baseline)?;
    }
    let start = std::time::Instant::now();
    let opts = vanishing::perf::GateOptions {
        baseline: args.baseline.clone(),
        update: args.update,
        margin: args.margin,
        skip_instructions: args.no_instructions,
        instruction_tolerance: 0.03,
    };
    let exe = std::env::current_exe().map_err(|e| (1, e.to_string()))?;
    println!(
        "perf gate: {} / {}, baseline {}",
        Gemm::new().kernel_name(),
        vanishing::activation::ActivationKernels::new().sigmoid_name(),
        args.baseline.display()
    );
    let (rows, pass) = vanishing::perf::gate(&opts, &exe, &mut |m| println!("  {m}"))
        .map_err(|e| (1, e.to_string()))?;
    let w = rows.iter().map(|r| r.check.len()).max().unwrap_or(10);
    println!(
        "{:<w$} | {:<29} | {:<32} | verdict",
        "check", "measured ratio (ours/ref)", "threshold"
    );
    for r in &rows {
        println!(
            "{:<w$} | {:<29} | {:<32} | {}",
            r.check, r.measured, r.threshold, r.verdict
        );
    }
    let secs = start.elapsed().as_secs_f64();
    if args.update {
        println!(
            "baseline written to {} ({secs:.1} s)",
            args.baseline.display()
        );
        Ok(())
    } else if pass {
        println!("perf gate: PASS ({secs:.1} s)");
        Ok(())
    } else {
        Err((1, format!("perf gate: FAIL, a check is below its threshold after a confirmation re-measure ({secs:.1} s)")))
    }
}

/// `perf-gate --base REV`: the paired A/B gate (see `vanishing::perf::ab_gate`).
fn run_ab(args: PerfGateArgs) -> Result<(), (u8, String)> {
    use vanishing::perf::ab_gate;
    let rev = args.base.clone().expect("A/B mode");
    if !(args.threshold > 0.0 && args.threshold < 100.0) {
        return Err((2, "invalid --threshold: a percentage in (0, 100)".into()));
    }
    if !(args.seconds >= 1.0 && args.sample_ms > 0.0) {
        return Err((2, "invalid --seconds or --sample-ms".into()));
    }
    // Every output is checked before the minutes of building and timing.
    let summary = std::env::var_os("GITHUB_STEP_SUMMARY").map(PathBuf::from);
    for path in [&args.json, &args.bmf, &args.github_benchmark, &summary]
        .into_iter()
        .flatten()
    {
        check_output(path)?;
    }
    let repo = std::process::Command::new("git")
        .args(["rev-parse", "--show-toplevel"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .ok_or((
            2,
            "perf-gate --base must run inside the git checkout".to_string(),
        ))?;
    let opts = ab_gate::AbGateOptions {
        repo,
        ab: vanishing::perf::ab::AbOptions {
            base: rev.clone(),
            head_exe: std::env::current_exe().map_err(|e| (1, e.to_string()))?,
            threshold: args.threshold / 100.0,
            seconds: args.seconds,
            sample: std::time::Duration::from_secs_f64(args.sample_ms / 1e3),
            level: 0.99,
            cpu: Some(args.cpu),
            only: args.only.clone(),
        },
        counts: !args.no_counts,
    };
    println!("perf gate A/B: head = this build, base = {rev}");
    let record = ab_gate::run(&opts, &mut |m| println!("  {m}")).map_err(|e| {
        let code = if matches!(e, vanishing::Error::Invalid { what: "--only", .. }) {
            2
        } else {
            1
        };
        (code, e.to_string())
    })?;
    if let Some(why) = &record.timing_skipped {
        println!("  timing skipped: {why}");
    }
    println!("  counts: {}", record.counts_setup);
    print!("{}", ab_gate::text_table(&record));
    if std::env::var_os("GITHUB_ACTIONS").is_some() {
        for line in ab_gate::annotations(&record) {
            println!("{line}");
        }
    }
    let json = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
    let write = write_atomic;
    if let Some(path) = &args.json {
        write(
            path,
            &json(&serde_json::to_value(&record).unwrap_or_default()),
        )?;
    }
    if let Some(path) = &args.bmf {
        write(path, &json(&ab_gate::bmf(&record)))?;
    }
    if let Some(path) = &args.github_benchmark {
        write(path, &json(&ab_gate::github_benchmark(&record)))?;
    }
    if let Some(path) = &summary {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(ab_gate::markdown(&record).as_bytes()))
            .map_err(|e| (1, format!("appending to {}: {e}", path.display())))?;
    }
    let inconclusive = record
        .workloads
        .iter()
        .filter(|o| o.decision == ab_gate::Decision::Inconclusive)
        .count();
    let secs = record.seconds;
    if record.pass {
        println!(
            "perf gate A/B: PASS{} ({secs:.0} s, of which {:.0} s getting the base build)",
            if inconclusive > 0 {
                format!(", {inconclusive} inconclusive (see above)")
            } else {
                String::new()
            },
            record.build_seconds
        );
        Ok(())
    } else {
        Err((1, format!("perf gate A/B: FAIL, a workload is slower than the base by the threshold ({secs:.0} s)")))
    }
}
