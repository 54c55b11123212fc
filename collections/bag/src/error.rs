//! The error type of `barrow-bag`.
//!
//! Every public function returns [`barrow_core::Error`], the one error a
//! computation gives, so that bag code and the `compute` that follows share
//! one `?`. A [`BagError`] travels inside it as its source, with the kind
//! [`ErrorKind::Io`] for file problems and [`ErrorKind::InvalidArgument`]
//! for the rest; `error.source_as::<BagError>()` recovers the details (the
//! path, the offset).

use std::io;
use std::path::PathBuf;

use barrow_core::{Error, ErrorKind};

/// What went wrong while building, reading or writing a bag.
#[derive(thiserror::Error)]
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
        /// What is wrong with it, and where.
        message: String,
    },
    /// A file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A compressed file is corrupt or truncated.
    #[error(
        "{path} is not valid {compression} data (corrupt or truncated?) near byte {offset} of the file: {source}"
    )]
    Corrupt {
        /// The compressed file.
        path: PathBuf,
        /// The name of its compression (`gzip`, `bz2`, `xz`, `zstd`).
        compression: &'static str,
        /// About how many bytes of the compressed file had been read when
        /// the decoder failed (decoders read ahead, so this is approximate).
        offset: u64,
        /// The decoder's error.
        #[source]
        source: io::Error,
    },
    /// A file in a compression whose codec this build leaves out.
    #[error(
        "{path} is {compression}-compressed, and this build of barrow-bag lacks its `{feature}` \
         feature: enable it (the facade's `compression` feature turns on every codec)"
    )]
    CodecNotBuilt {
        /// The file.
        path: PathBuf,
        /// The name of its compression (`xz`, `zstd`).
        compression: &'static str,
        /// The cargo feature that adds the codec.
        feature: &'static str,
    },
    /// A line is not UTF-8.
    #[error(
        "{path}: the line starting at byte {offset} (of the decompressed text) is not valid UTF-8; read the file as bytes or fix its encoding"
    )]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Where the line starts, in bytes from the start of the
        /// decompressed text.
        offset: u64,
    },
    /// A line longer than `bag.max-line-length`: a file without newlines
    /// (a binary file, `/dev/zero`) would otherwise grow one line until
    /// memory runs out.
    #[error(
        "{path}: the line starting at byte {offset} (of the decompressed text) is longer than \
         bag.max-line-length ({limit} bytes): the file has no newline there (a binary file?); \
         check the file, or raise bag.max-line-length if its lines are that long"
    )]
    LineTooLong {
        /// The file.
        path: PathBuf,
        /// Where the line starts, in bytes from the start of the
        /// decompressed text.
        offset: u64,
        /// The limit, in bytes.
        limit: u64,
    },
    /// A file could not be created or written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file (or a directory that had to be created for it).
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// An unknown compression name.
    #[error("unknown compression {name:?}: use one of none, gzip (gz), bz2, xz, zstd (zst)")]
    UnknownCompression {
        /// The name as given.
        name: String,
    },
    /// A plain path (not a glob pattern) names a directory.
    #[error("{path} is a directory: to read the files in it, use a glob such as {path}/*")]
    IsDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// A block size of zero bytes was asked for.
    #[error(
        "the block size must be at least 1 byte (got 0): give a size such as 64 MiB, or none to read each file as one block"
    )]
    ZeroBlocksize,
    /// An output name pattern has more than one `*`.
    #[error(
        "output name pattern {pattern:?} has {stars} `*`s: use exactly one `*` where the partition number goes (as in out/part-*.txt), or none to name a directory"
    )]
    BadNamePattern {
        /// The pattern as given.
        pattern: String,
        /// How many `*` it has.
        stars: usize,
    },
}

/// Prints what `Display` prints, then the causes (as `anyhow` does).
impl std::fmt::Debug for BagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        barrow_core::error::write_report(self, f)
    }
}

impl BagError {
    /// Turns an I/O error met while reading `path` into a [`BagError`].
    ///
    /// The readers made by
    /// [`Compression::reader`](crate::io::compression::Compression::reader)
    /// fail with an [`io::Error`] that carries the precise [`BagError`]
    /// (such as [`BagError::Corrupt`] with its offset); that error is taken
    /// out as it is. Any other error becomes [`BagError::Read`].
    pub fn from_read_error(path: impl Into<PathBuf>, err: io::Error) -> BagError {
        if !err.get_ref().is_some_and(|inner| inner.is::<BagError>()) {
            return BagError::Read {
                path: path.into(),
                source: err,
            };
        }
        let kind = err.kind();
        // The two fallbacks cannot happen after the `is` check above, but
        // rebuilding an error is cheaper to reason about than a panic.
        match err.into_inner().map(|inner| inner.downcast::<BagError>()) {
            Some(Ok(bag)) => *bag,
            Some(Err(other)) => BagError::Read {
                path: path.into(),
                source: io::Error::new(kind, other),
            },
            None => BagError::Read {
                path: path.into(),
                source: io::Error::from(kind),
            },
        }
    }

    /// Wraps this error in an [`io::Error`], so that it can travel through
    /// a [`std::io::Read`] and be taken out again by
    /// [`BagError::from_read_error`].
    pub(crate) fn into_io(self) -> io::Error {
        let kind = match &self {
            BagError::Read { source, .. } | BagError::Write { source, .. } => source.kind(),
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }

    /// The kind of [`Error`] this becomes.
    pub fn kind(&self) -> ErrorKind {
        match self {
            BagError::NoMatch { .. }
            | BagError::IsDirectory { .. }
            | BagError::Read { .. }
            | BagError::Corrupt { .. }
            | BagError::NotUtf8 { .. }
            | BagError::LineTooLong { .. }
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn read_errors_keep_or_gain_their_path() {
        let plain = io::Error::new(io::ErrorKind::PermissionDenied, "denied");
        match BagError::from_read_error("a.txt", plain) {
            BagError::Read { path, source } => {
                assert_eq!(path, PathBuf::from("a.txt"));
                assert_eq!(source.kind(), io::ErrorKind::PermissionDenied);
            }
            other => panic!("expected Read, got {other:?}"),
        }
        let carried = BagError::NotUtf8 {
            path: "b.txt".into(),
            offset: 7,
        }
        .into_io();
        assert_eq!(carried.kind(), io::ErrorKind::InvalidData);
        let back = BagError::from_read_error("elsewhere", carried);
        assert!(
            matches!(back, BagError::NotUtf8 { offset: 7, path } if path == Path::new("b.txt"))
        );
    }
}
