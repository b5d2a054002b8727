//! The crate's one error type. Every variant names what mismatched and carries the values involved,
//! so a message can say what is wrong and what to do about it.

use std::path::PathBuf;

/// Errors returned by the safe APIs, the data loader and the command-line front end.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Two operands of a matrix operation have incompatible shapes.
    #[error("{op}: shape mismatch: {what} ({left_name} is {left:?}, {right_name} is {right:?})")]
    ShapeMismatch {
        op: &'static str,
        what: &'static str,
        left_name: &'static str,
        left: (usize, usize),
        right_name: &'static str,
        right: (usize, usize),
    },
    /// A matrix view reaches past the end of its slice.
    #[error("{name}: a {rows}x{cols} view with strides ({rs}, {cs}) needs {needed} elements, but the slice holds {len}")]
    BufferTooSmall {
        name: &'static str,
        rows: usize,
        cols: usize,
        rs: usize,
        cs: usize,
        needed: usize,
        len: usize,
    },
    /// A mutable view whose strides make two cells share one element.
    #[error("{name}: strides ({rs}, {cs}) make cells of the {rows}x{cols} view overlap; an output view needs distinct cells")]
    OverlappingView {
        name: &'static str,
        rows: usize,
        cols: usize,
        rs: usize,
        cs: usize,
    },
    /// A slice length does not match the length an operation needs.
    #[error("{what}: expected length {expected}, got {got}")]
    LengthMismatch {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// An ISA name that this build does not know, or that this CPU lacks.
    #[error("ISA '{requested}' is {reason}; available here: {available}")]
    UnknownIsa {
        requested: String,
        reason: &'static str,
        available: String,
    },
    /// A data file is missing, unreadable or corrupt.
    #[error("{path}: {problem}. {advice}")]
    Data {
        path: PathBuf,
        problem: String,
        advice: &'static str,
    },
    /// A configuration value is out of range or malformed.
    #[error("invalid {what}: {problem}")]
    Invalid { what: &'static str, problem: String },
    /// An I/O failure while writing results.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// Shorthand for results carrying [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
