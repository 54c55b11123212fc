//! The merged view: every key's winning value, the values it overrode, and
//! typed getters.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::key::{canonical_key, is_well_formed};
use crate::load::Base;
use crate::overrides::checked;
use crate::schema::{Declaration, KeyType, Schema};
use crate::setting::{FromSetting, Setting};
use crate::tree::{Tree, protected};
use crate::value::{Entry, Origin, Value};
use crate::warning::{Warning, WarningOutput};

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
    /// The keys that hold a value once every layer is merged.
    tree: Tree,
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
    /// (in precedence order), and notes keys nobody declared.
    pub(crate) fn build(
        schema: Arc<Schema>,
        base: &Base,
        overrides: impl IntoIterator<Item = (String, Entry)>,
    ) -> Snapshot {
        let mut entries: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
        let mut tree = Tree::default();
        let defaults = schema.iter().map(|declaration| {
            let default = Entry {
                value: declaration.default_value().clone(),
                origin: Origin::Defaults,
            };
            (declaration.key().to_owned(), default)
        });
        let layers: Vec<(String, Entry)> = base.entries.iter().cloned().chain(overrides).collect();
        for (key, entry) in defaults.chain(layers) {
            tree.apply(&schema, &key, &entry);
            entries.entry(key).or_default().push(entry);
        }
        let mut warnings = base.warnings.clone();
        warnings.extend(undeclared_warnings(&schema, &entries, |_| true));
        let snapshot = Snapshot(Arc::new(Inner {
            schema,
            entries,
            tree,
            warnings,
            temp_dir: base.temp_dir.clone(),
        }));
        if !base.in_worker {
            for warning in snapshot.warnings() {
                snapshot.report(warning);
            }
        }
        snapshot
    }

    /// The value of `key` as `T`, or `None` if the key is unset.
    ///
    /// A declared key is checked against its declaration: fails if the
    /// winning value does not fit the declared type
    /// ([`ErrorKind::BadValue`], naming the value and its layer), or if `T`
    /// does not suit the declared type ([`ErrorKind::WrongType`]; see
    /// [`FromSetting`] for which types suit which).
    ///
    /// A key nobody declared is read as `T` reads it
    /// ([`FromSetting::undeclared_type`]): `None` when no layer sets it, a
    /// [`ErrorKind::BadValue`] when its value does not read as `T`. Asking
    /// for a key nobody sets that looks like a typo of a declared one
    /// (`num-worker`) fails with [`ErrorKind::UnknownKey`] and the
    /// suggestion, rather than reading nothing forever.
    ///
    /// [`ErrorKind::UnknownKey`]: crate::ErrorKind::UnknownKey
    /// [`ErrorKind::BadValue`]: crate::ErrorKind::BadValue
    /// [`ErrorKind::WrongType`]: crate::ErrorKind::WrongType
    pub fn get<T: FromSetting>(&self, key: &str) -> Result<Option<T>> {
        Ok(self.get_with_origin(key)?.0)
    }

    /// Like [`get`](Self::get), with the origin of the winning value (also
    /// when that value is an unset default; [`Origin::Defaults`] for a key
    /// nobody declared or set).
    pub fn get_with_origin<T: FromSetting>(&self, key: &str) -> Result<(Option<T>, Origin)> {
        let (setting, origin, declared) = match self.0.schema.get(key) {
            Some(declaration) => {
                let lookup = self.lookup(declaration.key())?;
                (
                    lookup.setting()?,
                    lookup.origin().clone(),
                    Some(declaration),
                )
            }
            None => {
                let (setting, origin) = self.undeclared(key, T::undeclared_type().as_ref())?;
                (setting, origin, None)
            }
        };
        if setting.is_unset() {
            return Ok((None, origin));
        }
        if let Some(value) = T::from_setting(&setting) {
            return Ok((Some(value), origin));
        }
        let asked = std::any::type_name::<T>();
        Err(match declared {
            Some(declaration) => Error::wrong_type(
                declaration.key(),
                &format!("{} ({setting})", declaration.key_type().name()),
                asked,
            ),
            None => Error::new(
                ErrorKind::WrongType,
                format!(
                    "configuration key \"{}\" is not declared, and its value {setting} (from \
                     {origin}) cannot be read as `{asked}`",
                    canonical_key(key)
                ),
            ),
        })
    }

    /// A key nobody declared, read as `key_type` (as given when `None`).
    fn undeclared(&self, key: &str, key_type: Option<&KeyType>) -> Result<(Setting, Origin)> {
        let key = canonical_key(key);
        if !is_well_formed(&key) {
            return Err(Error::unknown_key(&key, None, None));
        }
        let Some(entry) = self.0.tree.leaf(&key) else {
            if self.0.tree.inside(&key).next().is_some() {
                return Err(Error::new(
                    ErrorKind::WrongType,
                    format!(
                        "configuration key \"{key}\" holds keys, not a value; read the keys \
                         inside it, or all of it with `get_value`"
                    ),
                ));
            }
            if let Some(typo) = self.0.schema.likely_typo(&key) {
                return Err(Error::unknown_key(&key, None, Some(typo)));
            }
            return Ok((Setting::Unset, Origin::Defaults));
        };
        let (value, origin) = (&entry.value, &entry.origin);
        if *value == Value::Null {
            return Ok((Setting::Unset, origin.clone()));
        }
        let setting = match key_type {
            Some(key_type) => key_type
                .check(value)
                .ok_or_else(|| Error::bad_value(&key, value, origin, &key_type.expected()))?,
            None => as_given(value).ok_or_else(|| {
                Error::bad_value(&key, value, origin, "a single value or a list of values")
            })?,
        };
        Ok((setting, origin.clone()))
    }

    /// The checked value of `key`: in its declared type, or as its layer
    /// gave it for a key nobody declared ([`Setting::Unset`] if unset).
    pub fn setting(&self, key: &str) -> Result<Setting> {
        match self.0.schema.get(key) {
            Some(declaration) => self.lookup(declaration.key())?.setting(),
            None => Ok(self.undeclared(key, None)?.0),
        }
    }

    /// The value at `key` as the layers gave it, declared or not (Dask's
    /// `dask.config.get`): a key's value, or the mapping of the keys inside
    /// it (`get_value("array")` holds `chunk-size` and the rest), merged
    /// across layers; `None` if nothing is there. `""` is the whole tree.
    /// Nothing is checked: typed getters do that.
    ///
    /// ```
    /// use barrow_config::{Sandbox, Value};
    ///
    /// let mut sandbox = Sandbox::new()?;
    /// sandbox.user_file("app.yaml", "myapp:\n  retries: 3\n")?;
    /// sandbox.set_env("BARROW_MYAPP__URL", "https://example.org");
    /// let snapshot = sandbox.config().snapshot()?;
    /// assert_eq!(snapshot.get_value("myapp.retries"), Some(Value::Integer(3)));
    /// assert_eq!(
    ///     snapshot.get_value("myapp").unwrap().to_string(),
    ///     r#"{retries: 3, url: "https://example.org"}"#
    /// );
    /// assert_eq!(snapshot.get::<u32>("myapp.retries")?, Some(3));
    /// assert_eq!(snapshot.get_value("myapp.timeout"), None);
    /// # Ok::<(), barrow_config::Error>(())
    /// ```
    pub fn get_value(&self, key: &str) -> Option<Value> {
        self.0.tree.value(&canonical_key(key))
    }

    /// Every key that holds a value once the layers are merged, declared or
    /// not, with its winning entry, sorted by key.
    pub fn leaves(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.0.tree.leaves()
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

    /// Keys that some layer sets but no declaration names, with their
    /// entries (lowest layer first); those that would replace declared keys
    /// (see [`WarningKind::IgnoredKey`](crate::WarningKind::IgnoredKey))
    /// included.
    pub fn unknown_keys(&self) -> impl Iterator<Item = (&str, &[Entry])> {
        self.0
            .entries
            .iter()
            .filter(|(key, _)| self.0.schema.get(key).is_none())
            .map(|(key, entries)| (key.as_str(), entries.as_slice()))
    }

    /// The warnings of this configuration: keys nobody declared (one per
    /// key, with a suggestion when one looks like a typo), ignored keys,
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

    /// Reports `warning` the way this snapshot's `logging.warnings` says,
    /// once per process.
    pub(crate) fn report(&self, warning: &Warning) {
        warning.report(self.warning_output());
    }

    /// The system's temporary directory, as this snapshot's sources say
    /// (`TMPDIR`, else `/tmp`).
    pub(crate) fn system_temp_dir(&self) -> &std::path::Path {
        &self.0.temp_dir
    }

    /// Where this snapshot's warnings go (`logging.warnings`).
    pub(crate) fn warning_output(&self) -> WarningOutput {
        let setting = self
            .lookup("logging.warnings")
            .and_then(|lookup| lookup.setting())
            .ok();
        WarningOutput::from_setting(setting.as_ref())
    }

    /// The declarations this snapshot checks against.
    pub fn schema(&self) -> &Schema {
        &self.0.schema
    }

    /// This snapshot with `options` on top of every layer (layer 8: options
    /// passed to one call), checked as [`scoped`](crate::scoped) checks.
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
        let mut tree = self.0.tree.clone();
        let mut added = std::collections::BTreeSet::new();
        for (key, entry) in options {
            tree.apply(&self.0.schema, &key, &entry);
            if !entries.contains_key(&key) {
                added.insert(key.clone());
            }
            entries.entry(key).or_default().push(entry);
        }
        let mut warnings = self.0.warnings.clone();
        let new = undeclared_warnings(&self.0.schema, &entries, |key| added.contains(key));
        warnings.extend(new.iter().cloned());
        let snapshot = Snapshot(Arc::new(Inner {
            schema: self.0.schema.clone(),
            entries,
            tree,
            warnings,
            temp_dir: self.0.temp_dir.clone(),
        }));
        for warning in &new {
            snapshot.report(warning);
        }
        Ok(snapshot)
    }

    /// `num-workers`, or the number of cores when it is unset.
    pub fn num_workers(&self) -> Result<usize> {
        Ok(self.get::<usize>("num-workers")?.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        }))
    }
}

/// One warning per key nobody declared among `entries` that `wanted`
/// picks, naming its winning origin.
fn undeclared_warnings(
    schema: &Schema,
    entries: &BTreeMap<String, Vec<Entry>>,
    wanted: impl Fn(&str) -> bool,
) -> Vec<Warning> {
    entries
        .iter()
        .filter(|(key, _)| schema.get(key).is_none() && wanted(key))
        .filter_map(|(key, key_entries)| {
            let origin = &key_entries.last()?.origin;
            Some(match protected(schema, key) {
                Some(why) => Warning::ignored_key(key, origin, &why),
                None => Warning::unknown_key(key, origin, schema.suggest(key)),
            })
        })
        .collect()
}

/// A value nobody declared, as its layer gave it: a scalar, or a list of
/// scalars (as texts); `None` for a mapping or a list holding one.
fn as_given(value: &Value) -> Option<Setting> {
    Some(match value {
        Value::Null => Setting::Unset,
        Value::Bool(b) => Setting::Bool(*b),
        Value::Integer(i) => Setting::Integer(*i),
        Value::Float(x) => Setting::Float(*x),
        Value::String(s) => Setting::String(s.clone()),
        Value::List(_) => KeyType::List.check(value)?,
        Value::Map(_) => return None,
    })
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
