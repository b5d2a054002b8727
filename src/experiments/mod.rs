//! Chapter 5's measurements (and what the suite adds beyond the book), organised as a list of
//! independent, deterministic work items. A run computes items (all of them, or one shard's
//! slice) into [`ItemResult`]s; `summary` aggregates them (and `crate::report` writes the result), so
//! shards merged give exactly what one run gives.

pub mod arithmetic;
pub mod compare;
pub mod items;
pub mod run;
pub mod speed;
pub mod summary;

pub use items::{Item, ItemResult, Part, Plan, Settings};
