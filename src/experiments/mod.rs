//! Chapter 5's measurements (and what the suite adds beyond the book), organised as a list of
//! independent, deterministic work items. A run computes items (all of them, or one shard's
//! slice) into [`ItemResult`]s; the report (`crate::report::chapter5`) aggregates them, so
//! shards merged give exactly what one run gives.

pub mod arithmetic;
pub mod compare;
pub mod items;
pub mod run;
pub mod speed;

pub use items::{Item, ItemResult, Part, Plan, Settings};

/// The book's numbers, from `shared/reference/chapter5.md`.
pub mod book {
    /// Measurement 1: validation accuracy (%) of [784,30,10] .. [784,30,30,30,30,10].
    pub const ACCURACY: [f64; 4] = [96.48, 96.90, 96.57, 96.53];
    /// Measurement 2: initial speed of each hidden layer, for 2, 3 and 4 hidden layers.
    pub const INITIAL_SPEEDS: [&[f64]; 3] = [
        &[0.0657, 0.3092],
        &[0.01184, 0.05997, 0.2831],
        &[0.002975, 0.01708, 0.06954, 0.2851],
    ];
    /// Chapter 3: [784,100,10], large init, 60 epochs, eta 0.1.
    pub const BETTER_98: f64 = 98.04;
    /// The exercise: the width is largest at |w| ~ 6.894, where it is ~ 0.4477.
    pub const EXERCISE_W: f64 = 6.894;
    pub const EXERCISE_WIDTH: f64 = 0.4477;
}
