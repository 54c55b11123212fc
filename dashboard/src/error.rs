//! The crate's one error type.

use std::io;

/// Why a dashboard could not be served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The address is not `host:port`, or names no host this machine can
    /// resolve.
    #[error(
        "the dashboard's address `{address}` is not usable: {reason}; give `host:port`, such as 127.0.0.1:8787 (port 0 picks any free port)"
    )]
    Address {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Listening on the address failed.
    #[error("the dashboard cannot listen on {address}: {source}; {hint}")]
    Bind {
        /// The address as given.
        address: String,
        /// What the system said.
        source: io::Error,
        /// What to do about it.
        hint: &'static str,
    },

    /// The address is not a loopback one and no token was given: anyone on
    /// the network could watch (and, through task keys and errors, read
    /// about) the computation.
    #[error(
        "the dashboard is to listen on {address}, which other machines can reach, and so needs a token: set ServeOptions::token (the cluster's token), or listen on 127.0.0.1"
    )]
    TokenRequired {
        /// The address as given.
        address: String,
    },

    /// The server's thread or runtime could not be started.
    #[error("the dashboard's server could not start: {0}")]
    Start(#[source] io::Error),
}

impl Error {
    /// A bind failure with advice fitting its cause.
    pub(crate) fn bind(address: &str, source: io::Error) -> Error {
        let hint = match source.kind() {
            io::ErrorKind::AddrInUse => {
                "the port is in use: pick another port, or port 0 for any free one"
            }
            io::ErrorKind::PermissionDenied => {
                "ports below 1024 need privileges: pick a port above 1024, or port 0 for any free one"
            }
            io::ErrorKind::AddrNotAvailable => {
                "that address is not one of this machine's: use 127.0.0.1, or 0.0.0.0 for every interface"
            }
            _ => "check the address, or use port 0 for any free port",
        };
        Error::Bind {
            address: address.to_owned(),
            source,
            hint,
        }
    }
}

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// So that `?` works in code returning Barrow's own errors: a bad address
/// or a missing token is a configuration error, the rest input/output.
impl From<Error> for barrow_core::Error {
    fn from(error: Error) -> barrow_core::Error {
        let kind = match &error {
            Error::Address { .. } | Error::TokenRequired { .. } => barrow_core::ErrorKind::Config,
            Error::Bind { .. } | Error::Start(_) => barrow_core::ErrorKind::Io,
        };
        barrow_core::Error::new(kind, error.to_string()).with_source(error)
    }
}
