//! Sigmoid throughput: ours against the scalar loop `1/(1+(-x).exp())`, with a plain copy of the
//! same size as the memory-bandwidth ceiling. Throughput in elements and bytes (read + write).
//! After a full run, a summary goes to `results/machines/<cpu>/bench-sigmoid.md`.

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

/// The fused layer epilogue as a slice pass after the GEMM, against the GEMM alone: the
/// difference is the most an epilogue inside the GEMM's C tiles could save.
fn bench_epilogue(c: &mut Criterion) {
    use vanishing::activation::Activation;
    use vanishing::gemm::{Gemm, MatMut, MatRef};
    let mut group = c.benchmark_group("epilogue");
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1000))
        .sample_size(20);
    let g = Gemm::new().threads(1);
    let k = ActivationKernels::new();
    for (m, kk, n) in EPILOGUE_SHAPES {
        let a = inputs(m * kk);
        let w: Vec<f32> = inputs(kk * n).iter().map(|v| v * 0.01).collect();
        let bias = inputs(n);
        let mut z = vec![0.0f32; m * n];
        let mut d = vec![0.0f32; m * n];
        let label = format!("{m}x{kk}x{n}");
        let gemm = |z: &mut [f32]| {
            g.gemm(
                1.0,
                MatRef::row_major(&a, m, kk).unwrap(),
                MatRef::row_major(&w, kk, n).unwrap(),
                0.0,
                MatMut::row_major(z, m, n).unwrap(),
            )
            .unwrap()
        };
        group.bench_function(BenchmarkId::new("gemm-only", &label), |b| {
            b.iter(|| gemm(&mut z))
        });
        group.bench_function(BenchmarkId::new("gemm+bias-sigmoid-pass", &label), |b| {
            b.iter(|| {
                gemm(&mut z);
                k.bias_activation(Activation::Sigmoid, &mut z, &bias, &mut d)
                    .unwrap();
            })
        });
    }
    group.finish();
}

/// Layer shapes of the trainer: batch x inputs x outputs.
const EPILOGUE_SHAPES: [(usize, usize, usize); 3] =
    [(10, 784, 30), (10, 784, 100), (1000, 784, 30)];

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
    md += "\n## Fused epilogue: slice pass after the GEMM vs the GEMM alone (one thread)\n\nThe difference is the most that moving the bias + sigmoid + derivative pass into the GEMM's C tiles could save.\n\n| layer (batch x in x out) | GEMM alone (us) | GEMM + slice pass (us) | pass share |\n|---|---|---|---|\n";
    for (m, kk, n) in EPILOGUE_SHAPES {
        let label = format!("{m}x{kk}x{n}");
        let us =
            |id: &str| support::median_seconds(&format!("epilogue/{id}/{label}")).map(|s| s * 1e6);
        let (g, f) = (us("gemm-only"), us("gemm+bias-sigmoid-pass"));
        let share = match (g, f) {
            (Some(g), Some(f)) => format!("{:.1} %", 100.0 * (f - g) / f),
            _ => "-".into(),
        };
        md += &format!(
            "| {label} | {} | {} | {share} |\n",
            g.map_or("-".into(), |v| format!("{v:.2}")),
            f.map_or("-".into(), |v| format!("{v:.2}"))
        );
    }
    support::write_result("bench-sigmoid.md", &md);
    // The record: every family at every size, the default family's figure named as
    // `vanishing bench` names it (`sigmoid-4096`), the others `sigmoid-<n>.<family>`.
    let default = ActivationKernels::new().sigmoid_name();
    let mut figures = Vec::new();
    for n in SIZES {
        for isa in Isa::available() {
            let name = ActivationKernels::for_isa(isa).sigmoid_name();
            let figure_name = if name == default {
                format!("sigmoid-{n}")
            } else {
                format!("sigmoid-{n}.{}", isa.name())
            };
            figures.extend(support::rate_figure(
                &figure_name,
                &format!("sigmoid/{name}/{n}"),
                (n as f64, 1e9, "Gelem/s"),
                &[
                    ("scalar exp", format!("sigmoid/scalar-loop-libm/{n}")),
                    ("copy", format!("sigmoid/copy/{n}")),
                ],
                None,
            ));
        }
    }
    support::write_record(
        "cargo bench --bench sigmoid",
        figures,
        "inputs uniform in [-10, 10], out of place; peers: the scalar 1/(1+exp(-x)) loop and a plain copy",
    );
}

criterion_group!(benches, bench_sigmoid, bench_epilogue);

fn main() {
    support::check_result("bench-sigmoid.md");
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
    summary();
}
