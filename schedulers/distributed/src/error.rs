//! The error type of `barrow-distributed`: what went wrong with a
//! connection, a handshake or a message. Everything a user calls returns
//! [`barrow_core::Result`]; this error converts into it (kind
//! [`barrow_core::ErrorKind::Comm`], this error as the source).

use std::fmt;

/// A boxed error from another crate, kept as the `source()`.
type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An address does not parse (`tcp://host:port`, `tls://host:port`).
    Address,
    /// Nothing answered at an address within the connect timeout.
    Connect,
    /// The peer is not one to work with: a wrong token, another version of
    /// Barrow, another role than expected.
    Handshake,
    /// The peer sent something that is not a message of the protocol.
    Protocol,
    /// The connection closed or broke.
    Closed,
    /// The process ran out of a system resource (file descriptors).
    Limit,
    /// A setting is invalid (a certificate file that cannot be read, too).
    Config,
    /// TLS refused the connection: a certificate the other side does not
    /// trust (or none), a peer that does not speak TLS, or an unencrypted
    /// address where `distributed.comm.require-encryption` is true.
    Tls,
}

/// The error of `barrow-distributed`'s connections: what was wrong, with
/// which address or peer, and what to do.
#[derive(thiserror::Error)]
#[error(transparent)]
pub struct Error(Box<Repr>);

#[derive(thiserror::Error)]
#[error("{message}")]
struct Repr {
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<BoxError>,
}

impl Error {
    /// A new error of `kind` saying what was wrong and what to do.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error(Box::new(Repr {
            kind,
            message: message.into(),
            source: None,
        }))
    }

    /// Attaches the original error.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Error {
        self.0.source = Some(source.into());
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

    /// The same error with `context` before its message ("connecting to
    /// the scheduler at tcp://…: ").
    pub(crate) fn context(mut self, context: impl fmt::Display) -> Error {
        self.0.message = format!("{context}: {}", self.0.message);
        self
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:?})", self.0.message, self.0.kind)?;
        if let Some(source) = &self.0.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<Error> for barrow_core::Error {
    fn from(error: Error) -> barrow_core::Error {
        let kind = match error.kind() {
            ErrorKind::Config | ErrorKind::Address => barrow_core::ErrorKind::Config,
            _ => barrow_core::ErrorKind::Comm,
        };
        barrow_core::Error::new(kind, error.message().to_owned()).with_source(error)
    }
}

impl From<barrow_wire::Error> for Error {
    fn from(error: barrow_wire::Error) -> Error {
        let kind = match error.kind() {
            barrow_wire::ErrorKind::Io => ErrorKind::Closed,
            barrow_wire::ErrorKind::Handshake => ErrorKind::Handshake,
            _ => ErrorKind::Protocol,
        };
        Error::new(kind, error.to_string()).with_source(error)
    }
}

impl From<barrow_config::Error> for Error {
    fn from(error: barrow_config::Error) -> Error {
        Error::new(ErrorKind::Config, error.to_string()).with_source(error)
    }
}
