//! SGEMM throughput: ours against matrixmultiply on squares and on the trainer's shapes, single
//! thread and all threads. `Throughput::Elements(2*m*n*k)`, so Criterion's elem/s reads as
//! flop/s. After a full run, a summary table goes to `results/bench-gemm.md`.

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

fn bench_gemm(c: &mut Criterion) {
    let threads = rayon::current_num_threads();
    let one = Gemm::new().threads(1);
    let all = Gemm::new().threads(threads);
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
        if threads > 1 {
            group.bench_function(
                BenchmarkId::new(format!("{}.{threads}t", all.kernel_name()), label),
                |bch| bch.iter(|| case.ours(black_box(&all))),
            );
        }
    }
    group.finish();
}

fn summary() {
    if !support::full_run() {
        return;
    }
    let threads = rayon::current_num_threads();
    let name = Gemm::new().kernel_name();
    let peak = vanishing::cpu::measure_fma_peak_gflops();
    let mut md = format!(
        "# SGEMM benchmark summary\n\nWritten by `cargo bench --bench gemm` (Criterion medians, one run).\n\nMachine: {}\n\nMeasured one-core FMA peak: {}\n\n| shape | ours 1t GFLOP/s | matrixmultiply 1t GFLOP/s | ratio | % of peak | ours {threads}t GFLOP/s | {threads}t / 1t |\n|---|---|---|---|---|---|---|\n",
        support::machine(),
        peak.map_or("n/a".into(), |p| format!("{p:.1} GFLOP/s"))
    );
    for &(label, m, k, n, _) in SHAPES {
        let flop = 2.0 * (m * n * k) as f64;
        let gf = |id: String| {
            support::median_seconds(&format!("gemm/{id}/{label}")).map(|s| flop / s / 1e9)
        };
        let (o, mm, ot) = (
            gf(format!("{name}.1t")),
            gf("matrixmultiply.1t".into()),
            gf(format!("{name}.{threads}t")),
        );
        let f = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
        let ratio = match (o, mm) {
            (Some(a), Some(b)) => format!("{:.2}", a / b),
            _ => "-".into(),
        };
        let pct = match (o, peak) {
            (Some(a), Some(p)) => format!("{:.0}", 100.0 * a / p),
            _ => "-".into(),
        };
        let scale = match (o, ot) {
            (Some(a), Some(b)) => format!("{:.2}", b / a),
            _ => "-".into(),
        };
        md += &format!(
            "| {label} | {} | {} | {ratio} | {pct} | {} | {scale} |\n",
            f(o),
            f(mm),
            f(ot)
        );
    }
    support::write_result("bench-gemm.md", &md);
}

criterion_group!(benches, bench_gemm);

fn main() {
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
    summary();
}
