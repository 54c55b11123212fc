//! Warnings: problems that do not stop Barrow (an unknown key, a directory
//! that cannot be read), each logged once.

use std::cell::Cell;
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::setting::Setting;
use crate::tree::Protected;
use crate::value::Origin;

/// What a [`Warning`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WarningKind {
    /// A file, variable or override sets a key that no declaration names
    /// (it is kept: code may read it).
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
    /// A key that would replace declared keys is ignored: a value given to
    /// a key that holds declared keys (`array: 5`), or a key inside a
    /// declared key (`num-workers.threads`).
    IgnoredKey,
}

/// A problem that Barrow works around, saying what and where.
/// [`Snapshot::warnings`](crate::Snapshot::warnings) lists them, and each
/// reaches the user once per process as `logging.warnings` says: unset,
/// through `tracing::warn!` (target `barrow_config`) when a subscriber is
/// installed, else printed to standard error as `barrow: warning: ...`;
/// `stderr`, `tracing` or `off` choose one way.
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

    /// A key nobody declared: it is kept, and read by code that asks for
    /// it; the warning catches typos of declared keys.
    pub(crate) fn unknown_key(key: &str, origin: &Origin, suggestion: Option<&str>) -> Warning {
        let mut message = format!("unknown configuration key \"{key}\" (from {origin})");
        match suggestion {
            Some(s) => message.push_str(&format!("; did you mean \"{s}\"?")),
            None => message
                .push_str(": nothing declares it, so only code that asks for it by name reads it"),
        }
        Warning {
            key: Some(key.to_owned()),
            origin: Some(origin.clone()),
            path: origin.path().map(Path::to_owned),
            suggestion: suggestion.map(str::to_owned),
            ..Warning::new(WarningKind::UnknownKey, message)
        }
    }

    /// A key left out because it would replace declared keys.
    pub(crate) fn ignored_key(key: &str, origin: &Origin, why: &Protected) -> Warning {
        let message = match why {
            Protected::Namespace => format!(
                "configuration key \"{key}\" (from {origin}) holds declared keys, so it cannot \
                 be given a value and is ignored; set the keys inside it (`barrow config list` \
                 shows them)"
            ),
            Protected::InsideDeclared(declared) => format!(
                "configuration key \"{key}\" (from {origin}) is ignored: \"{declared}\" is a \
                 declared key, which takes a value, not keys inside it"
            ),
        };
        Warning {
            key: Some(key.to_owned()),
            origin: Some(origin.clone()),
            path: origin.path().map(Path::to_owned),
            ..Warning::new(WarningKind::IgnoredKey, message)
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

    /// Reports the warning as `output` says, unless the same message was
    /// reported before in this process, or the caller on this thread
    /// reports warnings itself ([`CallerReports`]).
    pub(crate) fn report(&self, output: WarningOutput) {
        static REPORTED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
        if output == WarningOutput::Off || CALLER_REPORTS.with(Cell::get) {
            return;
        }
        let reported = REPORTED.get_or_init(Default::default);
        let first = reported
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(self.message.clone());
        if !first {
            return;
        }
        let to_tracing = match output {
            WarningOutput::Tracing => true,
            WarningOutput::Stderr => false,
            WarningOutput::Auto => has_subscriber(),
            WarningOutput::Off => return,
        };
        if to_tracing {
            tracing::warn!(target: "barrow_config", "{}", self.message);
        } else {
            eprintln!("barrow: warning: {}", self.message);
        }
    }
}

/// Whether a `tracing` subscriber is installed for this thread (its own
/// default, else the global one).
fn has_subscriber() -> bool {
    !tracing::dispatcher::get_default(|dispatch| dispatch.is::<tracing::subscriber::NoSubscriber>())
}

/// Where warnings go: the declared key `logging.warnings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WarningOutput {
    /// Unset: through `tracing` when a subscriber is installed, else to
    /// standard error, so that a program without one still tells its user.
    Auto,
    /// `stderr`: printed to standard error.
    Stderr,
    /// `tracing`: `tracing::warn!` with target `barrow_config`.
    Tracing,
    /// `off`: dropped.
    Off,
}

impl WarningOutput {
    /// The output a `logging.warnings` setting names; [`Auto`] for unset
    /// or anything else (a bad value is reported where values are checked).
    ///
    /// [`Auto`]: WarningOutput::Auto
    pub(crate) fn from_setting(setting: Option<&Setting>) -> WarningOutput {
        match setting {
            Some(Setting::Enum(name)) => match name.as_str() {
                "stderr" => WarningOutput::Stderr,
                "tracing" => WarningOutput::Tracing,
                "off" => WarningOutput::Off,
                _ => WarningOutput::Auto,
            },
            _ => WarningOutput::Auto,
        }
    }
}

thread_local! {
    static CALLER_REPORTS: Cell<bool> = const { Cell::new(false) };
}

/// While alive, warnings made on this thread are left to the caller, which
/// shows them itself (the `barrow config` command prints them with its
/// output), so they are not printed twice.
#[derive(Debug)]
pub(crate) struct CallerReports {
    before: bool,
}

impl CallerReports {
    pub(crate) fn new() -> CallerReports {
        CallerReports {
            before: CALLER_REPORTS.with(|c| c.replace(true)),
        }
    }
}

impl Drop for CallerReports {
    fn drop(&mut self) {
        let before = self.before;
        let _ = CALLER_REPORTS.try_with(|c| c.set(before));
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
    fn a_warning_is_reported_once_per_process_to_the_subscriber() {
        let count = Arc::new(AtomicUsize::new(0));
        let first = Warning::new(
            WarningKind::IgnoredVariable,
            "test warning, reported once".into(),
        );
        let second = Warning::new(WarningKind::IgnoredVariable, "another test warning".into());
        let dropped = Warning::new(WarningKind::IgnoredVariable, "a dropped warning".into());
        let left = Warning::new(WarningKind::IgnoredVariable, "a caller's warning".into());
        tracing::subscriber::with_default(Counter(count.clone()), || {
            assert!(has_subscriber());
            first.report(WarningOutput::Auto);
            first.report(WarningOutput::Tracing);
            first.clone().report(WarningOutput::Auto);
            second.report(WarningOutput::Tracing);
            dropped.report(WarningOutput::Off);
            let caller = CallerReports::new();
            left.report(WarningOutput::Tracing);
            drop(caller);
        });
        assert_eq!(count.load(Ordering::Relaxed), 2);
        assert!(!has_subscriber(), "none outside with_default");
    }

    #[test]
    fn logging_warnings_names_the_output() {
        let named = |name: &str| WarningOutput::from_setting(Some(&Setting::Enum(name.into())));
        assert_eq!(named("stderr"), WarningOutput::Stderr);
        assert_eq!(named("tracing"), WarningOutput::Tracing);
        assert_eq!(named("off"), WarningOutput::Off);
        assert_eq!(WarningOutput::from_setting(None), WarningOutput::Auto);
        assert_eq!(
            WarningOutput::from_setting(Some(&Setting::Unset)),
            WarningOutput::Auto
        );
    }
}
