//! The training loop: the book's `SGD` with per-epoch evaluation, on the batched engine.

use super::batched::{Engine, SgdParams, Velocity, Workspace};
use super::rng::Shuffler;
use super::small_batch::SmallBatchStep;
use super::{Activation, Cost, Init, Network};
use crate::data::{Dataset, Splits};
use crate::error::{Error, Result};
use std::time::Instant;

/// Everything that defines a training run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    pub layers: Vec<usize>,
    pub epochs: usize,
    pub batch: usize,
    pub eta: f32,
    pub lambda: f32,
    pub init: Init,
    pub cost: Cost,
    pub hidden: Activation,
    pub seed: u64,
    /// Also evaluate the test set after every epoch.
    pub monitor_test: bool,
    /// Also compute the regularised training cost after every epoch.
    pub monitor_cost: bool,
    /// Momentum-based SGD (off by default: the book's chapters 1-5 use plain SGD). Not
    /// written when off, so configurations from before it existed serialise as they did.
    #[serde(default, skip_serializing_if = "Momentum::is_off")]
    pub momentum: Momentum,
}

/// Momentum-based SGD's coefficient and how it changes over a run (the book's chapter 3 form:
/// `v <- mu*v - (eta/m) * gradient`, `w <- decay*w + v`).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Momentum {
    /// The coefficient (`Constant`), or its ceiling (`Sutskever`); 0 is plain SGD.
    pub mu: f32,
    pub schedule: MomentumSchedule,
}

/// How the momentum coefficient changes with the update count `t` (0, 1, 2, ...).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MomentumSchedule {
    /// `mu` at every step.
    #[default]
    Constant,
    /// Sutskever, Martens, Dahl and Hinton (2013), their equation 5: `min(1 - 2^(-1 -
    /// log2(floor(t/250) + 1)), mu)`, which is `min(1 - 1/(2(floor(t/250) + 1)), mu)`: 0.5 for
    /// the first 250 updates, 0.75 for the next 250, then rising towards 1, held at `mu`.
    Sutskever,
}

impl Momentum {
    /// Plain SGD.
    pub const OFF: Momentum = Momentum {
        mu: 0.0,
        schedule: MomentumSchedule::Constant,
    };

    /// Whether this is plain SGD (no velocity is kept).
    pub fn is_off(&self) -> bool {
        self.mu == 0.0
    }

    /// The coefficient for update `t` (computed in f64 and rounded once, so every machine
    /// gets the same value).
    pub fn mu_at(&self, t: u64) -> f32 {
        match self.schedule {
            MomentumSchedule::Constant => self.mu,
            MomentumSchedule::Sutskever => {
                let k = (t / 250 + 1) as f64;
                ((1.0 - 0.5 / k) as f32).min(self.mu)
            }
        }
    }
}

impl TrainConfig {
    /// The book's chapter 3/5 defaults for a given architecture.
    pub fn book(layers: &[usize]) -> TrainConfig {
        TrainConfig {
            layers: layers.to_vec(),
            epochs: crate::book::ACCURACY_EPOCHS,
            batch: crate::book::MINI_BATCH,
            eta: crate::book::ETA,
            lambda: crate::book::LAMBDA,
            init: Init::Default,
            cost: Cost::CrossEntropy,
            hidden: Activation::Sigmoid,
            seed: 1,
            monitor_test: false,
            monitor_cost: false,
            momentum: Momentum::OFF,
        }
    }

    /// Checks the values make sense for `data`: the first layer takes its features, the last
    /// has one output per class.
    pub fn validate_for(&self, data: &Splits) -> Result<()> {
        let bad = |what, problem: String| Err(Error::Invalid { what, problem });
        self.validate()?;
        let (features, classes) = (data.train.features, data.train.classes);
        if self.layers[0] != features {
            return bad(
                "layers",
                format!(
                    "the first layer must be {features} (one input per feature of the data), got {}",
                    self.layers[0]
                ),
            );
        }
        if *self.layers.last().unwrap_or(&0) != classes {
            return bad(
                "layers",
                format!(
                    "the last layer must be {classes} (one output per class), got {}",
                    self.layers.last().unwrap_or(&0)
                ),
            );
        }
        Ok(())
    }

    /// Checks the values make sense on their own (any dataset).
    pub fn validate(&self) -> Result<()> {
        let bad = |what, problem: String| Err(Error::Invalid { what, problem });
        if self.layers.len() < 2 {
            return bad(
                "layers",
                format!(
                    "need at least an input and an output layer, got {:?}",
                    self.layers
                ),
            );
        }
        if self.layers.contains(&0) {
            return bad("layers", "every layer needs at least one neuron".into());
        }
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1".into());
        }
        if self.batch == 0 {
            return bad("batch", "must be at least 1".into());
        }
        if !(self.eta.is_finite() && self.eta > 0.0) {
            return bad(
                "eta",
                format!("must be a positive number, got {}", self.eta),
            );
        }
        if !(self.lambda.is_finite() && self.lambda >= 0.0) {
            return bad(
                "lambda",
                format!("must be a non-negative number, got {}", self.lambda),
            );
        }
        let mu = self.momentum.mu;
        if !(mu.is_finite() && (0.0..1.0).contains(&mu)) {
            return bad(
                "momentum",
                format!("must be at least 0 and below 1, got {mu}"),
            );
        }
        Ok(())
    }
}

/// What one epoch produced.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    /// Fraction of validation images classified correctly, in [0, 1].
    pub validation_accuracy: f64,
    pub test_accuracy: Option<f64>,
    pub training_cost: Option<f64>,
    /// Seconds spent in the SGD steps of this epoch (evaluation excluded).
    pub train_seconds: f64,
}

/// Fraction of `data` the network classifies correctly (argmax, first index on ties).
pub fn accuracy(engine: &Engine, net: &Network, ws: &mut Workspace, data: &Dataset) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let width = net.inputs();
    let cap = ws.capacity();
    let mut correct = 0usize;
    for start in (0..data.len()).step_by(cap) {
        let m = (data.len() - start).min(cap);
        data.images_into(start..start + m, &mut ws.x[..m * width]);
        engine.forward(net, ws, m);
        correct += engine
            .predictions(net, ws, m)
            .iter()
            .zip(&data.labels[start..start + m])
            .filter(|(p, y)| p == y)
            .count();
    }
    correct as f64 / data.len() as f64
}

/// Regularised cost over `data`: mean per-example cost plus `0.5 * lambda/n * sum w^2`.
pub fn total_cost(
    engine: &Engine,
    net: &Network,
    ws: &mut Workspace,
    data: &Dataset,
    cost: Cost,
    lambda: f32,
    n: usize,
) -> f64 {
    let width = net.inputs();
    let k = net.outputs();
    let cap = ws.capacity();
    let mut sum = 0.0f64;
    for start in (0..data.len()).step_by(cap) {
        let m = (data.len() - start).min(cap);
        data.images_into(start..start + m, &mut ws.x[..m * width]);
        engine.forward(net, ws, m);
        let out = &ws.a[net.layers() - 1][..m * k];
        for (row, &y) in out.chunks_exact(k).zip(&data.labels[start..start + m]) {
            for (j, &a) in row.iter().enumerate() {
                let (a, t) = (a as f64, if j == y as usize { 1.0 } else { 0.0 });
                sum += match cost {
                    // The book's nan_to_num: 0 * ln 0 counts as 0.
                    Cost::CrossEntropy => {
                        // libm's ln: the same bits on every machine (see `nn::rng`).
                        let term = |p: f64, q: f64| if p == 0.0 { 0.0 } else { p * libm::log(q) };
                        -(term(t, a) + term(1.0 - t, 1.0 - a))
                    }
                    Cost::Quadratic => 0.5 * (a - t) * (a - t),
                };
            }
        }
    }
    let l2: f64 = net
        .weights_t
        .iter()
        .flatten()
        .map(|&w| (w as f64) * (w as f64))
        .sum();
    sum / data.len().max(1) as f64 + 0.5 * (lambda as f64 / n as f64) * l2
}

/// Batch size used for evaluation passes (big enough for the threaded GEMM path).
pub const EVAL_BATCH: usize = 1000;

/// How many mini-batches ahead the trainer prefetches images: far enough that the lines reach L2
/// before the gather (one step of [784,30,10] at batch 10 is about 9 us, a memory miss well under
/// 1 us, but the prefetches of one batch queue behind each other and behind the step's own
/// misses). Measured on an Intel Xeon (family 6 model 167): 2 and 4 ahead gave the same step
/// time, the time of a gather from cache.
pub const PREFETCH_AHEAD: usize = 2;

/// Prefetches the images `rows` (`width` bytes each) of `pixels` into L2
/// ([`crate::kernels::prefetch_bytes`]): what the trainer does for the batch
/// [`PREFETCH_AHEAD`] steps ahead, public so that the benchmarks do the same.
pub fn prefetch_rows(pixels: &[u8], width: usize, rows: impl IntoIterator<Item = usize>) {
    for i in rows {
        crate::kernels::prefetch_bytes(&pixels[i * width..(i + 1) * width]);
    }
}

/// Trains a network on `data.train` (any dataset: the first layer must match its features,
/// the last its classes) with the book's SGD; `on_epoch` sees each epoch's record,
/// `on_batch` is called after every mini-batch (for progress bars).
pub fn train(
    cfg: &TrainConfig,
    data: &Splits,
    engine: &Engine,
    on_batch: impl FnMut(),
    mut on_epoch: impl FnMut(&EpochRecord),
) -> Result<(Network, Vec<EpochRecord>)> {
    train_observed(cfg, data, engine, on_batch, |r, _| on_epoch(r))
}

/// [`train`], with `on_epoch` also shown the network as it is after each epoch (for
/// measurements taken during training, such as the saturation part's activation statistics).
pub fn train_observed(
    cfg: &TrainConfig,
    data: &Splits,
    engine: &Engine,
    mut on_batch: impl FnMut(),
    mut on_epoch: impl FnMut(&EpochRecord, &Network),
) -> Result<(Network, Vec<EpochRecord>)> {
    cfg.validate_for(data)?;
    let mut net = Network::new(&cfg.layers, cfg.hidden, cfg.init, cfg.seed)?;
    let train = &data.train;
    let n = train.len();
    let width = net.inputs();
    let capacity = cfg.batch.min(n.max(1));
    // Small batches (the book's 10) run on the padded small-batch step; it holds the
    // parameters during the epoch and hands them back before each evaluation.
    let mut small = (capacity <= SmallBatchStep::MAX_BATCH)
        .then(|| SmallBatchStep::new(&net, engine, capacity));
    let mut ws = Workspace::new(&net, if small.is_some() { 1 } else { capacity });
    let mut velocity = (!cfg.momentum.is_off() && small.is_none()).then(|| Velocity::zeros(&net));
    let mut updates = 0u64;
    let mut eval_ws = Workspace::new(&net, EVAL_BATCH);
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut shuffler = Shuffler::new(cfg.seed);
    let mut labels = vec![0u8; cfg.batch];
    let mut records = Vec::with_capacity(cfg.epochs);
    let params = SgdParams {
        cost: cfg.cost,
        eta: cfg.eta,
        lambda: cfg.lambda,
        train_size: n,
    };
    for epoch in 1..=cfg.epochs {
        shuffler.shuffle(&mut order);
        let t = Instant::now();
        let batches: Vec<&[u32]> = order.chunks(cfg.batch).collect();
        for (bi, chunk) in batches.iter().enumerate() {
            let rows = chunk.iter().map(|&i| i as usize);
            let m = match &mut small {
                Some(step) => step.gather_pixels(&train.pixels, rows),
                None => engine.gather_pixels(&mut ws, &train.pixels, width, rows),
            };
            // Later batches' images sit at random places in a 47 MB array: start fetching
            // them now so their gathers do not wait on memory.
            let ahead = batches.get(bi + PREFETCH_AHEAD).copied().unwrap_or(&[]);
            let ahead = ahead.iter().map(|&i| i as usize);
            match &mut small {
                Some(step) => step.prefetch_during_next_step(&train.pixels, width, ahead),
                None => prefetch_rows(&train.pixels, width, ahead),
            }
            for (dst, &i) in labels.iter_mut().zip(chunk.iter()) {
                *dst = train.labels[i as usize];
            }
            let labels = &labels[..m];
            if cfg.momentum.is_off() {
                match &mut small {
                    Some(step) => step.step(m, labels, &params),
                    None => engine.sgd_step(&mut net, &mut ws, m, labels, &params),
                }
            } else {
                let mu = cfg.momentum.mu_at(updates);
                match (&mut small, &mut velocity) {
                    (Some(step), _) => step.step_momentum(m, labels, &params, mu),
                    (None, Some(v)) => {
                        engine.sgd_step_momentum(&mut net, &mut ws, v, m, labels, &params, mu)
                    }
                    (None, None) => unreachable!("a velocity is made for the general step"),
                }
            }
            updates += 1;
            on_batch();
        }
        if let Some(step) = &small {
            step.store(&mut net);
        }
        let train_seconds = t.elapsed().as_secs_f64();
        let record = EpochRecord {
            epoch,
            validation_accuracy: accuracy(engine, &net, &mut eval_ws, &data.validation),
            test_accuracy: cfg
                .monitor_test
                .then(|| accuracy(engine, &net, &mut eval_ws, &data.test)),
            training_cost: cfg
                .monitor_cost
                .then(|| total_cost(engine, &net, &mut eval_ws, train, cfg.cost, cfg.lambda, n)),
            train_seconds,
        };
        on_epoch(&record, &net);
        records.push(record);
    }
    Ok((net, records))
}
