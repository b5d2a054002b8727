//! Sigmoid throughput: ours against the scalar loop `1/(1+(-x).exp())`, with a plain copy of the
//! same size as the memory-bandwidth ceiling. Throughput in elements and bytes (read + write).
//! After a full run, a summary goes to `results/bench-sigmoid.md`.

mod support;

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use rand::{RngExt, SeedableRng};
use std::hint::black_box;
use std::time::Duration;
use vanishing::activation::{ActivationKernels, ElementFn};
use vanishing::isa::Isa;

const SIZES: [usize; 4] = [1_000, 4096, 100_000, 10_000_000];

fn inputs(n: usize) -> Vec<f32> {
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(n as u64);
    (0..n).map(|_| r.random_range(-10.0f32..10.0)).collect()
}

fn bench_sigmoid(c: &mut Criterion) {
    let mut group = c.benchmark_group("sigmoid");
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1000))
        .sample_size(20);
    let kernels: Vec<ActivationKernels> = Isa::available()
        .into_iter()
        .map(ActivationKernels::for_isa)
        .collect();
    for n in SIZES {
        let x = inputs(n);
        let mut y = vec![0.0f32; n];
        group.throughput(Throughput::Elements(n as u64));
        for k in &kernels {
            group.bench_function(BenchmarkId::new(k.sigmoid_name(), n), |b| {
                b.iter(|| k.apply(ElementFn::Sigmoid, black_box(&x), &mut y))
            });
        }
        group.bench_function(BenchmarkId::new("scalar-loop-libm", n), |b| {
            b.iter(|| {
                for (o, &v) in y.iter_mut().zip(black_box(&x)) {
                    *o = 1.0 / (1.0 + (-v).exp());
                }
            })
        });
        group.bench_function(BenchmarkId::new("copy", n), |b| {
            b.iter(|| y.copy_from_slice(black_box(&x)))
        });
    }
    group.finish();
}

fn summary() {
    if !support::full_run() {
        return;
    }
    let mut md = format!(
        "# Sigmoid benchmark summary\n\nWritten by `cargo bench --bench sigmoid` (Criterion medians, one run; inputs uniform in [-10, 10], out of place).\n\nMachine: {}\n\n| n | kernel | Gelem/s | scalar loop Gelem/s | speed-up | copy Gelem/s | kernel / copy | GB/s (read + write) |\n|---|---|---|---|---|---|---|---|\n",
        support::machine()
    );
    for n in SIZES {
        let rate = |id: &str| {
            support::median_seconds(&format!("sigmoid/{id}/{n}")).map(|s| n as f64 / s / 1e9)
        };
        let (s, c) = (rate("scalar-loop-libm"), rate("copy"));
        let f = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}"));
        let r = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => format!("{:.2}", a / b),
            _ => "-".into(),
        };
        for isa in Isa::available() {
            let name = ActivationKernels::for_isa(isa).sigmoid_name();
            let o = rate(name);
            md += &format!(
                "| {n} | {name} | {} | {} | {} | {} | {} | {} |\n",
                f(o),
                f(s),
                r(o, s),
                f(c),
                r(o, c),
                f(o.map(|v| v * 8.0))
            );
        }
    }
    support::write_result("bench-sigmoid.md", &md);
}

criterion_group!(benches, bench_sigmoid);

fn main() {
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
    summary();
}
