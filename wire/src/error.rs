//! The error type of `barrow-wire`.

use std::fmt;

/// A boxed error from another crate, kept as the `source()`.
type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bytes end before the frame does (a short read, a cut-off file).
    Truncated,
    /// The bytes do not start with the frame's magic bytes: not a Barrow
    /// frame at all.
    NotAFrame,
    /// The frame was written by a newer (or unknown) format version.
    UnsupportedVersion,
    /// The frame is compressed with a kind this build cannot read (unknown,
    /// or zstd without the `zstd` feature).
    UnsupportedCompression,
    /// The frame is damaged: checksum mismatch, inconsistent lengths, bytes
    /// after its end, a reserved field set, or compressed data that does not
    /// decompress.
    Corrupt,
    /// No codec encodes the value, or none is registered under the frame's
    /// tag.
    NoCodec,
    /// A codec failed to encode or decode its payload.
    Codec,
    /// A length does not fit this machine, or memory for it cannot be had.
    TooLarge,
    /// Reading from or writing to a connection failed, or the peer closed it.
    Io,
    /// A message is well formed but out of place, or its body does not
    /// decode as the message its kind names.
    Protocol,
    /// The peer is not one this process may work with: another wire
    /// version, another build, not a Barrow program, a wrong token.
    Handshake,
}

/// The error of `barrow-wire`: what is wrong with a frame or a value, and
/// for a decoding error, what to check.
///
/// It converts into [`barrow_core::Error`] with kind
/// [`barrow_core::ErrorKind::Codec`] (this error as its `source()`), so `?`
/// works in code returning core's `Result`.
#[derive(thiserror::Error)]
#[error(transparent)]
pub struct Error(Box<Repr>);

struct Repr {
    kind: ErrorKind,
    message: String,
    tag: Option<String>,
    source: Option<BoxError>,
}

impl Error {
    /// A new error of `kind` with a message saying what was wrong.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error(Box::new(Repr {
            kind,
            message: message.into(),
            tag: None,
            source: None,
        }))
    }

    /// A frame that is damaged, with `what` saying how.
    pub(crate) fn corrupt(what: impl fmt::Display) -> Error {
        Error::new(
            ErrorKind::Corrupt,
            format!("corrupt frame: {what}; the bytes were damaged after they were written"),
        )
    }

    /// Attaches the original error.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Error {
        self.0.source = Some(source.into());
        self
    }

    /// Attaches the codec tag concerned.
    pub(crate) fn with_tag(mut self, tag: &str) -> Error {
        self.0.tag = Some(tag.to_owned());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The codec tag concerned, when known.
    pub fn tag(&self) -> Option<&str> {
        self.0.tag.as_deref()
    }
}

impl From<Error> for barrow_core::Error {
    fn from(error: Error) -> barrow_core::Error {
        let kind = match error.kind() {
            // Only connections to other processes read or write.
            ErrorKind::Io | ErrorKind::Protocol | ErrorKind::Handshake => {
                barrow_core::ErrorKind::Worker
            }
            _ => barrow_core::ErrorKind::Codec,
        };
        barrow_core::Error::new(kind, error.to_string()).with_source(error)
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("tag", &self.tag)
            .field("source", &self.source)
            .finish()
    }
}

/// Prints what `Display` prints, then the causes (as `anyhow` does);
/// `{:#?}` shows the fields.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            return fmt::Debug::fmt(&self.0, f);
        }
        barrow_core::error::write_report(self, f)
    }
}

impl std::error::Error for Repr {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
