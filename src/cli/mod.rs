//! The command line's newer subcommands, each in its own file (the older ones still live in
//! `main.rs`): argument parsing, calling the library, printing.

pub mod bench;
pub mod machines;
pub mod perf_gate;
