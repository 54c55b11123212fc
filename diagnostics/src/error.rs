//! The crate's one error type.

use std::path::{Path, PathBuf};

/// What went wrong in a diagnostics call; the message says where and what
/// to do, [`Error::kind`] is for branching on.
///
/// ```
/// use barrow_diagnostics::{ErrorKind, Format, render};
///
/// // The folder does not exist: the error names the file.
/// let err = render("digraph { a }", Format::Dot, "/no/such/folder/graph.dot").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Io);
/// assert!(err.to_string().contains("/no/such/folder/graph.dot"));
/// assert!(err.path().is_some());
/// ```
#[derive(thiserror::Error)]
#[error(transparent)]
pub struct Error(Box<Repr>);

/// Prints what `Display` prints, then the causes (as `anyhow` does);
/// `{:#?}` shows the fields.
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if f.alternate() {
            return f
                .debug_struct("Error")
                .field("kind", &self.0.kind)
                .field("message", &self.0.message)
                .field("path", &self.0.path)
                .field("source", &self.0.source)
                .finish();
        }
        barrow_core::error::write_report(self, f)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct Repr {
    kind: ErrorKind,
    message: String,
    path: Option<PathBuf>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The kinds of [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file could not be written (or a temporary file read back).
    Io,
    /// The Graphviz `dot` program is not installed or cannot be started.
    GraphvizMissing,
    /// `dot` ran and failed.
    Graphviz,
    /// A graph is too large to draw within the limit.
    TooLarge,
    /// An output format was not recognised.
    Format,
    /// The collection to draw could not give its graph (an inconsistent
    /// graph, reported as it would be by `compute`).
    Graph,
    /// Something that should not happen: a Barrow bug, please report it.
    Internal,
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error(Box::new(Repr {
            kind,
            message: message.into(),
            path: None,
            source: None,
        }))
    }

    pub(crate) fn with_path(mut self, path: &Path) -> Error {
        self.0.path = Some(path.to_path_buf());
        self
    }

    pub(crate) fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        self.0.source = Some(source.into());
        self
    }

    /// An error writing `path`.
    pub(crate) fn write(path: &Path, what: &str, error: std::io::Error) -> Error {
        Error::new(
            ErrorKind::Io,
            format!(
                "cannot write the {what} to {}: {error}; check that its folder exists and is \
                 writable",
                path.display()
            ),
        )
        .with_path(path)
        .with_source(error)
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The file the error is about, if any.
    pub fn path(&self) -> Option<&Path> {
        self.0.path.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_the_message_then_the_cause() {
        let io = std::io::Error::other("no space left on device");
        let err = Error::new(ErrorKind::Io, "cannot write the profile to out.html").with_source(io);
        assert_eq!(
            format!("{err:?}"),
            "cannot write the profile to out.html\n\nCaused by:\n    no space left on device"
        );
    }
}
