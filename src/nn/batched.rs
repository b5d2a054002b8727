//! The batched f32 engine: forward, backward and the fused SGD update over a mini-batch held as
//! a matrix, on our GEMM and activation kernels. All buffers are allocated once per engine.

use super::{Cost, Network};
use crate::activation::ActivationKernels;
use crate::gemm::{Gemm, MatMut, MatRef};

/// Per-layer buffers for up to `capacity` examples (row-major, one example per row).
#[derive(Debug)]
pub struct Workspace {
    capacity: usize,
    /// Input batch, `capacity x sizes[0]`.
    pub x: Vec<f32>,
    /// Layer outputs a_l, `capacity x sizes[l+1]`.
    pub a: Vec<Vec<f32>>,
    /// Activation derivatives at the pre-activations, same shapes as `a`.
    pub d: Vec<Vec<f32>>,
    /// Errors delta_l = dC/dz_l, same shapes as `a`.
    pub delta: Vec<Vec<f32>>,
    /// One row of the widest layer, for the summed bias gradient.
    scratch: Vec<f32>,
}

impl Workspace {
    /// Buffers for `net`'s shapes and batches of up to `capacity` rows.
    pub fn new(net: &Network, capacity: usize) -> Workspace {
        let per_layer = || {
            net.sizes[1..]
                .iter()
                .map(|&n| vec![0.0f32; capacity * n])
                .collect::<Vec<_>>()
        };
        Workspace {
            capacity,
            x: vec![0.0; capacity * net.sizes[0]],
            a: per_layer(),
            d: per_layer(),
            delta: per_layer(),
            scratch: vec![0.0; net.sizes.iter().copied().max().unwrap_or(0)],
        }
    }

    /// Largest batch these buffers hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Momentum-based SGD's state for one network: a velocity per weight (in the `W^T` layout of
/// [`Network::weights_t`]) and per bias, zero at the start, and room for one layer's step.
#[derive(Clone, Debug, PartialEq)]
pub struct Velocity {
    pub w: Vec<Vec<f32>>,
    pub b: Vec<Vec<f32>>,
    step: Vec<f32>,
}

impl Velocity {
    /// Zero velocities for `net`'s shapes.
    pub fn zeros(net: &Network) -> Velocity {
        Velocity {
            w: net.weights_t.iter().map(|w| vec![0.0; w.len()]).collect(),
            b: net.biases.iter().map(|b| vec![0.0; b.len()]).collect(),
            step: vec![0.0; net.weights_t.iter().map(Vec::len).max().unwrap_or(0)],
        }
    }
}

/// Rows `r0..r0+m` of a workspace: the input and every layer's buffers, as disjoint slices, so
/// blocks of rows can be processed on different threads.
struct Rows<'a> {
    m: usize,
    labels: &'a [u8],
    x: &'a [f32],
    a: Vec<&'a mut [f32]>,
    d: Vec<&'a mut [f32]>,
    delta: Vec<&'a mut [f32]>,
}

/// Below this many rows a batch is processed as one block (threads only inside large GEMMs).
pub const ROW_BLOCK_MIN: usize = 128;

/// Splits the first `m` rows of `ws` into blocks of at most `block` rows.
fn split_rows<'a>(
    net: &Network,
    ws: &'a mut Workspace,
    m: usize,
    block: usize,
    labels: &'a [u8],
) -> Vec<Rows<'a>> {
    let n0 = net.sizes[0];
    let widths = &net.sizes[1..];
    let layer_chunks = |bufs: &'a mut Vec<Vec<f32>>| -> Vec<std::slice::ChunksMut<'a, f32>> {
        bufs.iter_mut()
            .zip(widths)
            .map(|(b, &n)| b[..m * n].chunks_mut(block * n))
            .collect()
    };
    let mut a = layer_chunks(&mut ws.a);
    let mut d = layer_chunks(&mut ws.d);
    let mut delta = layer_chunks(&mut ws.delta);
    let x = &ws.x[..m * n0];
    (0..m.div_ceil(block))
        .map(|c| {
            let r0 = c * block;
            let rows = block.min(m - r0);
            let next = |v: &mut Vec<std::slice::ChunksMut<'a, f32>>| {
                v.iter_mut()
                    .map(|it| it.next().expect("one chunk per block"))
                    .collect()
            };
            Rows {
                m: rows,
                labels: &labels[r0.min(labels.len())..(r0 + rows).min(labels.len())],
                x: &x[r0 * n0..(r0 + rows) * n0],
                a: next(&mut a),
                d: next(&mut d),
                delta: next(&mut delta),
            }
        })
        .collect()
}

/// Copies rows `idx` of `src` (`width` values each) into `ws.x`, converting each value.
fn gather_rows<T: Copy>(
    ws: &mut Workspace,
    src: &[T],
    width: usize,
    idx: impl IntoIterator<Item = usize>,
    convert: impl Fn(T) -> f32,
) -> usize {
    let mut m = 0;
    for (dst, i) in ws.x.chunks_exact_mut(width).zip(idx) {
        for (d, &v) in dst.iter_mut().zip(&src[i * width..(i + 1) * width]) {
            *d = convert(v);
        }
        m += 1;
    }
    m
}

/// `out[j] = scale * sum_i x[i*n + j]` over the first `m` rows, summed in row order (so the
/// result does not depend on threads).
fn column_sums(x: &[f32], m: usize, n: usize, scale: f32, out: &mut [f32]) {
    out.fill(0.0);
    for row in x[..m * n].chunks_exact(n) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
    for o in out.iter_mut() {
        *o *= scale;
    }
}

/// The settings of one SGD step (named, so that `eta` and `lambda` cannot be swapped by
/// position).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdParams {
    /// The cost whose gradient is followed.
    pub cost: Cost,
    /// Learning rate.
    pub eta: f32,
    /// L2 regularisation strength (the book's lambda).
    pub lambda: f32,
    /// Size of the whole training set (the `n` of the weight decay `1 - eta*lambda/n`).
    pub train_size: usize,
}

/// The kernels the engine runs on.
#[derive(Clone, Copy)]
pub struct Engine {
    pub gemm: Gemm,
    pub act: ActivationKernels,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new()
    }
}

// Shapes are guaranteed by construction (Workspace::new from the same network, m <= capacity),
// so a GEMM shape error here is a bug, not an input problem.
const SHAPES_AGREE: &str = "engine buffers are sized from the network";

impl Engine {
    /// Default kernels (selected ISA, rayon's threads).
    pub fn new() -> Engine {
        Engine {
            gemm: Gemm::new(),
            act: ActivationKernels::new(),
        }
    }

    /// Copies the rows `idx` of `images` (`width` values each) into the input buffer; returns
    /// the number of rows gathered (at most the workspace's capacity).
    pub fn gather(
        &self,
        ws: &mut Workspace,
        images: &[f32],
        width: usize,
        idx: impl IntoIterator<Item = usize>,
    ) -> usize {
        gather_rows(ws, images, width, idx, |v| v)
    }

    /// Like [`Engine::gather`] from byte pixels, scaled by 1/256 on the way (exact in f32, so
    /// the values equal the dataset's f32 images bit for bit).
    pub fn gather_pixels(
        &self,
        ws: &mut Workspace,
        pixels: &[u8],
        width: usize,
        idx: impl IntoIterator<Item = usize>,
    ) -> usize {
        gather_rows(ws, pixels, width, idx, |b| {
            b as f32 * crate::data::PIXEL_SCALE
        })
    }

    /// Forward pass over the first `m` rows of `ws.x`: fills `a` and `d` of every layer.
    ///
    /// Large batches are cut into blocks of rows processed in parallel. Rows are independent in
    /// the forward pass and a GEMM's cells do not depend on how its rows are split, so the
    /// result is the same, bit for bit, for any number of blocks or threads.
    pub fn forward(&self, net: &Network, ws: &mut Workspace, m: usize) {
        debug_assert!(m <= ws.capacity);
        self.by_row_blocks(net, ws, m, &[], |e, rows| e.forward_rows(net, rows));
    }

    /// Runs `f` on blocks of rows: one block on this thread (GEMMs may still use threads), or
    /// several in parallel, each with single-threaded kernels.
    fn by_row_blocks(
        &self,
        net: &Network,
        ws: &mut Workspace,
        m: usize,
        labels: &[u8],
        f: impl Fn(&Engine, &mut Rows) + Sync,
    ) {
        let threads = self.gemm.thread_cap().min(rayon::current_num_threads());
        if !self.parallel_rows(m) {
            let mut blocks = split_rows(net, ws, m, m.max(1), labels);
            if let Some(rows) = blocks.first_mut() {
                f(self, rows);
            }
            return;
        }
        use rayon::prelude::*;
        let block = m.div_ceil(threads).max(ROW_BLOCK_MIN);
        let single = Engine {
            gemm: self.gemm.threads(1),
            act: self.act,
        };
        split_rows(net, ws, m, block, labels)
            .par_iter_mut()
            .for_each(|rows| f(&single, rows));
    }

    fn forward_rows(&self, net: &Network, rows: &mut Rows) {
        let m = rows.m;
        for l in 0..net.layers() {
            let (n_in, n_out) = (net.sizes[l], net.sizes[l + 1]);
            let (prev, rest) = rows.a.split_at_mut(l);
            let input: &[f32] = if l == 0 {
                rows.x
            } else {
                &prev[l - 1][..m * n_in]
            };
            let z = &mut rest[0][..m * n_out];
            // z = a_{l-1} W^T (the bias is added by the activation pass)
            self.gemm
                .gemm(
                    1.0,
                    MatRef::row_major(input, m, n_in).expect(SHAPES_AGREE),
                    MatRef::row_major(&net.weights_t[l], n_in, n_out).expect(SHAPES_AGREE),
                    0.0,
                    MatMut::row_major(z, m, n_out).expect(SHAPES_AGREE),
                )
                .expect(SHAPES_AGREE);
            self.act
                .bias_activation(
                    net.activation(l),
                    z,
                    &net.biases[l],
                    &mut rows.d[l][..m * n_out],
                )
                .expect(SHAPES_AGREE);
        }
    }

    /// Output error then every hidden layer's error, for one block of rows.
    fn backward_rows(&self, net: &Network, rows: &mut Rows, cost: Cost) {
        self.output_delta_rows(net, rows, cost);
        for l in (1..net.layers()).rev() {
            self.propagate_rows(net, rows, l);
        }
    }

    /// delta_L = dC/dz_L for one block of rows.
    fn output_delta_rows(&self, net: &Network, rows: &mut Rows, cost: Cost) {
        let (m, last, k) = (rows.m, net.layers() - 1, net.outputs());
        let delta = &mut rows.delta[last][..m * k];
        delta.copy_from_slice(&rows.a[last][..m * k]);
        for (row, &y) in delta.chunks_exact_mut(k).zip(rows.labels) {
            row[y as usize] -= 1.0;
        }
        if cost == Cost::Quadratic {
            for (dv, &dz) in delta.iter_mut().zip(&rows.d[last][..m * k]) {
                *dv *= dz;
            }
        }
    }

    /// delta_{l-1} = (delta_l W_l) * act'(z_{l-1}) for one block of rows.
    fn propagate_rows(&self, net: &Network, rows: &mut Rows, l: usize) {
        let m = rows.m;
        let (n_in, n_out) = (net.sizes[l], net.sizes[l + 1]);
        let (lower, upper) = rows.delta.split_at_mut(l);
        let below = &mut lower[l - 1][..m * n_in];
        self.gemm
            .gemm(
                1.0,
                MatRef::row_major(&upper[0][..m * n_out], m, n_out).expect(SHAPES_AGREE),
                MatRef::row_major(&net.weights_t[l], n_in, n_out)
                    .expect(SHAPES_AGREE)
                    .t(),
                0.0,
                MatMut::row_major(below, m, n_in).expect(SHAPES_AGREE),
            )
            .expect(SHAPES_AGREE);
        for (dv, &dz) in below.iter_mut().zip(&rows.d[l - 1][..m * n_in]) {
            *dv *= dz;
        }
    }

    /// The output error for labels `y` (first `m` rows), into `ws.delta[last]`.
    pub fn output_delta(
        &self,
        net: &Network,
        ws: &mut Workspace,
        m: usize,
        labels: &[u8],
        cost: Cost,
    ) {
        if let Some(rows) = split_rows(net, ws, m, m.max(1), labels).first_mut() {
            self.output_delta_rows(net, rows, cost);
        }
    }

    /// delta_{l-1} = (delta_l W_l) * act'(z_{l-1}) for the first `m` rows.
    pub fn propagate_delta(&self, net: &Network, ws: &mut Workspace, m: usize, l: usize) {
        if let Some(rows) = split_rows(net, ws, m, m.max(1), &[]).first_mut() {
            self.propagate_rows(net, rows, l);
        }
    }

    /// Forward then backward in one parallel region (one block of rows per thread goes through
    /// both passes without waiting for the others).
    pub fn forward_backward(
        &self,
        net: &Network,
        ws: &mut Workspace,
        m: usize,
        labels: &[u8],
        cost: Cost,
    ) {
        self.by_row_blocks(net, ws, m, labels, |e, rows| {
            e.forward_rows(net, rows);
            e.backward_rows(net, rows, cost);
        });
    }

    /// Backward pass without updates: every layer's delta for the first `m` rows (blocks of rows
    /// in parallel for large batches, bit-identical to one block).
    pub fn backward(&self, net: &Network, ws: &mut Workspace, m: usize, labels: &[u8], cost: Cost) {
        self.by_row_blocks(net, ws, m, labels, |e, rows| {
            e.backward_rows(net, rows, cost)
        });
    }

    /// Column sums of layer `l`'s delta over the first `m` rows (in row order, so the result
    /// does not depend on threads), scaled by `scale`, into `out`.
    pub fn bias_gradient(
        &self,
        net: &Network,
        ws: &Workspace,
        m: usize,
        l: usize,
        scale: f32,
        out: &mut [f32],
    ) {
        column_sums(&ws.delta[l], m, net.sizes[l + 1], scale, out);
    }

    /// Chapter 5's measurement pass: forward and delta propagation over the first `m` rows, then
    /// each layer's bias gradient averaged over the rows (no weight gradients), into `out[l]`.
    pub fn mean_bias_gradients(
        &self,
        net: &Network,
        ws: &mut Workspace,
        m: usize,
        labels: &[u8],
        cost: Cost,
        out: &mut [Vec<f32>],
    ) {
        self.forward_backward(net, ws, m, labels, cost);
        let ws: &Workspace = ws;
        let layer =
            |(l, g): (usize, &mut Vec<f32>)| self.bias_gradient(net, ws, m, l, 1.0 / m as f32, g);
        if self.parallel_rows(m) {
            // Each layer's sums stay in row order on one thread: the same bits as serially.
            use rayon::prelude::*;
            out.par_iter_mut()
                .take(net.layers())
                .enumerate()
                .for_each(layer);
        } else {
            out.iter_mut()
                .take(net.layers())
                .enumerate()
                .for_each(layer);
        }
    }

    /// Whether a batch of `m` rows is processed in parallel blocks (see [`ROW_BLOCK_MIN`]).
    fn parallel_rows(&self, m: usize) -> bool {
        self.gemm.thread_cap().min(rayon::current_num_threads()) > 1 && m >= 2 * ROW_BLOCK_MIN
    }

    /// `out = scale * A_{l-1}^T delta_l` (the W^T-shaped weight gradient summed over the first
    /// `m` rows, times `scale`).
    pub fn weight_gradient(
        &self,
        net: &Network,
        ws: &Workspace,
        m: usize,
        l: usize,
        scale: f32,
        out: &mut [f32],
    ) {
        Self::input_t_delta(&self.gemm, &net.sizes, ws, m, l, scale, 0.0, out);
    }

    /// `out <- alpha * A_{l-1}^T delta_l + beta * out` over the first `m` rows: the weight
    /// gradient (beta = 0) or the whole decayed SGD update of `W^T` (beta = decay).
    #[allow(clippy::too_many_arguments)]
    fn input_t_delta(
        gemm: &Gemm,
        sizes: &[usize],
        ws: &Workspace,
        m: usize,
        l: usize,
        alpha: f32,
        beta: f32,
        out: &mut [f32],
    ) {
        let (n_in, n_out) = (sizes[l], sizes[l + 1]);
        let input: &[f32] = if l == 0 {
            &ws.x[..m * n_in]
        } else {
            &ws.a[l - 1][..m * n_in]
        };
        gemm.gemm(
            alpha,
            MatRef::row_major(input, m, n_in).expect(SHAPES_AGREE).t(),
            MatRef::row_major(&ws.delta[l][..m * n_out], m, n_out).expect(SHAPES_AGREE),
            beta,
            MatMut::row_major(out, n_in, n_out).expect(SHAPES_AGREE),
        )
        .expect(SHAPES_AGREE);
    }

    /// One step of momentum-based SGD (the book's chapter 3 form) on the first `m` rows:
    /// for every weight and bias, `v <- fma(mu, v, g)` with `g = -(eta/m) * gradient` (the
    /// weights' `g` is one GEMM, `alpha * sum`, exactly as the plain step's), then
    /// `w <- fma(decay, w, v)` for weights and `b <- b + v` for biases. Errors use the old
    /// weights, as in [`Engine::sgd_step`]; `mu = 0` gives plain SGD up to the sign of zeros,
    /// so the trainer runs `sgd_step` then.
    #[allow(clippy::too_many_arguments)]
    pub fn sgd_step_momentum(
        &self,
        net: &mut Network,
        ws: &mut Workspace,
        vel: &mut Velocity,
        m: usize,
        labels: &[u8],
        p: &SgdParams,
        mu: f32,
    ) {
        self.sgd_step_with(net, ws, m, labels, p, Some((vel, mu)));
    }

    /// One step of the book's SGD on the first `m` rows of `ws.x` with `labels`:
    /// `W <- (1 - eta*lambda/n) W - (eta/m) sum dC/dW`, `b <- b - (eta/m) sum dC/db`, with the
    /// settings in `p` (`n` is `p.train_size`).
    ///
    /// Fused: layers are visited top-down and each is updated with one GEMM whose beta is the
    /// decay factor, so no gradient buffer is written or read; every error is computed with the
    /// old weights (interleaved with the updates for small batches, all first for large ones).
    pub fn sgd_step(
        &self,
        net: &mut Network,
        ws: &mut Workspace,
        m: usize,
        labels: &[u8],
        p: &SgdParams,
    ) {
        self.sgd_step_with(net, ws, m, labels, p, None);
    }

    /// [`Engine::sgd_step`], or with a velocity and coefficient [`Engine::sgd_step_momentum`].
    fn sgd_step_with(
        &self,
        net: &mut Network,
        ws: &mut Workspace,
        m: usize,
        labels: &[u8],
        p: &SgdParams,
        mut momentum: Option<(&mut Velocity, f32)>,
    ) {
        let SgdParams {
            cost,
            eta,
            lambda,
            train_size: n,
        } = *p;
        // Small batches interleave each layer's error propagation with its update (the data is
        // still in cache); large ones compute every error first, in parallel blocks of rows.
        // Either way every error uses the old weights, so the arithmetic is the same.
        let fused = m < 2 * ROW_BLOCK_MIN;
        if fused {
            self.forward(net, ws, m);
            self.output_delta(net, ws, m, labels, cost);
        } else {
            self.forward_backward(net, ws, m, labels, cost);
        }
        let decay = 1.0 - eta * lambda / n as f32;
        let step = eta / m as f32;
        for l in (0..net.layers()).rev() {
            if fused && l > 0 {
                self.propagate_delta(net, ws, m, l);
            }
            let (n_in, n_out) = (net.sizes[l], net.sizes[l + 1]);
            let mut sum = std::mem::take(&mut ws.scratch);
            match momentum.as_mut() {
                None => {
                    Self::input_t_delta(
                        &self.gemm,
                        &net.sizes,
                        ws,
                        m,
                        l,
                        -step,
                        decay,
                        &mut net.weights_t[l],
                    );
                    column_sums(&ws.delta[l], m, n_out, 1.0, &mut sum[..n_out]);
                    for (bv, &g) in net.biases[l].iter_mut().zip(&sum) {
                        *bv -= step * g;
                    }
                }
                Some((vel, mu)) => {
                    let g = &mut vel.step[..n_in * n_out];
                    Self::input_t_delta(&self.gemm, &net.sizes, ws, m, l, -step, 0.0, g);
                    self.act
                        .momentum(&mut net.weights_t[l], &mut vel.w[l], g, *mu, decay);
                    column_sums(&ws.delta[l], m, n_out, 1.0, &mut sum[..n_out]);
                    let gb = &mut vel.step[..n_out];
                    for (d, &s) in gb.iter_mut().zip(&sum) {
                        *d = -(step * s);
                    }
                    self.act
                        .momentum(&mut net.biases[l], &mut vel.b[l], gb, *mu, 1.0);
                }
            }
            ws.scratch = sum;
        }
    }

    /// Index of the largest output (first on ties) for each of the first `m` rows.
    pub fn predictions(&self, net: &Network, ws: &Workspace, m: usize) -> Vec<u8> {
        let k = net.outputs();
        ws.a[net.layers() - 1][..m * k]
            .chunks_exact(k)
            .map(|row| {
                let mut best = 0;
                for (j, &v) in row.iter().enumerate() {
                    if v > row[best] {
                        best = j;
                    }
                }
                best as u8
            })
            .collect()
    }
}
