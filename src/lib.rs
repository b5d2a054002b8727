//! # vanishing
//!
//! A SIMD-optimised CPU benchmark suite around chapter 5 of Michael Nielsen's *Neural Networks
//! and Deep Learning* ("Why are deep neural networks hard to train?").
//!
//! Architecture (dependencies point one way: kernels <- gemm <- the rest):
//! - [`error`]: the one error type.
//! - [`cpu`]: CPU name, cache sizes, logical CPU count.
//! - [`isa`]: kernel-family selection, once per process, with the `VANISHING_ISA` override.
//! - [`kernels`]: the only code using `core::arch` or raw-pointer reads: one file per ISA
//!   (`scalar.rs` always built) plus the portable packing routines.
//! - [`gemm`]: the blocked SGEMM driver (packing, loop nest, threading) and its safe API.
//! - [`activation`]: sigmoid/tanh/ReLU and derivatives, the fused bias + activation pass.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod activation;
pub mod cpu;
pub mod data;
pub mod error;
pub mod experiments;
pub mod gemm;
pub mod isa;
pub mod kernels;
pub mod meta;
pub mod nn;
pub mod perf;
pub mod report;

pub use error::{Error, Result};
