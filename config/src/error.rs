//! The error type of `barrow-config`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::value::{Origin, Value};
use crate::yaml::Position;

/// A boxed error from the standard library or another crate, kept as the
/// `source()`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A value does not fit its key's declared type or range.
    BadValue,
    /// A key is not usable as asked: not a well-formed key (an empty
    /// segment), [`Snapshot::lookup`](crate::Snapshot::lookup) of a key
    /// nobody declared, or a typed read of a key nobody sets that looks like
    /// a typo of a declared one (`num-worker`). Keys nobody declared are
    /// otherwise kept, with a warning.
    UnknownKey,
    /// A getter asked for a Rust type that the key's declared type cannot
    /// give (a programming error, not a user's).
    WrongType,
    /// A configuration file is not valid YAML or not a mapping of keys.
    Syntax,
    /// A file or directory could not be read or written.
    Io,
    /// A key declaration (built-in or registered) is invalid or conflicts
    /// with another.
    Declaration,
    /// A text is not a valid byte size or duration.
    Parse,
    /// A file or variable gives one key twice (in one spelling or two), or
    /// gives a key a value and keys inside it: one would silently replace
    /// the other.
    DuplicateKey,
    /// A file or variable is past a limit: its size, its nesting, or the
    /// values its aliases expand to.
    TooLarge,
}

/// The error of `barrow-config`: what was wrong, where (key, file, line,
/// layer) and what was expected.
///
/// ```
/// use barrow_config::{ErrorKind, Sandbox};
///
/// let mut sandbox = Sandbox::new()?;
/// sandbox.set_env("BARROW_ARRAY__CHUNK_SIZE", "12 lots");
/// let snapshot = sandbox.config().snapshot()?;
/// let err = snapshot.get::<barrow_config::ByteSize>("array.chunk-size").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::BadValue);
/// assert_eq!(err.key(), Some("array.chunk-size"));
/// assert_eq!(err.origin().and_then(|o| o.env_var()), Some("BARROW_ARRAY__CHUNK_SIZE"));
/// assert_eq!(
///     err.to_string(),
///     r#"array.chunk-size = "12 lots" (from BARROW_ARRAY__CHUNK_SIZE): expected a byte size such as "64MiB""#
/// );
/// # Ok::<(), barrow_config::Error>(())
/// ```
#[derive(thiserror::Error)]
#[error(transparent)]
pub struct Error(Box<Repr>);

#[derive(thiserror::Error)]
#[error("{message}")]
struct Repr {
    kind: ErrorKind,
    message: String,
    key: Option<String>,
    value: Option<Value>,
    origin: Option<Origin>,
    path: Option<PathBuf>,
    line: Option<usize>,
    expected: Option<String>,
    suggestion: Option<String>,
    #[source]
    source: Option<BoxError>,
}

impl Error {
    /// A new error of `kind` with a message saying what was wrong and what to do.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error(Box::new(Repr {
            kind,
            message: message.into(),
            key: None,
            value: None,
            origin: None,
            path: None,
            line: None,
            expected: None,
            suggestion: None,
            source: None,
        }))
    }

    /// `key = value (from origin): expected ...`.
    pub(crate) fn bad_value(key: &str, value: &Value, origin: &Origin, expected: &str) -> Error {
        let mut err = Error::new(
            ErrorKind::BadValue,
            format!("{key} = {value} (from {origin}): expected {expected}"),
        );
        err.0.key = Some(key.to_owned());
        err.0.value = Some(value.clone());
        err.0.origin = Some(origin.clone());
        err.0.expected = Some(expected.to_owned());
        err
    }

    /// A key that no declaration names, with the closest declared key.
    pub(crate) fn unknown_key(
        key: &str,
        origin: Option<&Origin>,
        suggestion: Option<&str>,
    ) -> Error {
        let mut message = format!("unknown configuration key \"{key}\"");
        if let Some(origin) = origin {
            message.push_str(&format!(" (from {origin})"));
        }
        match suggestion {
            Some(s) => message.push_str(&format!("; did you mean \"{s}\"?")),
            None => message.push_str(
                "; `barrow config list` shows the declared keys, and \
                 `register_namespace` declares new ones",
            ),
        }
        let mut err = Error::new(ErrorKind::UnknownKey, message);
        err.0.key = Some(key.to_owned());
        err.0.origin = origin.cloned();
        err.0.suggestion = suggestion.map(str::to_owned);
        err
    }

    /// A getter asked for `asked` from a key declared as `declared`.
    pub(crate) fn wrong_type(key: &str, declared: &str, asked: &str) -> Error {
        let mut err = Error::new(
            ErrorKind::WrongType,
            format!(
                "configuration key \"{key}\" is declared as {declared}, so it cannot be \
                 read as `{asked}`"
            ),
        );
        err.0.key = Some(key.to_owned());
        err.0.expected = Some(declared.to_owned());
        err
    }

    /// A file that is not valid YAML, at `line` (1-based) when known.
    pub(crate) fn syntax(path: &Path, line: Option<(usize, usize)>, what: &str) -> Error {
        let message = match line {
            Some((line, column)) => format!(
                "malformed configuration file {}, line {line} column {column}: {what}",
                path.display()
            ),
            None => format!("malformed configuration file {}: {what}", path.display()),
        };
        let mut err = Error::new(ErrorKind::Syntax, message);
        err.0.path = Some(path.to_owned());
        err.0.line = line.map(|(line, _)| line);
        err
    }

    /// A file or variable past one of the YAML limits.
    pub(crate) fn too_large(origin: &Origin, what: &str) -> Error {
        match origin.path() {
            Some(path) => Error::too_large_file(path, what),
            None => Error::new(ErrorKind::TooLarge, format!("{origin} is not read: {what}"))
                .with_origin(origin),
        }
    }

    /// A file past one of the YAML limits.
    pub(crate) fn too_large_file(path: &Path, what: &str) -> Error {
        let mut err = Error::new(
            ErrorKind::TooLarge,
            format!("configuration file {} is not read: {what}", path.display()),
        );
        err.0.path = Some(path.to_owned());
        err
    }

    /// `key` given twice by `origin`, as `first` and `second` (the key as
    /// written there, and where).
    pub(crate) fn duplicate_key(
        origin: &Origin,
        key: &str,
        first: (&str, Option<Position>),
        second: (&str, Option<Position>),
    ) -> Error {
        let message = format!(
            "{} gives \"{key}\" twice: {} and {}; one would silently replace the other, so \
             keep one",
            place(origin),
            written_at(origin, first),
            written_at(origin, second),
        );
        Error::repeated(origin, key, second.1, message)
    }

    /// `outer` given a value and `inner` (a key inside it) by `origin`.
    pub(crate) fn value_and_keys_inside(
        origin: &Origin,
        outer: (&str, &str, Option<Position>),
        inner: (&str, &str, Option<Position>),
    ) -> Error {
        let message = format!(
            "{} gives \"{}\" a value, {}, and also \"{}\" inside it, {}; one would silently \
             replace the other, so keep one",
            place(origin),
            outer.0,
            written_at(origin, (outer.1, outer.2)),
            inner.0,
            written_at(origin, (inner.1, inner.2)),
        );
        Error::repeated(origin, outer.0, inner.2.max(outer.2), message)
    }

    fn repeated(origin: &Origin, key: &str, at: Option<Position>, message: String) -> Error {
        let mut err = Error::new(ErrorKind::DuplicateKey, message).with_origin(origin);
        err.0.key = Some(key.to_owned());
        err.0.path = origin.path().map(Path::to_owned);
        err.0.line = at.map(|at| at.line);
        err
    }

    pub(crate) fn with_path(mut self, path: &Path) -> Error {
        self.0.path = Some(path.to_owned());
        self
    }

    fn with_origin(mut self, origin: &Origin) -> Error {
        self.0.origin = Some(origin.clone());
        self
    }

    /// An I/O failure on `path` while doing `what` ("read", "write").
    pub(crate) fn io(path: &Path, what: &str, source: std::io::Error) -> Error {
        let mut err = Error::new(
            ErrorKind::Io,
            format!("cannot {what} {}: {source}", path.display()),
        );
        err.0.path = Some(path.to_owned());
        err.0.source = Some(Box::new(source));
        err
    }

    /// Keeps `source` as the error's cause.
    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Error {
        self.0.source = Some(source.into());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The canonical key the error is about, if any.
    pub fn key(&self) -> Option<&str> {
        self.0.key.as_deref()
    }

    /// The offending value, for [`ErrorKind::BadValue`].
    pub fn value(&self) -> Option<&Value> {
        self.0.value.as_ref()
    }

    /// The layer the offending value or key came from: a file path, an
    /// environment variable's name, an override.
    pub fn origin(&self) -> Option<&Origin> {
        self.0.origin.as_ref()
    }

    /// The file the error is about, if any.
    pub fn path(&self) -> Option<&Path> {
        self.0.path.as_deref()
    }

    /// The 1-based line of a syntax error, when the parser reports it; of
    /// a key given twice, the line of its second place.
    pub fn line(&self) -> Option<usize> {
        self.0.line
    }

    /// What the key's declaration accepts (`a byte size such as "64MiB"`).
    pub fn expected(&self) -> Option<&str> {
        self.0.expected.as_deref()
    }

    /// The declared key closest to an unknown one.
    pub fn suggestion(&self) -> Option<&str> {
        self.0.suggestion.as_deref()
    }
}

/// "configuration file PATH" or "variable NAME".
fn place(origin: &Origin) -> String {
    match origin {
        Origin::File { path, .. } => format!("configuration file {}", path.display()),
        Origin::Env(name) => format!("variable {name}"),
        other => other.to_string(),
    }
}

/// `as "array.chunk_size" at line 3 column 3` (`of its value` for a
/// variable, whose text is its value).
fn written_at(origin: &Origin, (written, at): (&str, Option<Position>)) -> String {
    let of_value = if matches!(origin, Origin::Env(_)) {
        " of its value"
    } else {
        ""
    };
    match at {
        Some(at) => format!("as \"{written}\" at {at}{of_value}"),
        None => format!("as \"{written}\""),
    }
}

/// Prints what `Display` prints, then the causes (as `anyhow` does), so that
/// a `main` returning this error shows it readably; `{:#?}` shows the fields.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            let mut out = f.debug_struct("Error");
            out.field("kind", &self.0.kind)
                .field("message", &self.0.message);
            if let Some(source) = &self.0.source {
                out.field("source", source);
            }
            return out.finish();
        }
        f.write_str(&self.0.message)?;
        // The same rule as `barrow_core::error::write_report` (which this
        // crate cannot use: core depends on it): causes whose text the
        // message does not already quote.
        let mut written = self.0.message.clone();
        let mut causes = Vec::new();
        let mut next = std::error::Error::source(self);
        while let Some(cause) = next {
            let text = cause.to_string();
            if !text.is_empty() && !written.contains(&text) {
                written.push_str(&text);
                causes.push(text);
            }
            next = cause.source();
        }
        match causes.as_slice() {
            [] => Ok(()),
            [only] => write!(f, "\n\nCaused by:\n    {only}"),
            many => {
                f.write_str("\n\nCaused by:")?;
                for (i, cause) in many.iter().enumerate() {
                    write!(f, "\n    {i}: {cause}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
