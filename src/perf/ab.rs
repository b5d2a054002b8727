//! The paired A/B gate: the base revision and the head, each a `vanishing perf-worker` process
//! pinned to the same core, time the same workloads in alternating short samples; each pair's
//! log ratio cancels the machine's drift, and a distribution-free interval on their median
//! decides.
//!
//! Why not tango-bench: tango pairs two builds inside one process by loading the other build as
//! a shared library, which needs the benchmarks re-declared as tango benchmarks and binaries
//! linked with exported symbols; the base revision would have to be a tango build too. Two
//! worker processes speaking a three-command line protocol pair just as tightly (one sample of
//! each in turn, on one pinned core), work with any revision that has the worker, and keep the
//! statistics (an exact sign-test interval, below) in view and under test.

use super::workloads::{self, PAIRED};
use crate::error::{Error, Result};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable of the calibrated canary (`NAME:PERCENT`), honoured only by builds with
/// the `perf-canary` feature.
pub const CANARY_ENV: &str = "VANISHING_CANARY";

/// The canary's extra share of time for workload `name`, if this build has the feature and the
/// variable names this workload. The canary is extra work in the workload (see
/// [`canary_filler`]): both the timing and the cachegrind counts see it, as they see a code
/// change that adds work.
#[cfg(feature = "perf-canary")]
fn canary_share(name: &str) -> Option<f64> {
    let v = std::env::var(CANARY_ENV).ok()?;
    let (w, share) = parse_canary(&v)?;
    (w == name).then_some(share)
}

/// Parses a canary setting `NAME:PERCENT` into the workload name and the extra share of time
/// (`PERCENT / 100`); `None` unless the percent is a finite number in (0, 1000].
pub fn parse_canary(value: &str) -> Option<(&str, f64)> {
    let (w, pct) = value.split_once(':')?;
    let pct: f64 = pct.trim().parse().ok()?;
    (pct > 0.0 && pct <= 1000.0).then_some((w.trim(), pct / 100.0))
}

#[cfg(not(feature = "perf-canary"))]
fn canary_share(_name: &str) -> Option<f64> {
    None
}

/// Environment variable that hands the counts child (`perf-workload`, run under cachegrind)
/// the canary's loop count, calibrated natively by the gate: under valgrind a calibration would
/// measure valgrind's speed instead.
pub const CANARY_LOOPS_ENV: &str = "VANISHING_CANARY_LOOPS";

/// The canary's extra work: `n` rounds of a dependent integer chain (about 4 cycles and 4
/// instructions a round), a stand-in for a code change that adds work.
#[inline(never)]
pub fn canary_filler(n: u64) -> u64 {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..n {
        x = x.wrapping_mul(0x5851_f42d_4c95_7f2d).wrapping_add(i);
    }
    std::hint::black_box(x)
}

/// Filler rounds per iteration of workload `name` if a canary names it: its share of the
/// workload's native time per iteration, divided by the filler's time per round (best of five
/// batches of each, measured once per process and kept). In the counts child the count comes
/// from [`CANARY_LOOPS_ENV`] instead.
pub fn canary_loops(name: &str) -> Option<u64> {
    use std::sync::Mutex;
    static CALIBRATED: Mutex<Vec<(String, u64)>> = Mutex::new(Vec::new());
    let share = canary_share(name)?;
    if let Some(n) = std::env::var(CANARY_LOOPS_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
    {
        return Some(n);
    }
    let mut cache = CALIBRATED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&(_, n)) = cache.iter().find(|(n, _)| n == name) {
        return Some(n);
    }
    let mut f = workloads::workload(name)?.build();
    let best = |run: &mut dyn FnMut() -> usize| {
        (0..5)
            .map(|_| {
                let t = Instant::now();
                let units = run();
                t.elapsed().as_secs_f64() / units as f64
            })
            .fold(f64::INFINITY, f64::min)
    };
    f(); // warm
    let per_iter = best(&mut || {
        let t = Instant::now();
        let mut n = 0;
        while t.elapsed() < Duration::from_millis(20) {
            f();
            n += 1;
        }
        n
    });
    let per_round = best(&mut || {
        canary_filler(1 << 20);
        1 << 20
    });
    let n = (share * per_iter / per_round).round() as u64;
    cache.push((name.to_string(), n));
    Some(n)
}

/// Most iterations one `time` request may ask for (the gate asks for a few thousand; a
/// request beyond this is a protocol error, not hours of work).
pub const MAX_WORKER_ITERS: usize = 1 << 24;

/// One request of the worker protocol.
#[derive(Clone, Copy)]
pub enum Request {
    /// `list`: the workload names.
    List,
    /// `time NAME ITERS`: the nanoseconds of `iters` iterations of the workload.
    Time {
        workload: &'static workloads::Workload,
        iters: usize,
    },
}

/// Parses one request line: `list`, or `time NAME ITERS` with a known workload and
/// `1..=MAX_WORKER_ITERS` iterations.
pub fn parse_request(line: &str) -> Result<Request> {
    let bad = |problem: String| Error::Invalid {
        what: "perf-worker request",
        problem,
    };
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["list"] => Ok(Request::List),
        ["time", name, iters] => {
            let iters = iters
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_WORKER_ITERS).contains(n))
                .ok_or_else(|| {
                    bad(format!(
                        "bad iteration count in '{line}' (1 to {MAX_WORKER_ITERS})"
                    ))
                })?;
            let workload =
                workloads::workload(name).ok_or_else(|| bad(format!("no workload '{name}'")))?;
            Ok(Request::Time { workload, iters })
        }
        _ => Err(bad(format!(
            "'{line}' (expected 'list' or 'time NAME ITERS')"
        ))),
    }
}

/// Parses a worker's answer to a `time` request: whole nanoseconds.
pub fn parse_time_answer(answer: &str, name: &str) -> Result<f64> {
    answer
        .trim()
        .parse::<u64>()
        .map(|ns| ns as f64)
        .map_err(|_| Error::Invalid {
            what: "perf-worker",
            problem: format!(
                "answer '{answer}' to 'time {name}' is not a whole number of nanoseconds"
            ),
        })
}

/// The worker side: answers `list` (the workload names, one line) and `time NAME ITERS` (the
/// nanoseconds of ITERS iterations, one line) until its input ends. Workloads are built once,
/// on first use.
pub fn serve(input: impl BufRead, mut output: impl Write) -> Result<()> {
    let io = |e: std::io::Error| Error::Io {
        context: "perf-worker protocol".into(),
        source: e,
    };
    let mut built: Vec<(&'static str, workloads::Iteration)> = Vec::new();
    for line in input.lines() {
        let line = line.map_err(io)?;
        let reply = match parse_request(&line)? {
            Request::List => PAIRED.iter().map(|w| w.name).collect::<Vec<_>>().join(" "),
            Request::Time { workload: w, iters } => {
                let name = w.name;
                let i = match built.iter().position(|(n, _)| *n == name) {
                    Some(i) => i,
                    None => {
                        // Calibrated before the first timing, outside it.
                        let _ = canary_loops(w.name);
                        built.push((w.name, w.build()));
                        built.len() - 1
                    }
                };
                let f = &mut built[i].1;
                let t = Instant::now();
                for _ in 0..iters {
                    f();
                }
                if let Some(n) = canary_loops(name) {
                    canary_filler(n * iters as u64);
                }
                t.elapsed().as_nanos().to_string()
            }
        };
        writeln!(output, "{reply}")
            .and_then(|_| output.flush())
            .map_err(io)?;
    }
    Ok(())
}

/// A running worker process.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Worker {
    /// Starts `exe perf-worker`, pinned to `cpu` with `taskset` where it exists, without
    /// address-space randomisation (`setarch -R`) where that exists, one thread, no tuned
    /// profile (both sides run their built-in defaults).
    ///
    /// Why no randomisation: with it, every process gets its own stack, heap and mmap
    /// addresses, and so its own cache-set and 4K-aliasing pattern between the operands; that
    /// offset lasts for the whole process and pairing cannot cancel it. Measured on the Xeon:
    /// two builds of the same commit differed by -3.6 % [-4.8, -2.1] on SGEMM 512^3 in one
    /// run and -1.1 % in another. Without randomisation the same binary lays out the same way
    /// every time, so an A/A comparison compares like with like.
    fn start(exe: &Path, cpu: Option<usize>) -> Result<Worker> {
        let mut argv: Vec<std::ffi::OsString> = Vec::new();
        if setarch_available() {
            argv.extend(["setarch".into(), std::env::consts::ARCH.into(), "-R".into()]);
        }
        if let (Some(c), true) = (cpu, taskset_available()) {
            argv.extend(["taskset".into(), "-c".into(), c.to_string().into()]);
        }
        argv.push(exe.as_os_str().to_owned());
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        cmd.arg("perf-worker")
            .env("RAYON_NUM_THREADS", "1")
            .env("VANISHING_PROFILE", "off")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().map_err(|e| Error::Io {
            context: format!("starting {} perf-worker", exe.display()),
            source: e,
        })?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        Ok(Worker {
            child,
            stdin,
            stdout,
        })
    }

    fn ask(&mut self, request: &str) -> Result<String> {
        let io = |e: std::io::Error| Error::Io {
            context: format!("perf-worker request '{request}'"),
            source: e,
        };
        writeln!(self.stdin, "{request}")
            .and_then(|_| self.stdin.flush())
            .map_err(io)?;
        let mut line = String::new();
        self.stdout.read_line(&mut line).map_err(io)?;
        if line.is_empty() {
            return Err(Error::Invalid {
                what: "perf-worker",
                problem: format!("no answer to '{request}' (the worker exited)"),
            });
        }
        Ok(line.trim().to_string())
    }

    fn names(&mut self) -> Result<Vec<String>> {
        Ok(self
            .ask("list")?
            .split_whitespace()
            .map(String::from)
            .collect())
    }

    /// Seconds per iteration of `iters` iterations of `name`.
    fn time(&mut self, name: &str, iters: usize) -> Result<f64> {
        let a = self.ask(&format!("time {name} {iters}"))?;
        let ns = parse_time_answer(&a, name)?;
        Ok(ns * 1e-9 / iters as f64)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn taskset_available() -> bool {
    Command::new("taskset")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `setarch <arch> -R` can run a program here (some containers forbid the
/// personality call).
fn setarch_available() -> bool {
    Command::new("setarch")
        .args([std::env::consts::ARCH, "-R", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The exact binomial(n, 1/2) CDF at `k`: `P(X <= k)`.
fn binomial_half_cdf(n: usize, k: usize) -> f64 {
    // Sum of C(n, i) / 2^n for i <= k, in logs to stay finite for large n.
    let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
    let mut ln_c = 0.0f64; // ln C(n, 0)
    let mut total = 0.0;
    for i in 0..=k.min(n) {
        if i > 0 {
            ln_c += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        total += (ln_c + ln_half_n).exp();
    }
    total.min(1.0)
}

/// A distribution-free confidence interval for the median of `x` (the sign-test interval):
/// the `k`-th smallest and `k`-th largest values, with `k` the largest rank for which
/// `P(Binomial(n, 1/2) < k) <= (1 - level)/2`. Its coverage is at least `level` for any
/// continuous distribution, so the heavy tails of a shared machine's slow spells cannot make it
/// overconfident. Returns `(low, median, high)`; with too few values for the level, the interval
/// is the whole range.
pub fn median_interval(x: &[f64], level: f64) -> (f64, f64, f64) {
    assert!(!x.is_empty(), "no samples");
    let mut s = x.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    };
    let tail = (1.0 - level) / 2.0;
    // Largest k >= 1 with P(X <= k-1) <= tail.
    let mut k = 0;
    while k < n / 2 && binomial_half_cdf(n, k) <= tail {
        k += 1;
    }
    if k == 0 {
        return (s[0], median, s[n - 1]);
    }
    (s[k - 1], median, s[n - k])
}

/// What the gate concludes about one workload from the interval of its change (head over base,
/// as a fraction: +0.05 = 5 % slower).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Verdict {
    /// Certainly slower, and by as much as the threshold or more (the interval lies above zero
    /// and reaches the threshold): the gate fails.
    Slower,
    /// Certainly slower, but certainly by less than the threshold.
    SlightlySlower,
    /// Certainly faster.
    Faster,
    /// The interval contains zero.
    NoChange,
}

/// The decision rule. A change whose interval lies wholly above zero is real; it fails the gate
/// when the interval also reaches `threshold` (so a regression of the threshold's size, whose
/// interval straddles it, is caught, while a real but smaller one is reported and passes).
pub fn verdict(low: f64, high: f64, threshold: f64) -> Verdict {
    if low > 0.0 {
        if high >= threshold {
            Verdict::Slower
        } else {
            Verdict::SlightlySlower
        }
    } else if high < 0.0 {
        Verdict::Faster
    } else {
        Verdict::NoChange
    }
}

/// How the A/B gate runs.
pub struct AbOptions {
    /// The base revision (anything `git rev-parse` takes).
    pub base: String,
    /// The head's executable (normally this one).
    pub head_exe: PathBuf,
    /// The regression the gate must catch (fraction: 0.03 = 3 %).
    pub threshold: f64,
    /// Seconds of paired timing (the rounds fill it).
    pub seconds: f64,
    /// Length of one sample of one side.
    pub sample: Duration,
    /// Overall confidence; each workload's interval gets its Bonferroni share.
    pub level: f64,
    /// Core to pin both workers to.
    pub cpu: Option<usize>,
    /// Only these workloads (all when empty).
    pub only: Vec<String>,
}

/// One workload's A/B result.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AbRow {
    pub workload: String,
    pub what: String,
    /// Seconds per iteration, medians over the samples.
    pub base_seconds: f64,
    pub head_seconds: f64,
    /// The head's own sign-test interval on its median seconds per iteration (for dashboards,
    /// which track the head's latency rather than the change).
    pub head_low_seconds: f64,
    pub head_high_seconds: f64,
    /// Median change (head/base - 1) and its interval.
    pub change: f64,
    pub low: f64,
    pub high: f64,
    pub pairs: usize,
    pub verdict: Verdict,
    /// Whether a failing verdict was re-measured and failed again.
    pub confirmed: bool,
}

/// One workload's paired samples: ln(head/base) per pair, base and head seconds per iteration.
#[derive(Clone, Default)]
struct Samples {
    log_ratio: Vec<f64>,
    base: Vec<f64>,
    head: Vec<f64>,
}

/// The paired timing of `names` on the two workers: rounds alternate which side goes first;
/// returns each workload's per-pair log ratios ln(head/base) and the two sides' times.
fn paired_rounds(
    base: &mut Worker,
    head: &mut Worker,
    plan: &[(String, usize)],
    seconds: f64,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<Samples>> {
    let mut out = vec![Samples::default(); plan.len()];
    let start = Instant::now();
    let mut round = 0usize;
    let mut last_report = Instant::now();
    while start.elapsed().as_secs_f64() < seconds || round < 12 {
        for (w, (name, iters)) in plan.iter().enumerate() {
            let (tb, th) = if (round + w).is_multiple_of(2) {
                let b = base.time(name, *iters)?;
                (b, head.time(name, *iters)?)
            } else {
                let h = head.time(name, *iters)?;
                (base.time(name, *iters)?, h)
            };
            out[w].log_ratio.push((th / tb).ln());
            out[w].base.push(tb);
            out[w].head.push(th);
        }
        round += 1;
        if last_report.elapsed() > Duration::from_secs(5) {
            progress(&format!(
                "  {round} rounds ({:.0} of {seconds:.0} s)",
                start.elapsed().as_secs_f64()
            ));
            last_report = Instant::now();
        }
    }
    Ok(out)
}

/// Runs the paired gate between the base revision's build and the head. Returns one row per
/// workload both sides have; `Err` only when something could not run.
pub fn run(
    opts: &AbOptions,
    base_exe: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<AbRow>> {
    let mut base = Worker::start(base_exe, opts.cpu)?;
    let mut head = Worker::start(&opts.head_exe, opts.cpu)?;
    let base_names = base.names()?;
    let head_names = head.names()?;
    let mut names: Vec<String> = head_names
        .iter()
        .filter(|n| base_names.contains(n))
        .filter(|n| opts.only.is_empty() || opts.only.contains(n))
        .cloned()
        .collect();
    for n in head_names.iter().filter(|n| !base_names.contains(n)) {
        progress(&format!(
            "{n}: new in the head (the base lacks it), not compared"
        ));
    }
    if names.is_empty() {
        return Err(Error::Invalid {
            what: "A/B gate",
            problem: "no workload in common with the base".into(),
        });
    }
    names.dedup();
    // Iterations per sample, from the head (both sides then run the same count).
    let mut plan = Vec::new();
    for name in &names {
        let mut iters = 1usize;
        loop {
            let t = head.time(name, iters)? * iters as f64;
            if t >= opts.sample.as_secs_f64() || iters >= MAX_WORKER_ITERS {
                break;
            }
            let scale = (opts.sample.as_secs_f64() / t.max(1e-9)).clamp(2.0, 100.0);
            iters = (((iters as f64) * scale).ceil() as usize).min(MAX_WORKER_ITERS);
        }
        base.time(name, iters)?; // warm the base side too
        plan.push((name.clone(), iters));
    }
    let level_each = 1.0 - (1.0 - opts.level) / names.len() as f64;
    progress(&format!(
        "timing {} workloads paired on {} for {:.0} s ({:.1} ms samples, {:.2} % intervals)",
        names.len(),
        opts.cpu.map_or("any core".into(), |c| format!("core {c}")),
        opts.seconds,
        opts.sample.as_secs_f64() * 1e3,
        100.0 * level_each
    ));
    let samples = paired_rounds(&mut base, &mut head, &plan, opts.seconds, progress)?;
    let mut rows: Vec<AbRow> = plan
        .iter()
        .zip(&samples)
        .map(|((name, _), s)| row(name, s, level_each, opts.threshold))
        .collect();
    // A failing workload is measured again on its own, by two fresh worker processes; it fails
    // only if that agrees. Fresh processes, because a process keeps the physical pages it was
    // given for its whole life (and with them its cache-set and page-size luck), which pairing
    // within the process cannot cancel: in the gate's false-alarm study two byte-identical
    // programs timed 6-11 % apart for a whole run and its same-process confirmation. A real
    // regression is in the code and reappears in new processes.
    let failing: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].verdict == Verdict::Slower)
        .collect();
    if !failing.is_empty() {
        let sub: Vec<(String, usize)> = failing.iter().map(|&i| plan[i].clone()).collect();
        progress(&format!(
            "confirming {}: measuring again with fresh worker processes",
            sub.iter()
                .map(|s| s.0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        drop((base, head));
        let mut base = Worker::start(base_exe, opts.cpu)?;
        let mut head = Worker::start(&opts.head_exe, opts.cpu)?;
        for (name, iters) in &sub {
            base.time(name, *iters)?; // build and warm the workloads
            head.time(name, *iters)?;
        }
        let again = paired_rounds(&mut base, &mut head, &sub, opts.seconds / 2.0, progress)?;
        for (&i, s) in failing.iter().zip(&again) {
            let r = row(&plan[i].0, s, level_each, opts.threshold);
            rows[i].confirmed = r.verdict == Verdict::Slower;
            if !rows[i].confirmed {
                rows[i] = AbRow {
                    confirmed: false,
                    ..r
                };
            }
        }
    }
    Ok(rows)
}

fn row(name: &str, s: &Samples, level: f64, threshold: f64) -> AbRow {
    let (lo, med, hi) = median_interval(&s.log_ratio, level);
    let (low, change, high) = (lo.exp_m1(), med.exp_m1(), hi.exp_m1());
    let (head_low, _, head_high) = median_interval(&s.head, level);
    AbRow {
        workload: name.to_string(),
        what: workloads::workload(name).map_or("", |w| w.what).to_string(),
        base_seconds: crate::stats::median(&s.base),
        head_seconds: crate::stats::median(&s.head),
        head_low_seconds: head_low,
        head_high_seconds: head_high,
        change,
        low,
        high,
        pairs: s.log_ratio.len(),
        verdict: verdict(low, high, threshold),
        confirmed: false,
    }
}

/// Whether the rows pass: no confirmed regression.
pub fn passes(rows: &[AbRow]) -> bool {
    !rows
        .iter()
        .any(|r| r.verdict == Verdict::Slower && r.confirmed)
}

/// Runs `git -C repo ARGS` and returns its trimmed output; a failing git is an error naming
/// the command and git's message.
pub fn git(repo: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .map_err(|e| Error::Io {
            context: "running git".into(),
            source: e,
        })?;
    if !out.status.success() {
        return Err(Error::Invalid {
            what: "base revision",
            problem: format!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The full commit hash `rev` names in `repo`.
pub fn resolve_commit(repo: &Path, rev: &str) -> Result<String> {
    git(
        repo,
        &["rev-parse", "--verify", &format!("{rev}^{{commit}}")],
    )
}

/// The compiler flags the running binary was built with, in cargo's encoded form (flags
/// separated by U+001F), as build.rs recorded them. The base is built with these, so the two
/// sides of an A/B differ in their sources only: not in function alignment (.cargo/config.toml)
/// or in `RUSTFLAGS` the head happened to be built with.
pub const HEAD_ENCODED_RUSTFLAGS: &str = env!("VANISHING_ENCODED_RUSTFLAGS");

/// A short, stable digest of the compiler flags (FNV-1a, 32 bits), which names the base build's
/// cache entry: a base built with other flags is another build.
pub fn flags_digest(encoded: &str) -> u32 {
    encoded.bytes().fold(0x811c_9dc5, |h: u32, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The base revision's `vanishing` binary, built once per commit and set of compiler flags
/// (the head's, [`HEAD_ENCODED_RUSTFLAGS`]) in its own source tree and target directory under
/// `<target>/perf-base/` and reused from there.
pub fn base_binary(repo: &Path, rev: &str, progress: &mut dyn FnMut(&str)) -> Result<PathBuf> {
    let commit = resolve_commit(repo, rev)?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target"));
    let root = target.join("perf-base");
    let dir = root.join(format!(
        "{commit}-{:08x}",
        flags_digest(HEAD_ENCODED_RUSTFLAGS)
    ));
    let exe = dir.join("vanishing");
    if exe.is_file() {
        progress(&format!("base {rev} = {}: cached build", &commit[..12]));
        return Ok(exe);
    }
    progress(&format!(
        "base {rev} = {}: building (once per commit), with the head's compiler flags [{}]",
        &commit[..12],
        HEAD_ENCODED_RUSTFLAGS.replace('\u{1f}', " ")
    ));
    let src = dir.join("src");
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(&src).map_err(|e| Error::Io {
        context: format!("creating {}", src.display()),
        source: e,
    })?;
    // The commit's tracked files, without the data (the build does not read it).
    let status = Command::new("sh")
        .arg("-c")
        .arg("git -C \"$1\" archive --format=tar \"$2\" -- . ':(exclude)data' | tar -x -C \"$3\"")
        .args(["sh"])
        .arg(repo)
        .arg(&commit)
        .arg(&src)
        .status()
        .map_err(|e| Error::Io {
            context: "extracting the base revision".into(),
            source: e,
        })?;
    if !status.success() {
        return Err(Error::Invalid {
            what: "base revision",
            problem: format!("could not extract {commit} with git archive"),
        });
    }
    // One target directory for every base (its dependencies are then built once), apart from
    // the head's, so the two builds never invalidate each other.
    let base_target = root.join("target");
    let status = Command::new("cargo")
        .args(["build", "--release", "--quiet", "--bin", "vanishing"])
        .arg("--target-dir")
        .arg(&base_target)
        .current_dir(&src)
        .env_remove("CARGO_TARGET_DIR")
        // The head's flags, whatever the base's own .cargo/config.toml says (this variable
        // overrides it and RUSTFLAGS): same flags, so only the sources differ.
        .env_remove("RUSTFLAGS")
        .env("CARGO_ENCODED_RUSTFLAGS", HEAD_ENCODED_RUSTFLAGS)
        .status()
        .map_err(|e| Error::Io {
            context: "running cargo for the base revision".into(),
            source: e,
        })?;
    if !status.success() {
        return Err(Error::Invalid {
            what: "base revision",
            problem: format!("cargo build failed for {commit}"),
        });
    }
    // Copied, then renamed into place: a failed or interrupted build never leaves a cache entry.
    let tmp = dir.join("vanishing.tmp");
    std::fs::copy(base_target.join("release").join("vanishing"), &tmp)
        .and_then(|_| std::fs::rename(&tmp, &exe))
        .map_err(|e| Error::Io {
            context: format!("caching the base build in {}", dir.display()),
            source: e,
        })?;
    let _ = std::fs::remove_dir_all(&src);
    Ok(exe)
}

/// Whether `exe` speaks the worker protocol (revisions before the A/B gate do not).
pub fn has_worker(exe: &Path) -> bool {
    Command::new(exe)
        .args(["perf-worker", "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_cache_is_named_by_the_flags() {
        // FNV-1a's published test vectors: "" and "a".
        assert_eq!(flags_digest(""), 0x811c_9dc5);
        assert_eq!(flags_digest("a"), 0xe40c_292c);
        // Aligned and unaligned builds of one commit get different cache entries.
        let aligned = "-C\u{1f}llvm-args=-align-all-functions=6";
        assert_ne!(flags_digest(aligned), flags_digest(""));
        assert_ne!(
            flags_digest(aligned),
            flags_digest("-C\u{1f}llvm-args=-align-all-functions=5")
        );
    }

    #[test]
    fn binomial_cdf_matches_small_cases() {
        // n = 4: 1, 4, 6, 4, 1 over 16.
        assert!((binomial_half_cdf(4, 0) - 1.0 / 16.0).abs() < 1e-12);
        assert!((binomial_half_cdf(4, 1) - 5.0 / 16.0).abs() < 1e-12);
        assert!((binomial_half_cdf(4, 2) - 11.0 / 16.0).abs() < 1e-12);
        assert!((binomial_half_cdf(4, 4) - 1.0).abs() < 1e-12);
        // n = 100, k = 39: 0.0176 (tables).
        assert!((binomial_half_cdf(100, 39) - 0.0176).abs() < 2e-4);
    }

    #[test]
    fn median_interval_ranks_are_the_textbook_ones() {
        // n = 20 at 95 %: the 6th smallest and 6th largest (P(X <= 5) = 0.0207 <= 0.025,
        // P(X <= 6) = 0.0577 > 0.025).
        let x: Vec<f64> = (1..=20).map(f64::from).collect();
        let (lo, med, hi) = median_interval(&x, 0.95);
        assert_eq!((lo, med, hi), (6.0, 10.5, 15.0));
        // Order of the input does not matter.
        let mut y = x.clone();
        y.reverse();
        assert_eq!(median_interval(&y, 0.95), (6.0, 10.5, 15.0));
        // Too few values for the level: the whole range.
        assert_eq!(median_interval(&[3.0, 1.0, 2.0], 0.99), (1.0, 2.0, 3.0));
    }

    /// A deterministic stream of standard normal values (Box-Muller on a fixed LCG).
    fn normals(seed: u64, n: usize) -> Vec<f64> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut u = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| (-2.0 * u().ln()).sqrt() * (std::f64::consts::TAU * u()).cos())
            .collect()
    }

    #[test]
    fn interval_covers_the_true_median_at_its_level() {
        // 400 synthetic experiments of 61 samples from a shifted normal with heavy outliers:
        // a 90 % interval must miss the true median (0.02) in about 10 % of them.
        let mut misses = 0;
        for e in 0..400 {
            let x: Vec<f64> = normals(e, 61)
                .into_iter()
                .enumerate()
                .map(|(i, z)| 0.02 + 0.01 * z + if i % 13 == 0 { 0.5 } else { 0.0 } * z.signum())
                .collect();
            let (lo, _, hi) = median_interval(&x, 0.90);
            if !(lo <= 0.02 && 0.02 <= hi) {
                misses += 1;
            }
        }
        assert!((20..=65).contains(&misses), "{misses} misses of 400");
    }

    #[test]
    fn decision_rule_on_known_intervals() {
        let t = 0.03;
        assert_eq!(verdict(0.01, 0.05, t), Verdict::Slower);
        assert_eq!(verdict(0.035, 0.06, t), Verdict::Slower);
        assert_eq!(verdict(0.005, 0.02, t), Verdict::SlightlySlower);
        assert_eq!(verdict(-0.01, 0.05, t), Verdict::NoChange);
        assert_eq!(verdict(-0.05, -0.01, t), Verdict::Faster);
        assert_eq!(verdict(0.0, 0.1, t), Verdict::NoChange);
    }

    #[test]
    fn synthetic_regressions_are_caught_and_null_changes_are_not() {
        // Log ratios with 2 % noise per pair and 5 % of pairs hit by a slow spell on one side.
        let sample = |shift: f64, seed: u64| -> Vec<f64> {
            normals(seed, 150)
                .into_iter()
                .enumerate()
                .map(|(i, z)| {
                    let spike = if i % 20 == 7 { 0.3 * z.signum() } else { 0.0 };
                    (1.0 + shift).ln() + 0.02 * z + spike
                })
                .collect()
        };
        let level = 1.0 - 0.01 / 10.0;
        let decide = |x: &[f64]| {
            let (lo, _, hi) = median_interval(x, level);
            verdict(lo.exp_m1(), hi.exp_m1(), 0.03)
        };
        let mut false_alarms = 0;
        let mut caught = [0; 3];
        for seed in 0..100 {
            if decide(&sample(0.0, seed)) == Verdict::Slower {
                false_alarms += 1;
            }
            for (c, shift) in caught.iter_mut().zip([0.03, 0.05, 0.10]) {
                if decide(&sample(shift, 1000 + seed)) == Verdict::Slower {
                    *c += 1;
                }
            }
        }
        assert!(false_alarms <= 1, "{false_alarms} false alarms in 100");
        assert!(caught[0] >= 90, "3 %: caught {} of 100", caught[0]);
        assert_eq!(caught[1..], [100, 100], "5 % and 10 %");
    }

    #[test]
    fn worker_protocol_answers_and_refuses() {
        let mut out = Vec::new();
        serve(&b"list\ntime sigmoid-2048 3\n"[..], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].split(' ').any(|n| n == "gemm-256"));
        assert!(lines[1].parse::<u64>().unwrap() > 0);
        assert!(serve(&b"time no-such 3\n"[..], Vec::new()).is_err());
        assert!(serve(&b"time sigmoid-2048 x\n"[..], Vec::new()).is_err());
        assert!(serve(&b"bogus\n"[..], Vec::new()).is_err());
    }
}
