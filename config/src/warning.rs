//! Warnings: problems that do not stop Barrow (an unknown key, a directory
//! that cannot be read), each logged once.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::value::Origin;

/// What a [`Warning`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WarningKind {
    /// A file or variable sets a key that no declaration names.
    UnknownKey,
    /// No home directory is known, so no user files are read.
    NoHomeDirectory,
    /// A configuration directory exists but cannot be listed.
    UnreadableDirectory,
    /// A configuration file exists but cannot be read.
    UnreadableFile,
    /// A path named by `BARROW_CONFIG` does not exist.
    MissingPath,
    /// An environment variable with the `BARROW_` prefix does not name a key.
    IgnoredVariable,
    /// The configured temporary directory cannot be written.
    TemporaryDirectory,
}

/// A problem that Barrow works around, saying what and where. Each is
/// logged once per process through `tracing::warn!`, and
/// [`Snapshot::warnings`](crate::Snapshot::warnings) lists them.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    kind: WarningKind,
    message: String,
    key: Option<String>,
    origin: Option<Origin>,
    path: Option<PathBuf>,
    suggestion: Option<String>,
}

impl Warning {
    pub(crate) fn new(kind: WarningKind, message: String) -> Warning {
        Warning {
            kind,
            message,
            key: None,
            origin: None,
            path: None,
            suggestion: None,
        }
    }

    pub(crate) fn about_path(kind: WarningKind, path: &Path, message: String) -> Warning {
        Warning {
            path: Some(path.to_owned()),
            ..Warning::new(kind, message)
        }
    }

    pub(crate) fn unknown_key(key: &str, origin: &Origin, suggestion: Option<&str>) -> Warning {
        let mut message = format!("unknown configuration key \"{key}\" (from {origin})");
        if let Some(s) = suggestion {
            message.push_str(&format!("; did you mean \"{s}\"?"));
        }
        Warning {
            key: Some(key.to_owned()),
            origin: Some(origin.clone()),
            path: origin.path().map(Path::to_owned),
            suggestion: suggestion.map(str::to_owned),
            ..Warning::new(WarningKind::UnknownKey, message)
        }
    }

    /// What the warning is about.
    pub fn kind(&self) -> WarningKind {
        self.kind
    }

    /// The full message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The key, for an unknown key.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// Where the key came from, for an unknown key.
    pub fn origin(&self) -> Option<&Origin> {
        self.origin.as_ref()
    }

    /// The file or directory concerned, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The declared key closest to an unknown one.
    pub fn suggestion(&self) -> Option<&str> {
        self.suggestion.as_deref()
    }

    /// Logs the warning through `tracing`, unless the same message was
    /// logged before in this process.
    pub(crate) fn log_once(&self) {
        static LOGGED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
        let logged = LOGGED.get_or_init(Default::default);
        let first = logged
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(self.message.clone());
        if first {
            tracing::warn!(target: "barrow_config", "{}", self.message);
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    use super::*;

    /// Counts the events it receives.
    struct Counter(Arc<AtomicUsize>);

    impl Subscriber for Counter {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, _: &Event<'_>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    #[test]
    fn a_warning_is_logged_once_per_process() {
        let count = Arc::new(AtomicUsize::new(0));
        let first = Warning::new(
            WarningKind::IgnoredVariable,
            "test warning, logged once".into(),
        );
        let second = Warning::new(WarningKind::IgnoredVariable, "another test warning".into());
        tracing::subscriber::with_default(Counter(count.clone()), || {
            first.log_once();
            first.log_once();
            first.clone().log_once();
            second.log_once();
        });
        assert_eq!(count.load(Ordering::Relaxed), 2);
    }
}
