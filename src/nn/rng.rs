//! Seeded, portable randomness: ChaCha8 (same stream on every platform and rand version that
//! keeps `rand_chacha`'s algorithm) and a Box-Muller normal sampler written here, so a seed
//! always gives the same network.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Standard normal samples from a seeded ChaCha8 stream.
pub struct Normal {
    rng: ChaCha8Rng,
    spare: Option<f32>,
}

impl Normal {
    pub fn new(seed: u64) -> Normal {
        Normal {
            rng: ChaCha8Rng::seed_from_u64(seed),
            spare: None,
        }
    }

    /// One N(0, 1) sample (Box-Muller in f64, both values of each pair used).
    pub fn sample(&mut self) -> f32 {
        if let Some(v) = self.spare.take() {
            return v;
        }
        // u1 in (0, 1] so ln(u1) is finite. ln, sin and cos come from the `libm` crate (plain
        // Rust), not the C library, whose results may differ in the last bit between versions
        // and CPUs: the same seed must give the same weights everywhere.
        let u1 = 1.0 - self.rng.random::<f64>();
        let u2 = self.rng.random::<f64>();
        let r = (-2.0 * libm::log(u1)).sqrt();
        let (s, c) = libm::sincos(std::f64::consts::TAU * u2);
        self.spare = Some((r * s) as f32);
        (r * c) as f32
    }
}

impl Normal {
    /// One U[-1, 1) sample from the same stream (53 random bits, exact in f64, then rounded
    /// to f32 once).
    pub fn uniform_sym(&mut self) -> f32 {
        (2.0 * self.rng.random::<f64>() - 1.0) as f32
    }
}

/// A seeded shuffler for the per-epoch permutation of the training set.
pub struct Shuffler {
    rng: ChaCha8Rng,
}

impl Shuffler {
    /// Uses a stream independent of the initialisation's (stream 1 of the same seed).
    pub fn new(seed: u64) -> Shuffler {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(1);
        Shuffler { rng }
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle(&mut self, v: &mut [u32]) {
        for i in (1..v.len()).rev() {
            let j = self.rng.random_range(0..=i);
            v.swap(i, j);
        }
    }
}
