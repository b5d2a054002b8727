//! Trainer throughput: SGD steps at the book's batch 10, and chapter 5's full-batch loop
//! (1,000 images, [784,30,30,30,30,10]): the averaged bias-gradient pass and one full step, on
//! one thread and on all threads. After a full run, a summary goes to `results/machines/<cpu>/bench-train.md`.

mod support;

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use std::time::Duration;
use vanishing::activation::ActivationKernels;
use vanishing::data::mnist;
use vanishing::gemm::Gemm;
use vanishing::nn::batched::{Engine, SgdParams, Workspace};
use vanishing::nn::small_batch::SmallBatchStep;
use vanishing::nn::train::PREFETCH_AHEAD;
use vanishing::nn::{Activation, Cost, Init, Network};

/// SGD steps per measured slice of an epoch at batch 10 (an epoch is 5,000 steps).
const SLICE_STEPS: usize = 500;
const DEEP: [usize; 6] = [784, 30, 30, 30, 30, 10];

/// The kernels every figure here runs on, with every sum computed (no zero rows skipped in the
/// first layer's update): the figures give shares of the FMA peak, which count work done.
fn engine(threads: usize) -> Engine {
    Engine {
        gemm: Gemm::new().threads(threads).skip_zero_rows(false),
        act: ActivationKernels::new(),
    }
}

fn bench_train(c: &mut Criterion) {
    let data = mnist::load(&mnist::resolve_dir(None)).expect("MNIST loads");
    let train = &data.train;
    let all = rayon::current_num_threads();
    let mut group = c.benchmark_group("train");
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10);

    let params = SgdParams {
        cost: Cost::CrossEntropy,
        eta: 0.1,
        lambda: 5.0,
        train_size: 50_000,
    };
    for (label, sizes) in [
        ("784-30-10", vec![784, 30, 10]),
        ("784-100-10", vec![784, 100, 10]),
    ] {
        let e = engine(1);
        let mut net = Network::new(&sizes, Activation::Sigmoid, Init::Default, 1).unwrap();
        group.throughput(Throughput::Elements((SLICE_STEPS * 10) as u64));
        // The trainer's step (what `train` runs at batch 10), later batches prefetched as there.
        let mut small = SmallBatchStep::new(&net, &e, 10);
        group.bench_function(BenchmarkId::new("sgd-b10-small-slice.1t", label), |b| {
            b.iter(|| {
                for s in 0..SLICE_STEPS {
                    let i0 = s * 10;
                    let m = small.gather_pixels(&train.pixels, i0..i0 + 10);
                    let ahead = i0 + 10 * PREFETCH_AHEAD;
                    small.prefetch_during_next_step(&train.pixels, 784, ahead..ahead + 10);
                    small.step(m, &train.labels[i0..i0 + 10], &params);
                }
            })
        });
        // The general step, which batches over 16 use.
        let mut ws = Workspace::new(&net, 10);
        group.bench_function(BenchmarkId::new("sgd-b10-slice.1t", label), |b| {
            b.iter(|| {
                for s in 0..SLICE_STEPS {
                    let i0 = s * 10;
                    let m = e.gather_pixels(&mut ws, &train.pixels, 784, i0..i0 + 10);
                    e.sgd_step(&mut net, &mut ws, m, &train.labels[i0..i0 + 10], &params);
                }
            })
        });
    }

    let batch = train.head(1000);
    let mut threads = vec![1];
    if all > 1 {
        threads.push(all);
    }
    for t in threads {
        let e = engine(t);
        let mut net = Network::new(&DEEP, Activation::Sigmoid, Init::Default, 1).unwrap();
        let mut ws = Workspace::new(&net, 1000);
        batch.images_into(0..batch.len(), &mut ws.x);
        let mut grads: Vec<Vec<f32>> = DEEP[1..].iter().map(|&n| vec![0.0; n]).collect();
        group.throughput(Throughput::Elements(1000));
        group.bench_function(
            BenchmarkId::new(format!("fullbatch-bias-grad.{t}t"), "784-30x4-10"),
            |b| {
                b.iter(|| {
                    e.mean_bias_gradients(
                        &net,
                        &mut ws,
                        1000,
                        &batch.labels,
                        Cost::CrossEntropy,
                        &mut grads,
                    )
                })
            },
        );
        group.bench_function(
            BenchmarkId::new(format!("fullbatch-step.{t}t"), "784-30x4-10"),
            |b| {
                b.iter(|| {
                    e.sgd_step(
                        &mut net,
                        &mut ws,
                        1000,
                        &batch.labels,
                        &SgdParams {
                            cost: Cost::CrossEntropy,
                            eta: 0.1,
                            lambda: 5.0,
                            train_size: 1000,
                        },
                    )
                })
            },
        );
    }
    group.finish();
}

fn summary() {
    if !support::full_run() {
        return;
    }
    let all = rayon::current_num_threads();
    let secs = |id: &str| support::median_seconds(&format!("train/{id}"));
    let f = |v: Option<f64>, scale: f64, digits: usize| {
        v.map_or("-".into(), |v| format!("{:.*}", digits, v * scale))
    };
    let mut md = format!(
        "# Trainer benchmark summary\n\nWritten by `cargo bench --bench train` (Criterion medians, one run).\n\nMachine: {}\n\n## SGD at batch 10, one thread\n\n| network | step | seconds per epoch (5,000 steps, extrapolated from {SLICE_STEPS}) | us per step |\n|---|---|---|---|\n",
        support::machine()
    );
    for label in ["784-30-10", "784-100-10"] {
        for (step, id) in [
            ("small-batch (the trainer's)", "sgd-b10-small-slice.1t"),
            ("general", "sgd-b10-slice.1t"),
        ] {
            let s = secs(&format!("{id}/{label}"));
            md += &format!(
                "| [{}] | {step} | {} | {} |\n",
                label.replace('-', ","),
                f(s, 5000.0 / SLICE_STEPS as f64, 3),
                f(s, 1e6 / SLICE_STEPS as f64, 1)
            );
        }
    }
    md += "\n## Chapter 5's full-batch loop: 1,000 images, [784,30,30,30,30,10]\n\n| measurement | 1 thread (ms) | ";
    // Pinned to one core (`taskset -c 0`) the second column is one thread too.
    let threads = if all == 1 {
        "1 thread, again".to_string()
    } else {
        format!("{all} threads")
    };
    md += &format!("{threads} (ms) | speed-up |\n|---|---|---|---|\n");
    for (name, id) in [
        (
            "averaged bias gradient (forward + deltas)",
            "fullbatch-bias-grad",
        ),
        (
            "one full-batch step (all gradients + update)",
            "fullbatch-step",
        ),
    ] {
        let one = secs(&format!("{id}.1t/784-30x4-10"));
        let many = secs(&format!("{id}.{all}t/784-30x4-10"));
        let speed = match (one, many) {
            (Some(a), Some(b)) if all > 1 => format!("{:.2}", a / b),
            _ => "-".into(),
        };
        md += &format!(
            "| {name} | {} | {} | {speed} |\n",
            f(one, 1e3, 3),
            f(many, 1e3, 3)
        );
    }
    md += &phase_tables();
    support::write_result("bench-train.md", &md);
    let peak = vanishing::cpu::measure_fma_peak_gflops_for(vanishing::isa::Isa::selected());
    let mut figures = Vec::new();
    for (label, layers) in [
        ("784-30-10", [784usize, 30, 10]),
        ("784-100-10", [784, 100, 10]),
    ] {
        let flops = vanishing::bench::epoch_flops(&layers, 50_000, 10);
        let per_epoch = 5000.0 / SLICE_STEPS as f64;
        figures.extend(support::time_figure(
            &format!("epoch-{label}"),
            &format!("train/sgd-b10-small-slice.1t/{label}"),
            per_epoch,
            "s",
            |s| peak.map(|p| flops / (s * per_epoch) / 1e9 / p),
        ));
    }
    let step_flops = vanishing::bench::epoch_flops(&[784, 30, 30, 30, 30, 10], 1000, 1000);
    figures.extend(support::time_figure(
        "full-batch-step",
        "train/fullbatch-step.1t/784-30x4-10",
        1e3,
        "ms",
        |s| peak.map(|p| step_flops / s / 1e9 / p),
    ));
    support::write_record(
        "cargo bench --bench train",
        figures,
        &format!("one thread; epochs extrapolated from {SLICE_STEPS}-step slices of the small-batch step"),
    );
}

/// One step's phase measurement (see `support::phases`).
type PhaseFn = fn(&Engine, &Network, &mnist::Dataset) -> Vec<support::phases::Phase>;

/// "Where a batch-10 step's time goes", for both of the book's batch-10 networks, on the
/// trainer's small-batch step and on the general step.
fn phase_tables() -> String {
    let data = mnist::load(&mnist::resolve_dir(None)).expect("MNIST loads");
    let e = engine(1);
    let peak = vanishing::cpu::measure_fma_peak_gflops_for(e.gemm.isa());
    let mut md = format!(
        "\n## Where a batch-10 step's time goes (one thread)\n\nEach phase of the step run alone, {} times, best of 5 (`benches/support/phases.rs`); GFLOP/s against the measured one-core peak of the kernels in use ({}). The phases' sum beside the whole step shows what is not in any phase (calls, hand-offs, cache effects between phases).\n",
        2000,
        peak.map_or("n/a".into(), |p| format!("{p:.0} GFLOP/s"))
    );
    let steps: [(&str, PhaseFn); 2] = [
        (
            "the trainer's small-batch step (`SmallBatchStep`: padded rows, rank-k updates)",
            support::phases::small_batch_step,
        ),
        (
            "the general step (`Engine::sgd_step`, used for batches over 16)",
            support::phases::batch10_step,
        ),
    ];
    for ((title, run), sizes) in steps
        .iter()
        .flat_map(|s| [(s, vec![784, 30, 10]), (s, vec![784, 100, 10])])
    {
        let net = Network::new(&sizes, Activation::Sigmoid, Init::Default, 1).unwrap();
        let phases = run(&e, &net, &data.train);
        let (whole, parts) = phases.split_last().expect("phases");
        let (parts, beside): (Vec<_>, Vec<_>) = parts.iter().partition(|p| p.part);
        let sum: f64 = parts.iter().map(|p| p.seconds).sum();
        let flop: f64 = parts.iter().map(|p| p.flop).sum();
        md += &format!(
            "\n### [{}], {title}\n\n| phase | us per step | share of the whole step | GFLOP/s | % of peak |\n|---|---|---|---|---|\n",
            sizes.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(",")
        );
        let row = |name: &str, secs: f64, flop: f64| {
            let gf = flop / secs / 1e9;
            let (g, pct) = if flop > 0.0 {
                (
                    format!("{gf:.1}"),
                    peak.map_or("-".into(), |p| format!("{:.0}", 100.0 * gf / p)),
                )
            } else {
                ("-".into(), "-".into())
            };
            format!(
                "| {name} | {:.2} | {:.0} % | {g} | {pct} |\n",
                secs * 1e6,
                100.0 * secs / whole.seconds
            )
        };
        for p in parts {
            md += &row(&p.name, p.seconds, p.flop);
        }
        md += &row("**sum of the phases**", sum, flop);
        md += &row("**whole step**", whole.seconds, flop);
        for p in beside {
            md += &row(
                &format!("*beside, not in the sum:* {}", p.name),
                p.seconds,
                p.flop,
            );
        }
        md += &format!(
            "\nPer epoch (5,000 steps): {:.3} s; {:.2} GFLOP of arithmetic per epoch.\n",
            whole.seconds * 5000.0,
            flop * 5000.0 / 1e9
        );
    }
    md
}

criterion_group!(benches, bench_train);

fn main() {
    support::check_result("bench-train.md");
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
    summary();
}
