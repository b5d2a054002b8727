//! The trainer's SGD step for small mini-batches (the book's 10), on a layout chosen once per
//! run for it.
//!
//! A batch-10 step is a chain of short products (10 rows, or a depth of 10) and row passes, so
//! what decides its speed is memory layout more than arithmetic: with `W^T` rows of 30 floats
//! (120 bytes) every vector load and store of the weight update straddles a cache line, and the
//! update ran at half the speed it reaches on rows of 32 (measured on a Sapphire Rapids-class
//! Xeon: 6.2 us against 3.1 us for 784x10x30). [`SmallBatchStep`] therefore keeps, for the
//! length of a training run, its own copy of the weights and biases and its own buffers, every
//! row padded to a whole number of 64-byte lines and every buffer 64-byte aligned. The weight
//! update runs on the rank-k kernel ([`crate::kernels::rank_k`], through the GEMM driver's shape
//! choice); kernels, blocking and shapes are fixed when the step is built.
//!
//! The forward product and the weight update run over whole padded rows (`stride` columns, not
//! `n_out`): every vector of them is then a full one, with no lane masks. Masked vectors cost
//! the forward product 10x784x30 14 % (3.55 against 3.11 us on 32 columns, measured on an Intel
//! Xeon, family 6 model 167), and the update about 7 %. The extra columns compute `x * 0` sums
//! into padding cells; nothing reads a padding cell into a live one (every product's depth and
//! every element-wise pass stops at the live columns), so what they hold does not matter.
//!
//! The arithmetic is exactly [`Engine::sgd_step`]'s (same products, same summation orders, same
//! element-wise passes), and padding cells are never read into a live cell, so the result is
//! the same bits, which the tests check step by step.

use super::batched::{Engine, SgdParams};
use super::{Cost, Network};
use crate::activation::{ErrorRows, LayerError};
use crate::gemm::{Gemm, Hints, MatMut, MatRef, ZeroRowMap};
use crate::kernels::rank_k::MAX_RANK_K;
use crate::kernels::GatherRows;

/// Floats per padding unit: one 64-byte line (a whole number of vectors of every family).
const LINE_FLOATS: usize = 16;

/// `n` rounded up to whole lines.
fn padded(n: usize) -> usize {
    n.div_ceil(LINE_FLOATS) * LINE_FLOATS
}

/// A zeroed f32 buffer whose first element is 64-byte aligned (a `Vec` guarantees only the
/// alignment of f32; the start is moved to the first line boundary inside a slightly longer one).
#[derive(Debug)]
struct Aligned {
    buf: Vec<f32>,
    off: usize,
    len: usize,
}

impl Aligned {
    fn zeroed(len: usize) -> Aligned {
        let buf = vec![0.0f32; len + LINE_FLOATS];
        let off = buf.as_ptr().align_offset(64).min(LINE_FLOATS);
        Aligned { buf, off, len }
    }
    fn get(&self) -> &[f32] {
        &self.buf[self.off..self.off + self.len]
    }
    fn get_mut(&mut self) -> &mut [f32] {
        &mut self.buf[self.off..self.off + self.len]
    }
}

/// One layer's parameters in the padded layout: `W^T` as `n_in` rows of `stride` floats
/// (columns `n_out..stride` are zero and never read), biases padded the same way.
#[derive(Debug)]
struct Layer {
    n_in: usize,
    n_out: usize,
    stride: usize,
    wt: Aligned,
    bias: Aligned,
    /// Output activations, derivatives and errors: `capacity` rows of `stride` floats.
    a: Aligned,
    d: Aligned,
    delta: Aligned,
    /// The error's column sums (the bias gradient), made with the error itself.
    sums: Aligned,
}

impl Layer {
    /// The first `m` rows of the error by the fused error pass: the output's from this
    /// layer's activations when `output` gives the labels and whether the cost multiplies
    /// by the derivative (quadratic), else a hidden layer's `act'` product in place; with the
    /// bias step `b <- b - step * sum` when `bias_step` is given (see
    /// [`crate::activation::ActivationKernels::error_rows`]).
    fn error_rows(
        &mut self,
        kernels: &crate::activation::ActivationKernels,
        m: usize,
        output: Option<(&[u8], bool)>,
        bias_step: Option<f32>,
    ) {
        let n_out = self.n_out;
        let error = match output {
            Some((labels, times_deriv)) => LayerError::Output {
                a: self.a.get(),
                labels,
                times_deriv,
            },
            None => LayerError::Hidden,
        };
        kernels
            .error_rows(ErrorRows {
                error,
                delta: self.delta.get_mut(),
                deriv: self.d.get(),
                rows: m,
                cols: n_out,
                stride: self.stride,
                sums: &mut self.sums.get_mut()[..n_out],
                bias: bias_step.map(|step| (&mut self.bias.get_mut()[..n_out], step)),
            })
            .expect(SHAPES_AGREE);
    }
}

/// The small-batch SGD step with its own padded, aligned copy of a network (see the module
/// documentation). Build it from a network, run [`SmallBatchStep::step`] for each mini-batch,
/// and copy the parameters back with [`SmallBatchStep::store`] whenever the network is needed.
pub struct SmallBatchStep {
    capacity: usize,
    width: usize,
    /// The input batch: `capacity` rows of `width` floats.
    x: Aligned,
    layers: Vec<Layer>,
    gemm: Gemm,
    engine_act: crate::activation::ActivationKernels,
    hidden: super::Activation,
    /// Momentum-based SGD's velocities (padded like the parameters) and one layer's step,
    /// made zero on the first momentum step.
    momentum: Option<MomentumState>,
    /// Byte addresses of the cache lines of later batches' images, asked for during the next
    /// step's first-layer weight update ([`SmallBatchStep::prefetch_during_next_step`]).
    ahead: Vec<usize>,
    /// The pixel positions zero in every image of the batch last gathered: rows of the first
    /// layer's update whose sums the rank-k kernel skips (same bits; see `gemm::ZeroRowMap`).
    zero_pixels: ZeroRowMap,
    /// How many rows `zero_pixels` describes (0: no map). A step over more rows than that
    /// does not use it.
    zero_pixels_batch: usize,
}

/// Velocities of every layer in the padded layout, and a buffer for one layer's `W^T` step.
struct MomentumState {
    w: Vec<Aligned>,
    b: Vec<Aligned>,
    step: Aligned,
}

/// Layer `l`'s input rows (the batch for layer 0, else the layer below's activations) as an
/// `m x n_in` view; `below` holds the layers under `l`.
fn layer_input<'a>(x: &'a Aligned, below: &'a [Layer], m: usize, n_in: usize) -> MatRef<'a> {
    match below.last() {
        None => MatRef::row_major(&x.get()[..m * n_in], m, n_in),
        Some(prev) => MatRef::new(prev.a.get(), m, n_in, prev.stride, 1),
    }
    .expect(SHAPES_AGREE)
}

/// What the first layer's update over `m` rows may be told besides its operands: the cache
/// lines of later batches (`ahead`) and, when it describes these rows (`batch` of them were
/// gathered into it), the map of pixel positions zero in every image (rows of `X^T`).
fn first_layer_hints<'a>(
    ahead: &'a [usize],
    zero_pixels: &'a ZeroRowMap,
    batch: usize,
    m: usize,
) -> Hints<'a> {
    Hints {
        prefetch: ahead,
        zero_rows_of_a: (m <= batch).then_some(zero_pixels),
        zero_cols_of_a: None,
    }
}

// Shapes are fixed at construction from one network, so a GEMM shape error is a bug.
const SHAPES_AGREE: &str = "small-batch buffers are sized from the network";

impl SmallBatchStep {
    /// Largest mini-batch this step takes (the rank-k kernels' depth limit); larger batches use
    /// [`Engine::sgd_step`].
    pub const MAX_BATCH: usize = MAX_RANK_K;

    /// A step for `net`'s shapes and batches of up to `capacity` rows (at most
    /// [`SmallBatchStep::MAX_BATCH`]), running on `engine`'s kernels on one thread, loaded
    /// with `net`'s parameters.
    pub fn new(net: &Network, engine: &Engine, capacity: usize) -> SmallBatchStep {
        let capacity = capacity.clamp(1, Self::MAX_BATCH);
        let layers = net
            .sizes
            .windows(2)
            .map(|w| {
                let (n_in, n_out) = (w[0], w[1]);
                let stride = padded(n_out);
                Layer {
                    n_in,
                    n_out,
                    stride,
                    wt: Aligned::zeroed(n_in * stride),
                    bias: Aligned::zeroed(stride),
                    a: Aligned::zeroed(capacity * stride),
                    d: Aligned::zeroed(capacity * stride),
                    delta: Aligned::zeroed(capacity * stride),
                    sums: Aligned::zeroed(stride),
                }
            })
            .collect();
        let mut step = SmallBatchStep {
            capacity,
            width: net.inputs(),
            x: Aligned::zeroed(capacity * net.inputs()),
            layers,
            gemm: engine.gemm.threads(1),
            engine_act: engine.act,
            hidden: net.hidden,
            momentum: None,
            ahead: Vec::new(),
            zero_pixels: ZeroRowMap::new(),
            zero_pixels_batch: 0,
        };
        step.load(net);
        step
    }

    /// Largest batch this step holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Copies `net`'s weights and biases in (same shapes as at construction).
    pub fn load(&mut self, net: &Network) {
        for (l, layer) in self.layers.iter_mut().enumerate() {
            let (n_out, stride) = (layer.n_out, layer.stride);
            for (dst, src) in layer
                .wt
                .get_mut()
                .chunks_exact_mut(stride)
                .zip(net.weights_t[l].chunks_exact(n_out))
            {
                dst[..n_out].copy_from_slice(src);
            }
            layer.bias.get_mut()[..n_out].copy_from_slice(&net.biases[l]);
        }
    }

    /// Copies the weights and biases out into `net` (same shapes as at construction).
    pub fn store(&self, net: &mut Network) {
        for (l, layer) in self.layers.iter().enumerate() {
            let (n_out, stride) = (layer.n_out, layer.stride);
            for (dst, src) in net.weights_t[l]
                .chunks_exact_mut(n_out)
                .zip(layer.wt.get().chunks_exact(stride))
            {
                dst.copy_from_slice(&src[..n_out]);
            }
            net.biases[l].copy_from_slice(&layer.bias.get()[..n_out]);
        }
    }

    /// Copies the rows `idx` of byte `pixels` (`width` bytes each) into the input batch, scaled
    /// by 1/256 (exact, so the same values as the dataset's f32 images); returns the number of
    /// rows gathered (at most the capacity).
    ///
    /// It also notes which pixel positions are zero in every gathered image, when the step's
    /// GEMM skips zero rows ([`Gemm::skip_zero_rows`]): the first layer's update then skips
    /// those rows' sums (same bits).
    pub fn gather_pixels(&mut self, pixels: &[u8], idx: impl IntoIterator<Item = usize>) -> usize {
        let width = self.width;
        let mut rows: [&[u8]; Self::MAX_BATCH] = [&[]; Self::MAX_BATCH];
        let mut m = 0;
        for (row, i) in rows.iter_mut().zip(idx).take(self.capacity) {
            *row = &pixels[i * width..(i + 1) * width];
            m += 1;
        }
        let act = &self.engine_act;
        let g = GatherRows {
            rows: &rows[..m],
            width,
            scale: crate::data::PIXEL_SCALE,
            dst: &mut self.x.get_mut()[..m * width],
            zero_map: None,
            // Batches of one dataset look alike: blank positions in the last one, then
            // likely in this one (a hint for the kernel's choice of pass only).
            expect_blank: self.zero_pixels_batch > 0 && self.zero_pixels.marks_any(),
        };
        // One pass converts the rows and, when the step's GEMM skips zero rows, notes the
        // positions blank in all of them.
        if self.gemm.skips_zero_rows() {
            self.zero_pixels.fill(width, move |out| {
                act.gather_rows(GatherRows {
                    zero_map: Some(out),
                    ..g
                })
            });
            self.zero_pixels_batch = m;
        } else {
            act.gather_rows(g);
            self.zero_pixels_batch = 0;
        }
        m
    }

    /// Asks for the images `rows` of `pixels` (rows of `width` bytes) while the next step
    /// computes: their cache lines are fetched into L2 one at a time during its first layer's
    /// weight update, instead of all at once now. Issued together, the ~130 misses of a batch of
    /// 10 random images held every fill buffer of the core and stalled it for about 1 us per
    /// step (measured on an Intel Xeon, family 6 model 167: the prefetch call alone took
    /// 0.86-0.99 us). A hint only: the results do not depend on it.
    pub fn prefetch_during_next_step(
        &mut self,
        pixels: &[u8],
        width: usize,
        rows: impl IntoIterator<Item = usize>,
    ) {
        self.ahead.clear();
        for i in rows {
            let Some(row) = pixels.get(i * width..(i + 1) * width) else {
                continue;
            };
            let (start, end) = (row.as_ptr() as usize, row.as_ptr() as usize + row.len());
            self.ahead.extend((start & !63..end).step_by(64));
        }
    }

    /// The activation of layer `l` (sigmoid at the output, as in [`Network::activation`]).
    fn activation(&self, l: usize) -> super::Activation {
        if l + 1 == self.layers.len() {
            super::Activation::Sigmoid
        } else {
            self.hidden
        }
    }

    /// One step of the book's SGD on the first `m` gathered rows with `labels`: the same update
    /// as [`Engine::sgd_step`] with the same settings, bit for bit.
    pub fn step(&mut self, m: usize, labels: &[u8], p: &SgdParams) {
        self.step_with(m, labels, p, None);
    }

    /// One step of momentum-based SGD with coefficient `mu`: the same update as
    /// [`Engine::sgd_step_momentum`] with the same settings, bit for bit. The velocities are
    /// kept in this step (zero before its first momentum step).
    pub fn step_momentum(&mut self, m: usize, labels: &[u8], p: &SgdParams, mu: f32) {
        if self.momentum.is_none() {
            let widest = self.layers.iter().map(|l| l.n_in * l.stride).max();
            let zeroed = |len: fn(&Layer) -> usize| -> Vec<Aligned> {
                self.layers
                    .iter()
                    .map(|l| Aligned::zeroed(len(l)))
                    .collect()
            };
            self.momentum = Some(MomentumState {
                w: zeroed(|l| l.n_in * l.stride),
                b: zeroed(|l| l.stride),
                step: Aligned::zeroed(widest.unwrap_or(0)),
            });
        }
        self.step_with(m, labels, p, Some(mu));
    }

    /// [`SmallBatchStep::step`], or with a momentum coefficient
    /// [`SmallBatchStep::step_momentum`] (whose state must exist).
    fn step_with(&mut self, m: usize, labels: &[u8], p: &SgdParams, mu: Option<f32>) {
        assert!(
            m >= 1 && m <= self.capacity && labels.len() >= m,
            "a batch of 1..={} rows with a label each",
            self.capacity
        );
        self.forward(m);
        let decay = 1.0 - p.eta * p.lambda / p.train_size as f32;
        let step = p.eta / m as f32;
        // Plain SGD steps each bias where its error is made; momentum keeps the sums for its
        // own update of weights and biases together.
        let bias_step = mu.is_none().then_some(step);
        self.output_delta(m, labels, p.cost, bias_step);
        for l in (0..self.layers.len()).rev() {
            if l > 0 {
                self.propagate(m, l, bias_step);
            }
            match mu {
                None => self.update_weights(m, l, -step, decay),
                Some(mu) => self.update_momentum(m, l, step, decay, mu),
            }
        }
    }

    /// Layer `l`'s momentum update: the weights' step `-(eta/m) A^T delta` (one GEMM over the
    /// padded rows, beta = 0) into the state's buffer, then the momentum kernel over weights and
    /// biases (see [`SmallBatchStep::step_momentum`]).
    fn update_momentum(&mut self, m: usize, l: usize, step: f32, decay: f32, mu: f32) {
        let state = self.momentum.as_mut().expect("made by step_momentum");
        let (below, rest) = self.layers.split_at_mut(l);
        let layer = &mut rest[0];
        let (n_in, n_out, stride) = (layer.n_in, layer.n_out, layer.stride);
        let input = layer_input(&self.x, below, m, n_in);
        let g = &mut state.step.get_mut()[..n_in * stride];
        let hints = if l == 0 {
            first_layer_hints(&self.ahead, &self.zero_pixels, self.zero_pixels_batch, m)
        } else {
            Hints::default()
        };
        self.gemm
            .gemm_hinted(
                -step,
                input.t(),
                MatRef::new(layer.delta.get(), m, stride, stride, 1).expect(SHAPES_AGREE),
                0.0,
                MatMut::new(g, n_in, stride, stride, 1).expect(SHAPES_AGREE),
                &hints,
            )
            .expect(SHAPES_AGREE);
        if l == 0 {
            self.ahead.clear();
        }
        self.engine_act
            .momentum(layer.wt.get_mut(), state.w[l].get_mut(), g, mu, decay);
        let sums = &layer.sums.get()[..n_out];
        let gb = &mut state.step.get_mut()[..n_out];
        for (d, &s) in gb.iter_mut().zip(sums.iter()) {
            *d = -(step * s);
        }
        self.engine_act.momentum(
            &mut layer.bias.get_mut()[..n_out],
            &mut state.b[l].get_mut()[..n_out],
            gb,
            mu,
            1.0,
        );
    }

    /// Forward pass: every layer's activations and derivatives for the first `m` rows.
    fn forward(&mut self, m: usize) {
        for l in 0..self.layers.len() {
            self.forward_layer(m, l);
        }
    }

    /// Layer `l`'s forward product and its bias + activation + derivative pass, for the first
    /// `m` rows (one phase of [`SmallBatchStep::step`], public for the phase benchmarks).
    pub fn forward_layer(&mut self, m: usize, l: usize) {
        let act = self.activation(l);
        let (below, rest) = self.layers.split_at_mut(l);
        let layer = &mut rest[0];
        let (n_in, n_out, stride) = (layer.n_in, layer.n_out, layer.stride);
        let input = layer_input(&self.x, below, m, n_in);
        // The first layer's input is the batch: its blank pixel positions (columns of X) are
        // skipped by the sparse-depth kernel, same bits (see `kernels::sparse_depth`).
        let hints = Hints {
            zero_cols_of_a: (l == 0 && m <= self.zero_pixels_batch).then_some(&self.zero_pixels),
            ..Hints::default()
        };
        // The product runs over whole padded rows (see the module documentation).
        self.gemm
            .gemm_hinted(
                1.0,
                input,
                MatRef::new(layer.wt.get(), n_in, stride, stride, 1).expect(SHAPES_AGREE),
                0.0,
                MatMut::new(layer.a.get_mut(), m, stride, stride, 1).expect(SHAPES_AGREE),
                &hints,
            )
            .expect(SHAPES_AGREE);
        // The batch's rows in one kernel call (their live columns; padding untouched).
        self.engine_act
            .bias_activation_strided(
                act,
                m,
                stride,
                layer.a.get_mut(),
                &layer.bias.get()[..n_out],
                layer.d.get_mut(),
            )
            .expect(SHAPES_AGREE);
    }

    /// The output error `dC/dz` for the first `m` rows, its column sums and, with
    /// `bias_step`, the output bias's step `b <- b - bias_step * sum`, in one pass (a phase of
    /// [`SmallBatchStep::step`]).
    pub fn output_delta(&mut self, m: usize, labels: &[u8], cost: Cost, bias_step: Option<f32>) {
        let top = self.layers.last_mut().expect("a network has a layer");
        let output = Some((labels, cost == Cost::Quadratic));
        top.error_rows(&self.engine_act, m, output, bias_step);
    }

    /// `delta_{l-1} = (delta_l W_l) * act'(z_{l-1})` for the first `m` rows, with the weights
    /// before this step's update of layer `l`, then its column sums and, with `bias_step`,
    /// layer `l-1`'s bias step, the last three in one pass (a phase of
    /// [`SmallBatchStep::step`]).
    pub fn propagate(&mut self, m: usize, l: usize, bias_step: Option<f32>) {
        let (below, above) = self.layers.split_at_mut(l);
        let (lower, upper) = (&mut below[l - 1], &above[0]);
        let (n_in, n_out) = (upper.n_in, upper.n_out);
        let stride_in = lower.stride;
        self.gemm
            .gemm(
                1.0,
                MatRef::new(upper.delta.get(), m, n_out, upper.stride, 1).expect(SHAPES_AGREE),
                MatRef::new(upper.wt.get(), n_in, n_out, upper.stride, 1)
                    .expect(SHAPES_AGREE)
                    .t(),
                0.0,
                MatMut::new(lower.delta.get_mut(), m, n_in, stride_in, 1).expect(SHAPES_AGREE),
            )
            .expect(SHAPES_AGREE);
        lower.error_rows(&self.engine_act, m, None, bias_step);
    }

    /// `W^T <- decay*W^T + alpha * A_{l-1}^T delta_l` for layer `l` over the first `m` rows (a
    /// phase of [`SmallBatchStep::step`], with `alpha = -eta/m`).
    pub fn update_weights(&mut self, m: usize, l: usize, alpha: f32, decay: f32) {
        let (below, rest) = self.layers.split_at_mut(l);
        let layer = &mut rest[0];
        let (n_in, stride) = (layer.n_in, layer.stride);
        let input = layer_input(&self.x, below, m, n_in);
        // Whole padded rows, as in the forward product (see the module documentation).
        let delta = MatRef::new(layer.delta.get(), m, stride, stride, 1).expect(SHAPES_AGREE);
        // The first layer's update is the step's longest pass: the next batches' lines ride on it.
        let hints = if l == 0 {
            first_layer_hints(&self.ahead, &self.zero_pixels, self.zero_pixels_batch, m)
        } else {
            Hints::default()
        };
        self.gemm
            .gemm_hinted(
                alpha,
                input.t(),
                delta,
                decay,
                MatMut::new(layer.wt.get_mut(), n_in, stride, stride, 1).expect(SHAPES_AGREE),
                &hints,
            )
            .expect(SHAPES_AGREE);
        if l == 0 {
            self.ahead.clear();
        }
    }
}
