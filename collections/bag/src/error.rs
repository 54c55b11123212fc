//! The error type of `barrow-bag`.
//!
//! Every public function returns [`barrow_core::Error`], the one error a
//! computation gives, so that bag code and the `compute` that follows share
//! one `?`. A [`BagError`] travels inside it as its source, with the kind
//! [`ErrorKind::Io`] for file problems and [`ErrorKind::InvalidArgument`]
//! for the rest; `error.source_as::<BagError>()` recovers the details (the
//! path, the offset).

use std::path::PathBuf;

use barrow_core::{Error, ErrorKind};

/// What went wrong while building, reading or writing a bag.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BagError {
    /// A partition count or size of zero.
    #[error("{what} must be at least 1, got 0")]
    ZeroPartitions {
        /// The argument (`npartitions`, `partition_size`, `blocksize`).
        what: &'static str,
    },
    /// An argument out of its range.
    #[error("{message}")]
    InvalidArgument {
        /// What was wrong and what to do.
        message: String,
    },
    /// Two bags that must be partitioned alike are not.
    #[error(
        "cannot {operation} a bag of {left} partitions with a bag of {right}: repartition one \
         of them first (bag.repartition({left}))"
    )]
    PartitionMismatch {
        /// The operation (`zip`).
        operation: &'static str,
        /// Partitions of the first bag.
        left: usize,
        /// Partitions of the second bag.
        right: usize,
    },
    /// Two partitions zipped together have different lengths.
    #[error(
        "partition {partition} of the zipped bags has {left} elements on the left and {right} \
         on the right: zip needs equally long partitions (build both bags the same way, or \
         repartition one by the other's lengths)"
    )]
    LengthMismatch {
        /// The partition index.
        partition: usize,
        /// Elements on the left.
        left: usize,
        /// Elements on the right.
        right: usize,
    },
    /// No file matches a path or glob pattern.
    #[error(
        "no file matches {pattern:?}: check the path (patterns use glob syntax: *, ?, [..], **)"
    )]
    NoMatch {
        /// The pattern as given.
        pattern: String,
    },
    /// A glob pattern is malformed.
    #[error("invalid glob pattern {pattern:?}: {message}")]
    BadPattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A compressed file is corrupt or truncated.
    #[error(
        "{path} is not valid {compression} data (corrupt or truncated?) near byte {offset} of \
         the file: {source}"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The compression it was read with.
        compression: &'static str,
        /// How far into the (compressed) file the error was met.
        offset: u64,
        /// The decoder's error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not UTF-8.
    #[error(
        "{path}: the line starting at byte {offset} (of the decompressed text) is not valid \
         UTF-8; fix the file's encoding or read it with another reader"
    )]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Offset of the line in the decompressed text.
        offset: u64,
    },
    /// A file could not be created or written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's or encoder's error.
        #[source]
        source: std::io::Error,
    },
    /// An unknown compression name.
    #[error("unknown compression {name:?}: use one of none, gzip (gz), bz2, xz, zstd (zst)")]
    UnknownCompression {
        /// The name as given.
        name: String,
    },
}

impl BagError {
    /// The kind of [`Error`] this becomes.
    pub fn kind(&self) -> ErrorKind {
        match self {
            BagError::NoMatch { .. }
            | BagError::Read { .. }
            | BagError::Corrupt { .. }
            | BagError::NotUtf8 { .. }
            | BagError::Write { .. } => ErrorKind::Io,
            _ => ErrorKind::InvalidArgument,
        }
    }
}

impl From<BagError> for Error {
    fn from(error: BagError) -> Error {
        Error::new(error.kind(), error.to_string()).with_source(error)
    }
}

/// A [`BagError::InvalidArgument`] as an [`Error`].
pub(crate) fn invalid(message: impl Into<String>) -> Error {
    BagError::InvalidArgument {
        message: message.into(),
    }
    .into()
}
