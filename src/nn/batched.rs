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

    /// Copies the rows `idx` of `images` (`sizes[0]` values each) into the input buffer.
    pub fn gather(
        &self,
        ws: &mut Workspace,
        images: &[f32],
        width: usize,
        idx: impl IntoIterator<Item = usize>,
    ) -> usize {
        let mut m = 0;
        for (dst, i) in ws.x.chunks_exact_mut(width).zip(idx) {
            dst.copy_from_slice(&images[i * width..(i + 1) * width]);
            m += 1;
        }
        m
    }

    /// Forward pass over the first `m` rows of `ws.x`: fills `a` and `d` of every layer.
    pub fn forward(&self, net: &Network, ws: &mut Workspace, m: usize) {
        debug_assert!(m <= ws.capacity);
        for l in 0..net.layers() {
            let (n_in, n_out) = (net.sizes[l], net.sizes[l + 1]);
            let (prev, rest) = ws.a.split_at_mut(l);
            let input: &[f32] = if l == 0 {
                &ws.x[..m * n_in]
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
                    &mut ws.d[l][..m * n_out],
                )
                .expect(SHAPES_AGREE);
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
        let last = net.layers() - 1;
        let k = net.outputs();
        let delta = &mut ws.delta[last][..m * k];
        delta.copy_from_slice(&ws.a[last][..m * k]);
        for (row, &y) in delta.chunks_exact_mut(k).zip(labels) {
            row[y as usize] -= 1.0;
        }
        if cost == Cost::Quadratic {
            for (dv, &dz) in delta.iter_mut().zip(&ws.d[last][..m * k]) {
                *dv *= dz;
            }
        }
    }

    /// delta_{l-1} = (delta_l W_l) * act'(z_{l-1}) for the first `m` rows.
    pub fn propagate_delta(&self, net: &Network, ws: &mut Workspace, m: usize, l: usize) {
        let (n_in, n_out) = (net.sizes[l], net.sizes[l + 1]);
        let (lower, upper) = ws.delta.split_at_mut(l);
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
        for (dv, &dz) in below.iter_mut().zip(&ws.d[l - 1][..m * n_in]) {
            *dv *= dz;
        }
    }

    /// Backward pass without updates: every layer's delta for the first `m` rows.
    pub fn backward(&self, net: &Network, ws: &mut Workspace, m: usize, labels: &[u8], cost: Cost) {
        self.output_delta(net, ws, m, labels, cost);
        for l in (1..net.layers()).rev() {
            self.propagate_delta(net, ws, m, l);
        }
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
        let n = net.sizes[l + 1];
        out.fill(0.0);
        for row in ws.delta[l][..m * n].chunks_exact(n) {
            for (o, &v) in out.iter_mut().zip(row) {
                *o += v;
            }
        }
        for o in out.iter_mut() {
            *o *= scale;
        }
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
        self.forward(net, ws, m);
        self.backward(net, ws, m, labels, cost);
        for (l, g) in out.iter_mut().enumerate().take(net.layers()) {
            self.bias_gradient(net, ws, m, l, 1.0 / m as f32, g);
        }
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
        let (n_in, n_out) = (net.sizes[l], net.sizes[l + 1]);
        let input: &[f32] = if l == 0 {
            &ws.x[..m * n_in]
        } else {
            &ws.a[l - 1][..m * n_in]
        };
        self.gemm
            .gemm(
                scale,
                MatRef::row_major(input, m, n_in).expect(SHAPES_AGREE).t(),
                MatRef::row_major(&ws.delta[l][..m * n_out], m, n_out).expect(SHAPES_AGREE),
                0.0,
                MatMut::row_major(out, n_in, n_out).expect(SHAPES_AGREE),
            )
            .expect(SHAPES_AGREE);
    }

    /// One step of the book's SGD on the first `m` rows of `ws.x` with `labels`:
    /// `W <- (1 - eta*lambda/n) W - (eta/m) sum dC/dW`, `b <- b - (eta/m) sum dC/db`.
    ///
    /// Fused: after the forward pass, layers are visited top-down; each one first passes its
    /// error down (with its old weights), then updates itself with one GEMM whose beta is the
    /// decay factor, so no gradient buffer is written or read.
    #[allow(clippy::too_many_arguments)]
    pub fn sgd_step(
        &self,
        net: &mut Network,
        ws: &mut Workspace,
        m: usize,
        labels: &[u8],
        cost: Cost,
        eta: f32,
        lambda: f32,
        n: usize,
    ) {
        self.forward(net, ws, m);
        self.output_delta(net, ws, m, labels, cost);
        let decay = 1.0 - eta * lambda / n as f32;
        let step = eta / m as f32;
        for l in (0..net.layers()).rev() {
            if l > 0 {
                self.propagate_delta(net, ws, m, l);
            }
            let (n_in, n_out) = (net.sizes[l], net.sizes[l + 1]);
            let input: &[f32] = if l == 0 {
                &ws.x[..m * n_in]
            } else {
                &ws.a[l - 1][..m * n_in]
            };
            self.gemm
                .gemm(
                    -step,
                    MatRef::row_major(input, m, n_in).expect(SHAPES_AGREE).t(),
                    MatRef::row_major(&ws.delta[l][..m * n_out], m, n_out).expect(SHAPES_AGREE),
                    decay,
                    MatMut::row_major(&mut net.weights_t[l], n_in, n_out).expect(SHAPES_AGREE),
                )
                .expect(SHAPES_AGREE);
            let mut sum = std::mem::take(&mut ws.scratch);
            self.bias_gradient(net, ws, m, l, 1.0, &mut sum[..n_out]);
            for (bv, &g) in net.biases[l].iter_mut().zip(&sum) {
                *bv -= step * g;
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
