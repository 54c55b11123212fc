//! The error type of `barrow-core`.

use std::fmt;

use crate::key::Key;

/// A boxed error from user code or another crate, kept as the `source()`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A task's function returned an error.
    TaskFailed,
    /// A task's function panicked.
    TaskPanicked,
    /// A value was not of the type a function or caller expected.
    WrongType,
    /// A task refers to a key that no task produces.
    MissingDependency,
    /// The graph has a cycle.
    Cycle,
    /// A requested key is not in the graph.
    MissingKey,
    /// Two different tasks were merged under one key.
    KeyConflict,
    /// A function name is not registered.
    UnknownFunction,
    /// Two functions were registered under one name.
    DuplicateFunction,
    /// No scheduler is registered under the requested name.
    UnknownScheduler,
    /// A task cannot be sent to another process (an unregistered closure, a
    /// value without a codec).
    NotShippable,
    /// Encoding or decoding a value failed, or no codec fits.
    Codec,
    /// The store of intermediate results failed (a full disk, an unwritable
    /// directory).
    Store,
    /// A configuration value or option is invalid.
    Config,
    /// An argument to an operation is invalid (a partition count of zero, a
    /// malformed pattern, mismatched lengths).
    InvalidArgument,
    /// Reading or writing a file failed (missing, unreadable, corrupt).
    Io,
    /// The computation was cancelled.
    Cancelled,
    /// The work is known to need more memory than the budget
    /// (`local.memory-limit`, else what the machine has available): refused
    /// before it starts. See [`crate::memory`].
    TooLarge,
    /// A worker process failed: it died (an exit, a signal, out of memory),
    /// sent a damaged message, or is not a compatible build.
    Worker,
    /// A task was executing on cluster workers that died, more times than
    /// `distributed.scheduler.allowed-failures`: it is not tried again.
    /// The message names each worker, how it died and its last output.
    KilledWorker,
    /// A connection between the processes of a cluster failed or was
    /// refused: an unreachable address, a timeout, a wrong token, a peer
    /// that closed it or sent something that is not a message.
    Comm,
    /// A bug in Barrow: please report it.
    Internal,
}

/// The error of `barrow-core`: what went wrong, where (key, function) and why
/// (the original error as `source()`).
///
/// A failing task reports its key, its function's name, the original error
/// and the keys that were waiting on it:
///
/// ```
/// use barrow_core::{Error, ErrorKind, Key};
///
/// let err = Error::task_failed("division by zero")
///     .with_key(Key::from(("x", 3)))
///     .with_function("inc")
///     .with_dependents(vec![Key::new("total")]);
/// assert_eq!(err.kind(), ErrorKind::TaskFailed);
/// assert_eq!(err.key(), Some(&Key::from(("x", 3))));
/// assert_eq!(
///     err.to_string(),
///     "task ('x', 3) (function 'inc') failed: division by zero; waiting on it: total"
/// );
/// ```
#[derive(thiserror::Error)]
#[error(transparent)]
pub struct Error(Box<Repr>);

struct Repr {
    kind: ErrorKind,
    message: String,
    key: Option<Key>,
    function: Option<String>,
    dependents: Vec<Key>,
    cycle: Vec<Key>,
    source: Option<BoxError>,
}

/// How many dependents an error message lists before "and N more".
const SHOWN_DEPENDENTS: usize = 5;

impl Error {
    /// A new error of `kind` with a message saying what was wrong and what to do.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error(Box::new(Repr {
            kind,
            message: message.into(),
            key: None,
            function: None,
            dependents: Vec::new(),
            cycle: Vec::new(),
            source: None,
        }))
    }

    /// A task function failed with `source` (any error, or a message).
    pub fn task_failed(source: impl Into<BoxError>) -> Error {
        let source = source.into();
        Error::new(ErrorKind::TaskFailed, source.to_string()).with_source(source)
    }

    /// A task function panicked with `message`.
    pub fn task_panicked(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::TaskPanicked, message)
    }

    /// A value was a `actual` where a `expected` was needed.
    pub fn wrong_type(expected: &str, actual: &str) -> Error {
        Error::new(
            ErrorKind::WrongType,
            format!("wrong value type: expected {expected}, got {actual}"),
        )
    }

    /// A Barrow bug.
    pub fn internal(message: impl Into<String>) -> Error {
        let message = message.into();
        Error::new(
            ErrorKind::Internal,
            format!("internal error in Barrow ({message}); please report it"),
        )
    }

    /// Attaches the original error.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Error {
        self.0.source = Some(source.into());
        self
    }

    /// Attaches the key of the task concerned (kept if one is already set).
    pub fn with_key(mut self, key: Key) -> Error {
        self.0.key.get_or_insert(key);
        self
    }

    /// Attaches the name of the function concerned (kept if already set).
    pub fn with_function(mut self, name: impl Into<String>) -> Error {
        if self.0.function.is_none() {
            self.0.function = Some(name.into());
        }
        self
    }

    /// Attaches the keys that were waiting on the failed task.
    pub fn with_dependents(mut self, dependents: Vec<Key>) -> Error {
        self.0.dependents = dependents;
        self
    }

    /// Attaches the keys on a cycle.
    pub fn with_cycle(mut self, cycle: Vec<Key>) -> Error {
        self.0.cycle = cycle;
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The message, without key, function or dependents.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The key of the task concerned.
    pub fn key(&self) -> Option<&Key> {
        self.0.key.as_ref()
    }

    /// The name of the function concerned.
    pub fn function(&self) -> Option<&str> {
        self.0.function.as_deref()
    }

    /// The keys that were waiting on the failed task.
    pub fn dependents(&self) -> &[Key] {
        &self.0.dependents
    }

    /// The keys on a cycle, for [`ErrorKind::Cycle`].
    pub fn cycle(&self) -> &[Key] {
        &self.0.cycle
    }

    /// Whether a task panicked.
    pub fn is_panic(&self) -> bool {
        self.kind() == ErrorKind::TaskPanicked
    }

    /// The original error, downcast to `E`.
    pub fn source_as<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.0.source.as_deref().and_then(|e| e.downcast_ref::<E>())
    }
}

impl From<barrow_config::Error> for Error {
    fn from(error: barrow_config::Error) -> Error {
        Error::new(ErrorKind::Config, error.to_string()).with_source(error)
    }
}

impl fmt::Display for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(key) = &self.key {
            write!(f, "task {key}")?;
            if let Some(function) = &self.function {
                write!(f, " (function '{function}')")?;
            }
            match self.kind {
                ErrorKind::TaskFailed => f.write_str(" failed: ")?,
                ErrorKind::TaskPanicked => f.write_str(" panicked: ")?,
                _ => f.write_str(": ")?,
            }
        } else if let Some(function) = &self.function {
            write!(f, "function '{function}': ")?;
        }
        f.write_str(&self.message)?;
        if !self.dependents.is_empty() {
            f.write_str("; waiting on it: ")?;
            write_keys(f, &self.dependents, SHOWN_DEPENDENTS)?;
        }
        Ok(())
    }
}

pub(crate) fn write_keys(f: &mut impl fmt::Write, keys: &[Key], shown: usize) -> fmt::Result {
    for (i, key) in keys.iter().take(shown).enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{key}")?;
    }
    if keys.len() > shown {
        write!(f, " and {} more", keys.len() - shown)?;
    }
    Ok(())
}

/// Prints what `Display` prints, then the causes (as `anyhow` does), so that
/// `fn main() -> barrow::Result<()>` shows a readable error; `{:#?}` shows
/// the fields.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            return f
                .debug_struct("Error")
                .field("kind", &self.0.kind)
                .field("message", &self.0.message)
                .field("key", &self.0.key)
                .field("function", &self.0.function)
                .field("dependents", &self.0.dependents.len())
                .field("source", &self.0.source)
                .finish();
        }
        write_report(self, f)
    }
}

/// Writes `error` the way a program's `main` should show it: its `Display`,
/// then under "Caused by:" each error of its `source()` chain whose text
/// is not already written (Barrow's messages often quote their cause).
///
/// Every Barrow error type's `Debug` is this, as `anyhow`'s is:
///
/// ```
/// use barrow_core::{Error, ErrorKind};
///
/// let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied");
/// let err = Error::new(ErrorKind::Io, "cannot open data.csv").with_source(io);
/// assert_eq!(
///     format!("{err:?}"),
///     "cannot open data.csv\n\nCaused by:\n    permission denied"
/// );
/// ```
pub fn write_report(
    error: &(dyn std::error::Error + 'static),
    f: &mut impl fmt::Write,
) -> fmt::Result {
    let mut written = error.to_string();
    f.write_str(&written)?;
    let mut causes = Vec::new();
    let mut next = error.source();
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
        [only] => write!(f, "\n\nCaused by:\n    {}", indent(only)),
        many => {
            f.write_str("\n\nCaused by:")?;
            for (i, cause) in many.iter().enumerate() {
                write!(f, "\n    {i}: {}", indent(cause))?;
            }
            Ok(())
        }
    }
}

/// Continuation lines of a multi-line cause, indented under its first.
fn indent(text: &str) -> String {
    text.replace('\n', "\n       ")
}

impl std::error::Error for Repr {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl fmt::Debug for Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
