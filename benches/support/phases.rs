//! Where one SGD step at batch 10 spends its time: each phase of `Engine::sgd_step` (and the
//! gather before it) run on its own, many times over, on a workspace that holds a real batch, so
//! that the sum of the phases can be set beside the whole step. The phases call the same kernels
//! the step calls, through the engine's public parts.

use std::time::Instant;
use vanishing::data::mnist::Dataset;
use vanishing::gemm::{MatMut, MatRef};
use vanishing::nn::batched::{Engine, SgdParams, Workspace};
use vanishing::nn::small_batch::SmallBatchStep;
use vanishing::nn::train::PREFETCH_AHEAD;
use vanishing::nn::{Cost, Network};

/// One measured phase: its name, seconds per step and floating-point operations per step (0 for
/// phases that are not arithmetic).
pub struct Phase {
    pub name: String,
    pub seconds: f64,
    pub flop: f64,
    /// Whether the phase is a part of the step (counted in the sum of the phases), or a
    /// figure set beside them for context (the same work in other cache states).
    pub part: bool,
}

const BATCH: usize = 10;
/// The book's SGD settings for both steps' phases (cross-entropy, eta 0.1, lambda 5, n 50,000).
const PARAMS: SgdParams = SgdParams {
    cost: Cost::CrossEntropy,
    eta: 0.1,
    lambda: 5.0,
    train_size: 50_000,
};
/// Repetitions per timing, and timings per phase (the fastest is kept: the least disturbed).
const REPS: usize = 2000;
const TRIES: usize = 5;

fn best_seconds(mut f: impl FnMut(usize)) -> f64 {
    (0..TRIES)
        .map(|_| {
            let t = Instant::now();
            for r in 0..REPS {
                f(r);
            }
            t.elapsed().as_secs_f64() / REPS as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// Batch `r`'s example indices: a fixed pseudo-random walk over the training set, like a
/// shuffled epoch (the gather reads rows scattered over 39 MB of pixels).
fn batch_rows(r: usize, n: usize) -> impl Iterator<Item = usize> {
    (0..BATCH).map(move |i| (r * BATCH + i).wrapping_mul(2_654_435_761) % n)
}

/// A closure that appends a measured phase (name, flop, seconds) to `out`.
fn recorder(out: &mut Vec<Phase>) -> impl FnMut(String, f64, f64) + '_ {
    |name, flop, seconds| {
        out.push(Phase {
            name,
            seconds,
            flop,
            part: true,
        })
    }
}

/// The labels of batch `r` (see [`batch_rows`]).
fn batch_labels(train: &Dataset, r: usize) -> Vec<u8> {
    batch_rows(r, train.len())
        .map(|i| train.labels[i])
        .collect()
}

/// The phases of a batch-10 step of `net` (one thread), and the whole step for comparison
/// (returned last, named "whole step").
pub fn batch10_step(e: &Engine, net: &Network, train: &Dataset) -> Vec<Phase> {
    let (eta, lambda, n_train) = (PARAMS.eta, PARAMS.lambda, PARAMS.train_size);
    let layers = net.layers();
    let sizes = net.sizes.clone();
    let width = sizes[0];
    let mut net = net.clone();
    let mut ws = Workspace::new(&net, BATCH);
    let labels = |r: usize| batch_labels(train, r);
    let mut out = Vec::new();
    let mut phase = recorder(&mut out);

    // Labels gathered beforehand, as the trainer does, so no allocation is timed.
    let all_labels: Vec<Vec<u8>> = (0..REPS).map(labels).collect();
    // The whole step first, training a fresh copy of the network as `train` would (the phases
    // below repeat updates with one batch's errors, which drives weights far from anything
    // training produces; they work on copies for that reason).
    let mut fresh = net.clone();
    let s = best_seconds(|r| {
        e.gather_pixels(&mut ws, &train.pixels, width, batch_rows(r, train.len()));
        e.sgd_step(&mut fresh, &mut ws, BATCH, &all_labels[r], &PARAMS);
    });
    let whole_step = s;

    // A real batch in every buffer before any phase is timed alone.
    let y0 = labels(0);
    e.gather_pixels(&mut ws, &train.pixels, width, batch_rows(0, train.len()));
    e.sgd_step(&mut net, &mut ws, BATCH, &y0, &PARAMS);
    e.forward(&net, &mut ws, BATCH);
    e.output_delta(&net, &mut ws, BATCH, &y0, Cost::CrossEntropy);
    for l in (1..layers).rev() {
        e.propagate_delta(&net, &mut ws, BATCH, l);
    }

    let s = best_seconds(|r| {
        e.gather_pixels(&mut ws, &train.pixels, width, batch_rows(r, train.len()));
    });
    phase("gather 10 rows from byte pixels".into(), 0.0, s);

    for l in 0..layers {
        let (n_in, n_out) = (sizes[l], sizes[l + 1]);
        let s = best_seconds(|_| {
            let (prev, rest) = ws.a.split_at_mut(l);
            let input: &[f32] = if l == 0 { &ws.x } else { &prev[l - 1] };
            e.gemm
                .gemm(
                    1.0,
                    MatRef::row_major(&input[..BATCH * n_in], BATCH, n_in).unwrap(),
                    MatRef::row_major(&net.weights_t[l], n_in, n_out).unwrap(),
                    0.0,
                    MatMut::row_major(&mut rest[0][..BATCH * n_out], BATCH, n_out).unwrap(),
                )
                .unwrap();
        });
        let flop = 2.0 * (BATCH * n_in * n_out) as f64;
        phase(format!("forward GEMM {BATCH}x{n_in}x{n_out}"), flop, s);
        let act = net.activation(l);
        let s = best_seconds(|_| {
            e.act
                .bias_activation(
                    act,
                    &mut ws.a[l][..BATCH * n_out],
                    &net.biases[l],
                    &mut ws.d[l][..BATCH * n_out],
                )
                .unwrap();
        });
        phase(
            format!("bias + {} and derivative, {BATCH}x{n_out}", act.name()),
            0.0,
            s,
        );
    }
    // The forward pass again, so the deltas below start from real activations.
    e.forward(&net, &mut ws, BATCH);

    let s = best_seconds(|_| e.output_delta(&net, &mut ws, BATCH, &y0, Cost::CrossEntropy));
    phase("output error".into(), 0.0, s);
    for l in (1..layers).rev() {
        let (n_in, n_out) = (sizes[l], sizes[l + 1]);
        let s = best_seconds(|_| e.propagate_delta(&net, &mut ws, BATCH, l));
        let flop = 2.0 * (BATCH * n_in * n_out) as f64;
        phase(
            format!("error back to layer {l}: GEMM {BATCH}x{n_out}x{n_in} + act'"),
            flop,
            s,
        );
    }
    let decay = 1.0 - eta * lambda / n_train as f32;
    let step = eta / BATCH as f32;
    for l in 0..layers {
        let (n_in, n_out) = (sizes[l], sizes[l + 1]);
        let mut wt = net.weights_t[l].clone();
        let s = best_seconds(|_| {
            let input: &[f32] = if l == 0 { &ws.x } else { &ws.a[l - 1] };
            e.gemm
                .gemm(
                    -step,
                    MatRef::row_major(&input[..BATCH * n_in], BATCH, n_in)
                        .unwrap()
                        .t(),
                    MatRef::row_major(&ws.delta[l][..BATCH * n_out], BATCH, n_out).unwrap(),
                    decay,
                    MatMut::row_major(&mut wt, n_in, n_out).unwrap(),
                )
                .unwrap();
        });
        let flop = 2.0 * (BATCH * n_in * n_out) as f64;
        phase(
            format!("weight update GEMM {n_in}x{BATCH}x{n_out} (A^T, beta = decay)"),
            flop,
            s,
        );
        let mut sums = vec![0.0f32; n_out];
        let mut bias = net.biases[l].clone();
        let s = best_seconds(|_| {
            e.bias_gradient(&net, &ws, BATCH, l, 1.0, &mut sums);
            for (b, &g) in bias.iter_mut().zip(&sums) {
                *b -= step * g;
            }
        });
        phase(format!("bias update, {n_out} sums of {BATCH}"), 0.0, s);
    }

    phase("whole step (gather + sgd_step)".into(), 0.0, whole_step);
    drop(phase);
    out
}

/// The phases of the trainer's batch-10 step ([`SmallBatchStep`], the padded layout and the
/// rank-k updates) of `net` on one thread, and the whole step (gather + step, returned last,
/// named "whole step"). Each phase runs alone on a copy that holds a real batch.
pub fn small_batch_step(e: &Engine, net: &Network, train: &Dataset) -> Vec<Phase> {
    let p = PARAMS;
    let sizes = net.sizes.clone();
    let layers = net.layers();
    let labels: Vec<Vec<u8>> = (0..REPS).map(|r| batch_labels(train, r)).collect();
    let mut out = Vec::new();
    let mut beside = Vec::new();
    let mut phase = recorder(&mut out);
    let mut context = |name, seconds| {
        beside.push(Phase {
            name,
            seconds,
            flop: 0.0,
            part: false,
        })
    };
    // The whole step first, with later batches prefetched as `train` does.
    let mut fresh = SmallBatchStep::new(net, e, BATCH);
    let whole_step = best_seconds(|r| {
        let m = fresh.gather_pixels(&train.pixels, batch_rows(r, train.len()));
        let ahead = batch_rows(r + PREFETCH_AHEAD, train.len());
        fresh.prefetch_during_next_step(&train.pixels, 784, ahead);
        fresh.step(m, &labels[r], &p);
    });

    // The gather as the step loop meets it (this batch's lines asked for two steps before),
    // timed on its own inside that loop, less what reading the clock twice costs.
    let mut inside = SmallBatchStep::new(net, e, BATCH);
    let clock = best_seconds(|_| {
        std::hint::black_box(Instant::now().elapsed());
    });
    let t = (0..TRIES)
        .map(|_| {
            let mut gather = 0.0;
            for (r, labels) in labels.iter().enumerate() {
                let t = Instant::now();
                let m = inside.gather_pixels(&train.pixels, batch_rows(r, train.len()));
                gather += t.elapsed().as_secs_f64();
                let ahead = batch_rows(r + PREFETCH_AHEAD, train.len());
                inside.prefetch_during_next_step(&train.pixels, 784, ahead);
                inside.step(m, labels, &p);
            }
            gather / REPS as f64 - clock
        })
        .fold(f64::INFINITY, f64::min);
    phase(
        "gather 10 rows inside the step loop (prefetched)".into(),
        0.0,
        t,
    );

    let mut s = SmallBatchStep::new(net, e, BATCH);
    let m = s.gather_pixels(&train.pixels, batch_rows(0, train.len()));
    s.step(m, &labels[0], &p);
    let t = best_seconds(|r| {
        s.gather_pixels(&train.pixels, batch_rows(r, train.len()));
    });
    context("gather 10 rows, no prefetch".into(), t);
    // The same batch over and over: its lines stay in L1/L2, so this is the conversion and
    // the blank-pixel map alone, the floor under the cold figure above.
    let t = best_seconds(|_| {
        s.gather_pixels(&train.pixels, batch_rows(0, train.len()));
    });
    context("gather 10 rows, lines already in cache".into(), t);
    // The step on one gathered batch (its labels), so that the whole step minus this is what
    // the gather costs inside the step, with the next batch prefetched as `train` does.
    let mut again = SmallBatchStep::new(net, e, BATCH);
    let m0 = again.gather_pixels(&train.pixels, batch_rows(0, train.len()));
    let t = best_seconds(|_| again.step(m0, &labels[0], &p));
    context("step without the gather (one batch, in cache)".into(), t);
    s.gather_pixels(&train.pixels, batch_rows(0, train.len()));
    for l in 0..layers {
        let (n_in, n_out) = (sizes[l], sizes[l + 1]);
        let t = best_seconds(|_| s.forward_layer(BATCH, l));
        phase(
            format!(
                "forward GEMM {BATCH}x{n_in}x{n_out} + bias, {} and derivative",
                net.activation(l).name()
            ),
            2.0 * (BATCH * n_in * n_out) as f64,
            t,
        );
    }
    // The biases step where their errors are made (one pass: error, sums, bias step).
    let bias_step = Some(p.eta / BATCH as f32);
    let t = best_seconds(|_| s.output_delta(BATCH, &labels[0], Cost::CrossEntropy, bias_step));
    let top = sizes[layers];
    phase(format!("output error + {top} bias sums and steps"), 0.0, t);
    for l in (1..layers).rev() {
        let (n_in, n_out) = (sizes[l], sizes[l + 1]);
        let t = best_seconds(|_| s.propagate(BATCH, l, bias_step));
        phase(
            format!(
                "error back to layer {l}: GEMM {BATCH}x{n_out}x{n_in} + act', {n_in} bias sums and steps"
            ),
            2.0 * (BATCH * n_in * n_out) as f64,
            t,
        );
    }
    let decay = 1.0 - p.eta * p.lambda / p.train_size as f32;
    let alpha = -p.eta / BATCH as f32;
    for l in 0..layers {
        let (n_in, n_out) = (sizes[l], sizes[l + 1]);
        let t = best_seconds(|_| s.update_weights(BATCH, l, alpha, decay));
        phase(
            format!("weight update {n_in}x{BATCH}x{n_out} (rank-k, beta = decay)"),
            2.0 * (BATCH * n_in * n_out) as f64,
            t,
        );
    }
    drop(phase);
    out.append(&mut beside);
    out.push(Phase {
        name: "whole step (gather + step, next batch prefetched)".into(),
        seconds: whole_step,
        flop: 0.0,
        part: true,
    });
    out
}
