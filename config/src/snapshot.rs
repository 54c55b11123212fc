//! The merged view: every key's winning value, the values it overrode, and
//! typed getters.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::load::Base;
use crate::overrides::checked;
use crate::schema::{Declaration, Schema};
use crate::setting::{FromSetting, Setting};
use crate::value::{Entry, Origin, Value};
use crate::warning::{Warning, WarningKind};

/// An immutable view of the whole configuration at one moment: every
/// layer merged, each value with its origin. Cheap to clone and to send to
/// other threads; schedulers take one when a computation starts.
///
/// ```
/// use barrow_config::{ByteSize, Origin, Sandbox};
///
/// let mut sandbox = Sandbox::new()?;
/// sandbox.user_file("site.yaml", "array:\n  chunk_size: 256MiB\n")?;
/// sandbox.set_env("BARROW_NUM_WORKERS", "4");
/// let snapshot = sandbox.config().snapshot()?;
///
/// assert_eq!(snapshot.get::<u64>("num-workers")?, Some(4));
/// assert_eq!(snapshot.get::<ByteSize>("array.chunk-size")?, Some(ByteSize::mib(256)));
/// assert_eq!(snapshot.get::<String>("scheduler")?, None); // unset by default
///
/// let (size, origin) = snapshot.get_with_origin::<ByteSize>("array.chunk-size")?;
/// assert_eq!(size, Some(ByteSize::mib(256)));
/// assert_eq!(origin.path(), Some(sandbox.user_dir().join("site.yaml").as_path()));
///
/// // Options for one call sit on top of every other layer.
/// let call = snapshot.with_options([("num-workers", 1)])?;
/// assert_eq!(call.get::<u64>("num-workers")?, Some(1));
/// assert_eq!(call.lookup("num-workers")?.origin(), &Origin::Call);
/// # Ok::<(), barrow_config::Error>(())
/// ```
#[derive(Clone)]
pub struct Snapshot(Arc<Inner>);

struct Inner {
    schema: Arc<Schema>,
    /// Every key set by some layer, declared or not; entries lowest first.
    entries: BTreeMap<String, Vec<Entry>>,
    warnings: Vec<Warning>,
    temp_dir: PathBuf,
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let winners: BTreeMap<&str, String> = self
            .0
            .entries
            .iter()
            .filter_map(|(key, entries)| {
                let entry = entries.last()?;
                Some((key.as_str(), format!("{} ({})", entry.value, entry.origin)))
            })
            .collect();
        f.debug_struct("Snapshot")
            .field("values", &winners)
            .field("warnings", &self.0.warnings)
            .finish()
    }
}

impl Snapshot {
    /// Merges the defaults of `schema`, the loaded layers and `overrides`
    /// (in precedence order), and notes unknown keys.
    pub(crate) fn build(
        schema: Arc<Schema>,
        base: &Base,
        overrides: impl IntoIterator<Item = (String, Entry)>,
    ) -> Snapshot {
        let mut entries: BTreeMap<String, Vec<Entry>> = schema
            .iter()
            .map(|declaration| {
                let default = Entry {
                    value: declaration.default_value().clone(),
                    origin: Origin::Defaults,
                };
                (declaration.key().to_owned(), vec![default])
            })
            .collect();
        for (key, entry) in base.entries.iter().cloned().chain(overrides) {
            entries.entry(key).or_default().push(entry);
        }
        let mut warnings = base.warnings.clone();
        for (key, key_entries) in &entries {
            if schema.get(key).is_some() {
                continue;
            }
            for entry in key_entries {
                let warning = Warning::unknown_key(key, &entry.origin, schema.suggest(key));
                warning.log_once();
                warnings.push(warning);
            }
        }
        Snapshot(Arc::new(Inner {
            schema,
            entries,
            warnings,
            temp_dir: base.temp_dir.clone(),
        }))
    }

    /// The value of `key` as `T`, or `None` if the key is unset.
    ///
    /// Fails if the key is not declared ([`ErrorKind::UnknownKey`], with a
    /// suggestion), if the winning value does not fit the declared type
    /// ([`ErrorKind::BadValue`], naming the value and its layer), or if `T`
    /// does not suit the declared type ([`ErrorKind::WrongType`]; see
    /// [`FromSetting`] for which types suit which).
    ///
    /// [`ErrorKind::UnknownKey`]: crate::ErrorKind::UnknownKey
    /// [`ErrorKind::BadValue`]: crate::ErrorKind::BadValue
    /// [`ErrorKind::WrongType`]: crate::ErrorKind::WrongType
    pub fn get<T: FromSetting>(&self, key: &str) -> Result<Option<T>> {
        Ok(self.get_with_origin(key)?.0)
    }

    /// Like [`get`](Self::get), with the origin of the winning value (also
    /// when that value is an unset default).
    pub fn get_with_origin<T: FromSetting>(&self, key: &str) -> Result<(Option<T>, Origin)> {
        let lookup = self.lookup(key)?;
        let setting = lookup.setting()?;
        let origin = lookup.origin().clone();
        if setting.is_unset() {
            return Ok((None, origin));
        }
        match T::from_setting(&setting) {
            Some(value) => Ok((Some(value), origin)),
            None => Err(Error::wrong_type(
                lookup.key(),
                &format!("{} ({})", lookup.declaration().key_type().name(), setting),
                std::any::type_name::<T>(),
            )),
        }
    }

    /// The checked value of `key` in its declared type.
    pub fn setting(&self, key: &str) -> Result<Setting> {
        self.lookup(key)?.setting()
    }

    /// Everything known about a declared `key`: its declaration, its value
    /// and origin, and the values it overrides.
    pub fn lookup(&self, key: &str) -> Result<Lookup<'_>> {
        let declaration = self.0.schema.require(key, None)?;
        self.0
            .entries
            .get(declaration.key())
            .and_then(|entries| Lookup::new(declaration, entries))
            // Every declared key has at least its default entry.
            .ok_or_else(|| Error::unknown_key(declaration.key(), None, None))
    }

    /// Every declared key, sorted.
    pub fn iter(&self) -> impl Iterator<Item = Lookup<'_>> {
        self.0.schema.iter().filter_map(|declaration| {
            Lookup::new(declaration, self.0.entries.get(declaration.key())?)
        })
    }

    /// Keys that some file or variable sets but no declaration names, with
    /// their entries (lowest layer first).
    pub fn unknown_keys(&self) -> impl Iterator<Item = (&str, &[Entry])> {
        self.0
            .entries
            .iter()
            .filter(|(key, _)| self.0.schema.get(key).is_none())
            .map(|(key, entries)| (key.as_str(), entries.as_slice()))
    }

    /// The warnings of this configuration: unknown keys (with suggestions),
    /// unreadable directories and files, a missing home directory.
    pub fn warnings(&self) -> &[Warning] {
        &self.0.warnings
    }

    /// Every value, in every layer, that does not fit its key's type:
    /// winning or overridden. Empty when the configuration is valid.
    pub fn problems(&self) -> Vec<Error> {
        self.iter()
            .flat_map(|lookup| {
                lookup
                    .entries()
                    .iter()
                    .filter_map(move |e| lookup.declaration().check(&e.value, &e.origin).err())
            })
            .collect()
    }

    /// The declarations this snapshot checks against.
    pub fn schema(&self) -> &Schema {
        &self.0.schema
    }

    /// This snapshot with `options` on top of every layer (layer 8: options
    /// passed to one call). Keys must be declared and values must fit.
    pub fn with_options<I, K, V>(&self, options: I) -> Result<Snapshot>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<Value>,
    {
        let options = checked(options, &Origin::Call, &self.0.schema)?;
        if options.is_empty() {
            return Ok(self.clone());
        }
        let mut entries = self.0.entries.clone();
        for (key, entry) in options {
            entries.entry(key).or_default().push(entry);
        }
        Ok(Snapshot(Arc::new(Inner {
            schema: self.0.schema.clone(),
            entries,
            warnings: self.0.warnings.clone(),
            temp_dir: self.0.temp_dir.clone(),
        })))
    }

    /// `num-workers`, or the number of cores when it is unset.
    pub fn num_workers(&self) -> Result<usize> {
        Ok(self.get::<usize>("num-workers")?.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        }))
    }

    /// `temporary-directory` if it is set and can be written (it is created
    /// if missing), else the system's temporary directory.
    ///
    /// Fails if the configured directory cannot be created or written, or if
    /// its value is bad; [`temporary_directory`](Self::temporary_directory)
    /// falls back instead.
    pub fn try_temporary_directory(&self) -> Result<PathBuf> {
        match self.get::<PathBuf>("temporary-directory")? {
            Some(dir) => {
                check_writable(&dir)?;
                Ok(dir)
            }
            None => Ok(self.0.temp_dir.clone()),
        }
    }

    /// The directory for temporary files: `temporary-directory` if it can be
    /// written, else the system's temporary directory, with a warning
    /// (logged once) naming the directory that could not be used.
    pub fn temporary_directory(&self) -> PathBuf {
        match self.try_temporary_directory() {
            Ok(dir) => dir,
            Err(err) => {
                let fallback = self.0.temp_dir.clone();
                let message = format!("{err}; using {} instead", fallback.display());
                let path = err.path().map(PathBuf::from).unwrap_or_default();
                Warning::about_path(WarningKind::TemporaryDirectory, &path, message).log_once();
                fallback
            }
        }
    }
}

/// Creates `dir` if needed and writes (then removes) a probe file in it.
fn check_writable(dir: &std::path::Path) -> Result<()> {
    static PROBE: AtomicU64 = AtomicU64::new(0);
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(dir, "create the temporary directory", e))?;
    let probe = dir.join(format!(
        ".barrow-probe-{}-{}",
        std::process::id(),
        PROBE.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&probe, b"")
        .map_err(|e| Error::io(dir, "write in the temporary directory", e))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// One declared key in a [`Snapshot`]: its declaration, its winning value
/// and the values it overrode.
#[derive(Debug, Clone, Copy)]
pub struct Lookup<'a> {
    declaration: &'a Declaration,
    entries: &'a [Entry],
    winner: &'a Entry,
    overridden: &'a [Entry],
}

impl<'a> Lookup<'a> {
    /// `None` for a key that no layer sets (not even the defaults).
    fn new(declaration: &'a Declaration, entries: &'a [Entry]) -> Option<Lookup<'a>> {
        let (winner, overridden) = entries.split_last()?;
        Some(Lookup {
            declaration,
            entries,
            winner,
            overridden,
        })
    }

    /// The canonical key.
    pub fn key(&self) -> &'a str {
        self.declaration.key()
    }

    /// The key's declaration.
    pub fn declaration(&self) -> &'a Declaration {
        self.declaration
    }

    /// The winning entry: the value of the highest layer that sets the key.
    pub fn entry(&self) -> &'a Entry {
        self.winner
    }

    /// The winning value, as its layer gave it.
    pub fn value(&self) -> &'a Value {
        &self.entry().value
    }

    /// Where the winning value came from.
    pub fn origin(&self) -> &'a Origin {
        &self.entry().origin
    }

    /// The values the winning one overrides, highest layer first (the
    /// built-in default last).
    pub fn overridden(&self) -> impl Iterator<Item = &'a Entry> {
        self.overridden.iter().rev()
    }

    /// Every entry of the key, lowest layer first.
    pub fn entries(&self) -> &'a [Entry] {
        self.entries
    }

    /// The winning value checked against the declared type.
    pub fn setting(&self) -> Result<Setting> {
        self.declaration.check(self.value(), self.origin())
    }
}
