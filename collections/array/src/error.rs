//! The error type of `barrow-array`.
//!
//! Public functions return [`barrow_core::Error`], the one error a
//! computation gives, so that array code and the `compute` that follows
//! share one `?`. An [`ArrayError`] travels inside it as its source, with the
//! kind [`ErrorKind::Io`] for file problems and [`ErrorKind::InvalidArgument`]
//! for the rest; `error.source_as::<ArrayError>()` recovers the details.

use std::path::PathBuf;

use barrow_core::{Error, ErrorKind};

/// What went wrong while building, computing, reading or writing an array.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArrayError {
    /// Shapes that do not broadcast together.
    #[error(
        "operands could not be broadcast together with shapes {left:?} and {right:?} \
         (axis {axis} from the end has {left_len} and {right_len}; each axis must be equal \
         or 1 in one of them)"
    )]
    Broadcast {
        /// The first shape.
        left: Vec<usize>,
        /// The second shape.
        right: Vec<usize>,
        /// The axis that disagrees, counted from the last (0 = last).
        axis: usize,
        /// Its length in the first shape.
        left_len: usize,
        /// Its length in the second shape.
        right_len: usize,
    },
    /// Two arrays that must have the same shape do not.
    #[error("cannot {operation} arrays of shapes {left:?} and {right:?}: {hint}")]
    ShapeMismatch {
        /// The operation.
        operation: &'static str,
        /// The first shape.
        left: Vec<usize>,
        /// The second shape.
        right: Vec<usize>,
        /// What to do.
        hint: String,
    },
    /// An axis number past the array's dimensions.
    #[error("axis {axis} is out of range for an array of {ndim} dimensions (shape {shape:?})")]
    AxisOutOfRange {
        /// The axis given.
        axis: isize,
        /// The array's dimensions.
        ndim: usize,
        /// The array's shape.
        shape: Vec<usize>,
    },
    /// The same axis named twice.
    #[error("axis {axis} is repeated in {axes:?}: name each axis once")]
    RepeatedAxis {
        /// The repeated axis.
        axis: usize,
        /// All axes given.
        axes: Vec<usize>,
    },
    /// An index or slice outside the array.
    #[error("{message}")]
    OutOfRange {
        /// What was out of range, where, and the valid range.
        message: String,
    },
    /// Any other bad argument.
    #[error("{message}")]
    InvalidArgument {
        /// What was wrong and what to do.
        message: String,
    },
    /// A block of an unexpected shape reached a task: a `map_blocks` or
    /// `from_fn` function returned the wrong shape.
    #[error(
        "block {block:?} of {name} has shape {actual:?} but the array's chunks say {expected:?}: \
         {hint}"
    )]
    BlockShape {
        /// The array's name.
        name: String,
        /// The block index.
        block: Vec<usize>,
        /// The shape the chunks promise.
        expected: Vec<usize>,
        /// The shape the function returned.
        actual: Vec<usize>,
        /// What to do.
        hint: &'static str,
    },
    /// A reduction with nothing to reduce and no identity (min of an empty
    /// array, the mean of no elements).
    #[error("{operation} of an empty array (shape {shape:?}) has no value: {hint}")]
    EmptyReduction {
        /// The reduction.
        operation: &'static str,
        /// The shape of the array.
        shape: Vec<usize>,
        /// What to do.
        hint: &'static str,
    },
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    File {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl ArrayError {
    /// The [`ErrorKind`] this error travels under.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ArrayError::File { .. } => ErrorKind::Io,
            _ => ErrorKind::InvalidArgument,
        }
    }
}

impl From<ArrayError> for Error {
    fn from(error: ArrayError) -> Error {
        Error::new(error.kind(), error.to_string()).with_source(error)
    }
}

/// An [`ArrayError::InvalidArgument`] as an [`Error`].
pub(crate) fn invalid(message: impl Into<String>) -> Error {
    ArrayError::InvalidArgument {
        message: message.into(),
    }
    .into()
}
