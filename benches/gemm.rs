//! SGEMM throughput: ours against matrixmultiply (and, with `--features openblas`, the system
//! OpenBLAS) on squares and on the trainer's shapes, single thread and all threads.
//! `Throughput::Elements(2*m*n*k)`, so Criterion's elem/s reads as flop/s. After a full run, a
//! summary table goes to `results/machines/<cpu>/bench-gemm.md`, each figure also as a share of the measured
//! FMA peak of the vector width our kernel uses.

mod support;

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;
use vanishing::gemm::Gemm;

/// (label, m, k, n, A stored transposed)
const SHAPES: &[(&str, usize, usize, usize, bool)] = &[
    ("64x64x64", 64, 64, 64, false),
    ("128x128x128", 128, 128, 128, false),
    ("256x256x256", 256, 256, 256, false),
    ("512x512x512", 512, 512, 512, false),
    ("1024x1024x1024", 1024, 1024, 1024, false),
    ("2048x2048x2048", 2048, 2048, 2048, false),
    ("4096x4096x4096", 4096, 4096, 4096, false),
    ("4096x1024x4096", 4096, 1024, 4096, false),
    ("10x784x30", 10, 784, 30, false),
    ("10x30x10", 10, 30, 10, false),
    ("1000x784x30", 1000, 784, 30, false),
    ("784x1000x30(AT)", 784, 1000, 30, true),
    ("1000x30x30", 1000, 30, 30, false),
    ("100x784x100", 100, 784, 100, false),
];

struct Case {
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
    m: usize,
    k: usize,
    n: usize,
    rsa: isize,
    csa: isize,
}

impl Case {
    fn new(m: usize, k: usize, n: usize, at: bool) -> Case {
        let val = |i: usize, s: usize| ((i.wrapping_mul(s)) % 2003) as f32 / 2003.0 - 0.5;
        let (rsa, csa) = if at { (1, m as isize) } else { (k as isize, 1) };
        Case {
            a: (0..m * k).map(|i| val(i, 7919)).collect(),
            b: (0..k * n).map(|i| val(i, 104_729)).collect(),
            c: vec![0.0; m * n],
            m,
            k,
            n,
            rsa,
            csa,
        }
    }
    fn ours(&mut self, g: &Gemm) {
        // SAFETY: the buffers hold the m x k, k x n and m x n extents the strides describe.
        unsafe {
            g.sgemm(
                self.m,
                self.k,
                self.n,
                1.0,
                self.a.as_ptr(),
                self.rsa,
                self.csa,
                self.b.as_ptr(),
                self.n as isize,
                1,
                0.0,
                self.c.as_mut_ptr(),
                self.n as isize,
                1,
            )
        }
    }
    /// The same product through OpenBLAS's CBLAS interface (row-major; A transposed where the
    /// case stores it so).
    #[cfg(feature = "openblas")]
    fn openblas(&mut self) {
        vanishing::kernels::openblas::sgemm(vanishing::kernels::openblas::RowMajorSgemm {
            m: self.m,
            k: self.k,
            n: self.n,
            alpha: 1.0,
            a: &self.a,
            a_transposed: self.csa != 1,
            b: &self.b,
            beta: 0.0,
            c: &mut self.c,
        })
    }
    fn matrixmultiply(&mut self) {
        // SAFETY: as above.
        unsafe {
            matrixmultiply::sgemm(
                self.m,
                self.k,
                self.n,
                1.0,
                self.a.as_ptr(),
                self.rsa,
                self.csa,
                self.b.as_ptr(),
                self.n as isize,
                1,
                0.0,
                self.c.as_mut_ptr(),
                self.n as isize,
                1,
            )
        }
    }
}

#[cfg(feature = "openblas")]
use vanishing::kernels::openblas;

fn bench_gemm(c: &mut Criterion) {
    let threads = rayon::current_num_threads();
    let one = Gemm::new().threads(1);
    let all = Gemm::new().threads(threads);
    // With a tuned profile in use (`vanishing tune`), the defaults run beside it: a profile must
    // never be slower than the defaults on any shape.
    let defaults = Gemm::with_isa(one.isa()).threads(1);
    let profiled = profile_in_use(&one, &defaults);
    let mut group = c.benchmark_group("gemm");
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1200))
        .sample_size(10);
    for &(label, m, k, n, at) in SHAPES {
        let mut case = Case::new(m, k, n, at);
        group.throughput(Throughput::Elements(2 * (m * n * k) as u64));
        group.bench_function(
            BenchmarkId::new(format!("{}.1t", one.kernel_name()), label),
            |bch| bch.iter(|| case.ours(black_box(&one))),
        );
        group.bench_function(BenchmarkId::new("matrixmultiply.1t", label), |bch| {
            bch.iter(|| case.matrixmultiply())
        });
        if profiled {
            group.bench_function(BenchmarkId::new("defaults.1t", label), |bch| {
                bch.iter(|| case.ours(black_box(&defaults)))
            });
        }
        #[cfg(feature = "openblas")]
        {
            openblas::single_thread();
            // The call's parameters describe the same product: check once, before timing it.
            case.openblas();
            let theirs = case.c.clone();
            case.ours(&one);
            let worst = theirs
                .iter()
                .zip(&case.c)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            assert!(
                worst <= 1e-4 * k as f32,
                "{label}: OpenBLAS and ours differ by {worst}"
            );
            group.bench_function(BenchmarkId::new("openblas.1t", label), |bch| {
                bch.iter(|| case.openblas())
            });
        }
        if threads > 1 {
            group.bench_function(
                BenchmarkId::new(format!("{}.{threads}t", all.kernel_name()), label),
                |bch| bch.iter(|| case.ours(black_box(&all))),
            );
        }
    }
    group.finish();
}

/// Whether `ours` (from `Gemm::new`) differs from the family's defaults, i.e. a tuned profile
/// chose another kernel or blocking.
fn profile_in_use(ours: &Gemm, defaults: &Gemm) -> bool {
    ours.kernel_name() != defaults.kernel_name() || ours.block_sizes() != defaults.block_sizes()
}

fn summary() {
    if !support::full_run() {
        return;
    }
    let threads = rayon::current_num_threads();
    let gemm = Gemm::new();
    let name = gemm.kernel_name();
    let defaults = Gemm::with_isa(gemm.isa());
    let profiled = profile_in_use(&gemm, &defaults);
    let b = gemm.block_sizes();
    let setup = if profiled {
        format!(
            "Tuned profile in use: {name}, mc {}, kc {}, nc {} (`vanishing tune`); the defaults ({}, mc {}, kc {}, nc {}) ran beside it: the last column is the profile's speed over theirs (>= 1.00 means never slower).",
            b.mc, b.kc, b.nc, defaults.kernel_name(), defaults.block_sizes().mc, defaults.block_sizes().kc, defaults.block_sizes().nc
        )
    } else {
        format!("The family's default kernel {name} with mc {}, kc {}, nc {} from the caches (no tuned profile, or `vanishing tune` kept the defaults).", b.mc, b.kc, b.nc)
    };
    let peak = vanishing::cpu::measure_fma_peak_gflops_for(gemm.isa());
    #[cfg(feature = "openblas")]
    let reference = format!("OpenBLAS: {}", openblas::describe());
    #[cfg(not(feature = "openblas"))]
    let reference =
        "OpenBLAS: not measured (build with `--features openblas`, see the README)".to_string();
    let mut md = format!(
        "# SGEMM benchmark summary\n\nWritten by `cargo bench --bench gemm` (Criterion medians, one run).\n\nMachine: {}\n\nMeasured one-core FMA peak of the vectors our kernel uses ({}): {}\n\n{reference}\n\n{setup}\n\n| shape | ours 1t GFLOP/s | % of peak | matrixmultiply 1t | ours / mm | OpenBLAS 1t | ours / OpenBLAS | OpenBLAS % of peak | ours {threads}t GFLOP/s | {threads}t / 1t | profile / defaults |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
        support::machine(),
        gemm.isa().name(),
        peak.map_or("n/a".into(), |p| format!("{p:.1} GFLOP/s"))
    );
    let mut figures = Vec::new();
    for &(label, m, k, n, _) in SHAPES {
        let flop = 2.0 * (m * n * k) as f64;
        // The record's names follow `vanishing bench`'s: sgemm-256 for squares, A^T as -at.
        let fig_name = if m == k && k == n {
            format!("sgemm-{m}")
        } else {
            format!("sgemm-{}", label.to_lowercase().replace("(at)", "-at"))
        };
        let mut peers = vec![("matrixmultiply", format!("gemm/matrixmultiply.1t/{label}"))];
        if cfg!(feature = "openblas") {
            peers.push(("OpenBLAS", format!("gemm/openblas.1t/{label}")));
        }
        figures.extend(support::rate_figure(
            &fig_name,
            &format!("gemm/{name}.1t/{label}"),
            (flop, 1e9, "GFLOP/s"),
            &peers,
            peak,
        ));
        let gf = |id: String| {
            support::median_seconds(&format!("gemm/{id}/{label}")).map(|s| flop / s / 1e9)
        };
        let def = if profiled {
            gf("defaults.1t".into())
        } else {
            None
        };
        let (o, mm, ob, ot) = (
            gf(format!("{name}.1t")),
            gf("matrixmultiply.1t".into()),
            if cfg!(feature = "openblas") {
                gf("openblas.1t".into())
            } else {
                None
            },
            gf(format!("{name}.{threads}t")),
        );
        let f = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => format!("{:.2}", a / b),
            _ => "-".into(),
        };
        let pct = |a: Option<f64>| match (a, peak) {
            (Some(a), Some(p)) => format!("{:.0}", 100.0 * a / p),
            _ => "-".into(),
        };
        md += &format!(
            "| {label} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            f(o),
            pct(o),
            f(mm),
            ratio(o, mm),
            f(ob),
            ratio(o, ob),
            pct(ob),
            f(ot),
            ratio(ot, o),
            ratio(o, def)
        );
    }
    support::write_result("bench-gemm.md", &md);
    support::write_record(
        "cargo bench --bench gemm",
        figures,
        &format!("one thread; {reference}"),
    );
}

criterion_group!(benches, bench_gemm);

fn main() {
    support::check_result("bench-gemm.md");
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
    summary();
}
