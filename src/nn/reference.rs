//! The test oracle: the book's network2 written plainly, per example, in f64. Slow and obvious
//! on purpose; the batched f32 engine is tested against it.

use super::{Activation, Cost, Network};

fn act(a: Activation, z: f64) -> f64 {
    match a {
        Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
        Activation::Tanh => z.tanh(),
        Activation::Relu => z.max(0.0),
        Activation::Softsign => z / (1.0 + z.abs()),
    }
}

fn act_prime(a: Activation, z: f64) -> f64 {
    match a {
        Activation::Sigmoid => {
            let s = act(a, z);
            s * (1.0 - s)
        }
        Activation::Tanh => 1.0 - z.tanh().powi(2),
        Activation::Relu => {
            if z > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Activation::Softsign => 1.0 / (1.0 + z.abs()).powi(2),
    }
}

/// An f64 copy of a network, with the book's `W[l][out][in]` layout.
#[derive(Clone, Debug)]
pub struct RefNet {
    pub sizes: Vec<usize>,
    pub hidden: Activation,
    /// `w[l][o][i]`.
    pub w: Vec<Vec<Vec<f64>>>,
    pub b: Vec<Vec<f64>>,
}

/// Per-layer gradients in the book's layout.
#[derive(Clone, Debug)]
pub struct RefGrad {
    pub w: Vec<Vec<Vec<f64>>>,
    pub b: Vec<Vec<f64>>,
}

impl RefNet {
    /// Copies a network's parameters.
    pub fn from_network(net: &Network) -> RefNet {
        let w = (0..net.layers())
            .map(|l| {
                (0..net.sizes[l + 1])
                    .map(|o| {
                        (0..net.sizes[l])
                            .map(|i| net.weight(l, o, i) as f64)
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let b = net
            .biases
            .iter()
            .map(|b| b.iter().map(|&v| v as f64).collect())
            .collect();
        RefNet {
            sizes: net.sizes.clone(),
            hidden: net.hidden,
            w,
            b,
        }
    }

    fn layer_act(&self, l: usize) -> Activation {
        if l + 2 == self.sizes.len() {
            Activation::Sigmoid
        } else {
            self.hidden
        }
    }

    /// Pre-activations and activations of every layer (activations[0] is the input).
    fn feed(&self, x: &[f64]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let mut acts = vec![x.to_vec()];
        let mut zs = Vec::new();
        for l in 0..self.w.len() {
            let z: Vec<f64> = self.w[l]
                .iter()
                .zip(&self.b[l])
                .map(|(row, b)| row.iter().zip(&acts[l]).map(|(w, a)| w * a).sum::<f64>() + b)
                .collect();
            acts.push(z.iter().map(|&v| act(self.layer_act(l), v)).collect());
            zs.push(z);
        }
        (zs, acts)
    }

    /// The network's output for one input.
    pub fn output(&self, x: &[f64]) -> Vec<f64> {
        self.feed(x).1.pop().unwrap_or_default()
    }

    /// The cost of one example (unregularised).
    pub fn cost(&self, x: &[f64], label: u8, cost: Cost) -> f64 {
        let a = self.output(x);
        a.iter()
            .enumerate()
            .map(|(j, &aj)| {
                let y = if j == label as usize { 1.0 } else { 0.0 };
                match cost {
                    Cost::CrossEntropy => -(y * aj.ln() + (1.0 - y) * (1.0 - aj).ln()),
                    Cost::Quadratic => 0.5 * (aj - y) * (aj - y),
                }
            })
            .sum()
    }

    /// Backpropagation for one example (the book's `backprop`).
    pub fn backprop(&self, x: &[f64], label: u8, cost: Cost) -> RefGrad {
        let (zs, acts) = self.feed(x);
        let layers = self.w.len();
        let mut gw: Vec<Vec<Vec<f64>>> = self
            .w
            .iter()
            .map(|l| l.iter().map(|r| vec![0.0; r.len()]).collect())
            .collect();
        let mut gb: Vec<Vec<f64>> = self.b.iter().map(|b| vec![0.0; b.len()]).collect();
        let out = &acts[layers];
        let mut delta: Vec<f64> = out
            .iter()
            .enumerate()
            .map(|(j, &a)| {
                let y = if j == label as usize { 1.0 } else { 0.0 };
                match cost {
                    Cost::CrossEntropy => a - y,
                    Cost::Quadratic => (a - y) * act_prime(Activation::Sigmoid, zs[layers - 1][j]),
                }
            })
            .collect();
        for l in (0..layers).rev() {
            for (o, &d) in delta.iter().enumerate() {
                gb[l][o] = d;
                for (i, &a) in acts[l].iter().enumerate() {
                    gw[l][o][i] = d * a;
                }
            }
            if l > 0 {
                delta = (0..self.sizes[l])
                    .map(|i| {
                        delta
                            .iter()
                            .enumerate()
                            .map(|(o, &d)| self.w[l][o][i] * d)
                            .sum::<f64>()
                            * act_prime(self.layer_act(l - 1), zs[l - 1][i])
                    })
                    .collect();
            }
        }
        RefGrad { w: gw, b: gb }
    }

    /// Gradient of the cost averaged over a batch (`xs` holds one input per example).
    pub fn mean_gradient(&self, xs: &[Vec<f64>], labels: &[u8], cost: Cost) -> RefGrad {
        let mut sum = self.backprop(&xs[0], labels[0], cost);
        for (x, &y) in xs.iter().zip(labels).skip(1) {
            let g = self.backprop(x, y, cost);
            for l in 0..sum.w.len() {
                for (so, go) in sum.w[l].iter_mut().zip(&g.w[l]) {
                    for (s, v) in so.iter_mut().zip(go) {
                        *s += v;
                    }
                }
                for (s, v) in sum.b[l].iter_mut().zip(&g.b[l]) {
                    *s += v;
                }
            }
        }
        let m = xs.len() as f64;
        for l in 0..sum.w.len() {
            sum.w[l].iter_mut().flatten().for_each(|v| *v /= m);
            sum.b[l].iter_mut().for_each(|v| *v /= m);
        }
        sum
    }

    /// Zero velocities (in [`RefGrad`]'s layout) for momentum-based SGD.
    pub fn zero_velocity(&self) -> RefGrad {
        RefGrad {
            w: self
                .w
                .iter()
                .map(|l| l.iter().map(|o| vec![0.0; o.len()]).collect())
                .collect(),
            b: self.b.iter().map(|l| vec![0.0; l.len()]).collect(),
        }
    }

    /// Momentum-based SGD, the book's chapter 3 form with weight decay as in
    /// [`RefNet::sgd_step`]: `v <- mu*v - eta*g`, `w <- decay*w + v`, `b <- b + v_b`.
    #[allow(clippy::too_many_arguments)]
    pub fn sgd_step_momentum(
        &mut self,
        vel: &mut RefGrad,
        xs: &[Vec<f64>],
        labels: &[u8],
        cost: Cost,
        eta: f64,
        lambda: f64,
        n: usize,
        mu: f64,
    ) {
        let g = self.mean_gradient(xs, labels, cost);
        let decay = 1.0 - eta * lambda / n as f64;
        for l in 0..self.w.len() {
            for ((wo, vo), go) in self.w[l].iter_mut().zip(&mut vel.w[l]).zip(&g.w[l]) {
                for ((w, v), gv) in wo.iter_mut().zip(vo.iter_mut()).zip(go) {
                    *v = mu * *v - eta * gv;
                    *w = decay * *w + *v;
                }
            }
            for ((b, v), gv) in self.b[l].iter_mut().zip(&mut vel.b[l]).zip(&g.b[l]) {
                *v = mu * *v - eta * gv;
                *b += *v;
            }
        }
    }

    /// The book's `update_mini_batch`.
    pub fn sgd_step(
        &mut self,
        xs: &[Vec<f64>],
        labels: &[u8],
        cost: Cost,
        eta: f64,
        lambda: f64,
        n: usize,
    ) {
        let g = self.mean_gradient(xs, labels, cost);
        let decay = 1.0 - eta * lambda / n as f64;
        for l in 0..self.w.len() {
            for (wo, go) in self.w[l].iter_mut().zip(&g.w[l]) {
                for (w, gv) in wo.iter_mut().zip(go) {
                    *w = decay * *w - eta * gv;
                }
            }
            for (b, gv) in self.b[l].iter_mut().zip(&g.b[l]) {
                *b -= eta * gv;
            }
        }
    }
}
