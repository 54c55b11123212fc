//! The function registry: stable names to functions.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Func, IntoPartialFunction};
use crate::error::{Error, ErrorKind, Result};
use crate::suggest::did_you_mean;

/// Where a registered function came from, for error messages and listings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// Registered at compile time with `#[barrow::task]`.
    Static,
    /// Registered at run time in code.
    Runtime,
    /// Registered by the plugin of this name.
    Plugin(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Static => f.write_str("#[barrow::task]"),
            Origin::Runtime => f.write_str("a run-time registration"),
            Origin::Plugin(name) => write!(f, "plugin '{name}'"),
        }
    }
}

type PartialFactory = dyn Fn(&[u8]) -> Result<Func> + Send + Sync;

#[derive(Clone)]
enum Factory {
    Plain(Func),
    Partial(Arc<PartialFactory>),
}

/// One registered function.
#[derive(Clone)]
pub struct FunctionEntry {
    name: Arc<str>,
    origin: Origin,
    factory: Factory,
}

impl FunctionEntry {
    /// The registered name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where it came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Whether the function takes bound parameters ([`Func::partial`]).
    pub fn takes_params(&self) -> bool {
        matches!(self.factory, Factory::Partial(_))
    }
}

impl fmt::Debug for FunctionEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionEntry")
            .field("name", &self.name)
            .field("origin", &self.origin)
            .field("takes_params", &self.takes_params())
            .finish()
    }
}

/// A function registered at compile time by `#[barrow::task]`; collected
/// into the process-wide registry on first use.
#[derive(Debug)]
pub struct StaticFunction {
    /// The stable name (`module::path::function`).
    pub name: &'static str,
    /// Builds the function.
    pub make: fn() -> Func,
}

inventory::collect!(StaticFunction);

/// A family of functions registered at compile time: one name, and a
/// constructor that builds a member from its encoded parameters. This is how
/// a library makes functions it builds at run time (an array kernel bound to
/// a scalar, a bag operation bound to a separator) runnable in another
/// process: the task carries the name and the parameters, the other process
/// calls `make` with them. The [`Func`] that `make` returns must have this
/// name and these parameters, so it travels unchanged.
#[derive(Debug)]
pub struct StaticFactory {
    /// The stable name of the family.
    pub name: &'static str,
    /// Builds one member from its encoded parameters.
    pub make: fn(&[u8]) -> Result<Func>,
}

inventory::collect!(StaticFactory);

/// Stable names to functions. One instance is process-wide
/// ([`Registry::global`](crate::Registry::global)); tests and embedders can
/// make their own.
///
/// ```
/// use barrow_core::function::FunctionRegistry;
/// use barrow_core::{ErrorKind, Func};
///
/// let functions = FunctionRegistry::new();
/// functions.register(Func::new("inc", |x: &i64| x + 1))?;
/// assert_eq!(functions.get("inc")?.name(), "inc");
///
/// let err = functions.get("icn").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::UnknownFunction);
/// assert!(err.to_string().contains("did you mean 'inc'?"));
/// # Ok::<(), barrow_core::Error>(())
/// ```
#[derive(Default)]
pub struct FunctionRegistry {
    entries: RwLock<HashMap<Arc<str>, FunctionEntry>>,
}

impl FunctionRegistry {
    /// An empty registry.
    pub fn new() -> FunctionRegistry {
        FunctionRegistry::default()
    }

    /// Registers `func` under its name, from code at run time.
    pub fn register(&self, func: Func) -> Result<()> {
        self.register_from(func, Origin::Runtime)
    }

    /// Registers `func` under its name, recording where it came from. Two
    /// registrations of one name are an error naming both origins.
    pub fn register_from(&self, func: Func, origin: Origin) -> Result<()> {
        let name: Arc<str> = Arc::from(func.name());
        self.insert(FunctionEntry {
            name,
            origin,
            factory: Factory::Plain(func),
        })
    }

    /// Registers a function with parameters (see [`Func::partial`]) under
    /// `name`, so that another process can rebuild it from the name and the
    /// encoded parameters.
    pub fn register_partial<P, M, F>(&self, name: &str, f: F, origin: Origin) -> Result<()>
    where
        P: Serialize + DeserializeOwned + Send + Sync + 'static,
        F: IntoPartialFunction<P, M> + Clone,
    {
        let name: Arc<str> = Arc::from(name);
        let func_name = name.clone();
        let factory = move |bytes: &[u8]| -> Result<Func> {
            let params: P = super::decode_params(&func_name, bytes)?;
            Func::partial(func_name.clone(), params, f.clone())
        };
        self.insert(FunctionEntry {
            name,
            origin,
            factory: Factory::Partial(Arc::new(factory)),
        })
    }

    /// Registers a family of functions under `name`: `make` rebuilds a
    /// member from its encoded parameters (see [`StaticFactory`]).
    ///
    /// ```
    /// use barrow_core::function::{FunctionRegistry, Input, Origin, decode_params};
    /// use barrow_core::{Func, Value};
    ///
    /// fn scale(by: f64) -> barrow_core::Result<Func> {
    ///     Func::partial("example.scale", by, |k: &f64, x: &f64| k * x)
    /// }
    /// let functions = FunctionRegistry::new();
    /// functions.register_factory(
    ///     "example.scale",
    ///     |bytes| scale(decode_params("example.scale", bytes)?),
    ///     Origin::Runtime,
    /// )?;
    /// // Another process gets the name and the bytes, and rebuilds the function.
    /// let sent = scale(3.0)?;
    /// let rebuilt = functions.resolve(sent.name(), sent.params())?;
    /// let out = rebuilt.call(&[Input::Value(Value::new(2.0f64))])?;
    /// assert_eq!(*out.downcast_ref::<f64>()?, 6.0);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn register_factory(
        &self,
        name: &str,
        make: impl Fn(&[u8]) -> Result<Func> + Send + Sync + 'static,
        origin: Origin,
    ) -> Result<()> {
        self.insert(FunctionEntry {
            name: Arc::from(name),
            origin,
            factory: Factory::Partial(Arc::new(make)),
        })
    }

    fn insert(&self, entry: FunctionEntry) -> Result<()> {
        let mut entries = self.write();
        if let Some(existing) = entries.get(&entry.name) {
            return Err(Error::new(
                ErrorKind::DuplicateFunction,
                format!(
                    "function '{}' is registered twice: by {} and by {}; rename one of them",
                    entry.name, existing.origin, entry.origin
                ),
            ));
        }
        entries.insert(entry.name.clone(), entry);
        Ok(())
    }

    /// The function registered under `name` (one without parameters).
    pub fn get(&self, name: &str) -> Result<Func> {
        self.resolve(name, None)
    }

    /// Rebuilds the function registered under `name`, binding encoded
    /// parameters when it takes them.
    pub fn resolve(&self, name: &str, params: Option<&[u8]>) -> Result<Func> {
        let factory = {
            let entries = self.read();
            match entries.get(name) {
                Some(entry) => entry.factory.clone(),
                None => return Err(self.unknown(name, &entries)),
            }
        };
        match (factory, params) {
            (Factory::Plain(func), None) => Ok(func),
            (Factory::Partial(make), Some(bytes)) => make(bytes),
            (Factory::Plain(_), Some(_)) => Err(Error::new(
                ErrorKind::UnknownFunction,
                format!(
                    "function '{name}' was registered without parameters, but the task binds some; \
                     register it with register_partial"
                ),
            )),
            (Factory::Partial(_), None) => Err(Error::new(
                ErrorKind::UnknownFunction,
                format!(
                    "function '{name}' takes parameters, but none were given; \
                     build it with Func::partial"
                ),
            )),
        }
    }

    fn unknown(&self, name: &str, entries: &HashMap<Arc<str>, FunctionEntry>) -> Error {
        let hint = did_you_mean(name, entries.keys().map(|k| &**k));
        let mut plugins: Vec<&str> = entries
            .values()
            .filter_map(|entry| match &entry.origin {
                Origin::Plugin(plugin) => Some(plugin.as_str()),
                _ => None,
            })
            .collect();
        plugins.sort_unstable();
        plugins.dedup();
        let loaded = if plugins.is_empty() {
            "no plugin's functions are registered".to_owned()
        } else {
            format!("plugins with functions here: {}", plugins.join(", "))
        };
        // `stats.zscore` is the plugin `stats`'s function `zscore`.
        let namespace = name
            .split_once('.')
            .map(|(ns, _)| ns)
            .filter(|ns| !ns.is_empty() && !plugins.contains(ns));
        let plugin_hint = match namespace {
            Some(ns) => format!(
                "; if plugin '{ns}' provides it, load it: add '{ns}' to plugins.load \
                 (BARROW_PLUGINS__LOAD) and its folder to plugins.paths"
            ),
            None => "; a plugin's functions come with it: plugins.load names the plugins to load"
                .to_owned(),
        };
        Error::new(
            ErrorKind::UnknownFunction,
            format!(
                "no function is registered under the name '{name}'{hint}; register it with \
                 #[barrow::task] or FunctionRegistry::register{plugin_hint} ({loaded})"
            ),
        )
    }

    /// Whether `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.read().contains_key(name)
    }

    /// The entry for `name`.
    pub fn entry(&self, name: &str) -> Option<FunctionEntry> {
        self.read().get(name).cloned()
    }

    /// All registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.read().keys().map(|k| k.to_string()).collect();
        names.sort();
        names
    }

    /// Registers every `#[barrow::task]` function and every
    /// [`StaticFactory`] linked into this program. Names registered already
    /// are skipped.
    pub fn register_static(&self) {
        let mut entries = self.write();
        for item in inventory::iter::<StaticFunction> {
            let name: Arc<str> = Arc::from(item.name);
            entries
                .entry(name.clone())
                .or_insert_with(|| FunctionEntry {
                    name,
                    origin: Origin::Static,
                    factory: Factory::Plain((item.make)()),
                });
        }
        for item in inventory::iter::<StaticFactory> {
            let name: Arc<str> = Arc::from(item.name);
            let make = item.make;
            entries
                .entry(name.clone())
                .or_insert_with(|| FunctionEntry {
                    name,
                    origin: Origin::Static,
                    factory: Factory::Partial(Arc::new(make)),
                });
        }
    }

    /// Whether a task calling `func` can run in another process built from
    /// the same program: its name is registered here, and it binds
    /// parameters exactly when the registration takes them. Run-time
    /// registrations count only if the other process makes them too (in
    /// the set-up function it hands to its worker hook).
    pub fn can_ship(&self, func: &Func) -> std::result::Result<(), String> {
        let entries = self.read();
        match entries.get(func.name()) {
            None => Err(self.unknown(func.name(), &entries).message().to_owned()),
            Some(entry) => match (&entry.factory, func.params()) {
                (Factory::Plain(_), None) | (Factory::Partial(_), Some(_)) => Ok(()),
                (Factory::Plain(_), Some(_)) => Err(format!(
                    "function '{}' binds parameters, but '{}' is registered (by {}) without \
                     any; register the family with register_factory or register_partial",
                    func.name(),
                    func.name(),
                    entry.origin
                )),
                (Factory::Partial(_), None) => Err(format!(
                    "function '{}' is registered (by {}) as taking parameters, but this one \
                     binds none; build it with Func::partial",
                    func.name(),
                    entry.origin
                )),
            },
        }
    }

    /// A fingerprint of what is registered: the sorted names with their
    /// origins, hashed with xxh3-64. Two processes of one build with the same
    /// registrations agree; a worker registering other functions does not.
    pub fn fingerprint(&self) -> u64 {
        let entries = self.read();
        let mut names: Vec<(&str, String)> = entries
            .values()
            .map(|e| (&*e.name, e.origin.to_string()))
            .collect();
        names.sort();
        let mut text = String::new();
        for (name, origin) in names {
            text.push_str(name);
            text.push('\0');
            text.push_str(&origin);
            text.push('\n');
        }
        xxhash_rust::xxh3::xxh3_64(text.as_bytes())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Arc<str>, FunctionEntry>> {
        // A panic while holding the lock cannot leave the map half-written
        // (every write is a single insert), so a poisoned lock is still usable.
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Arc<str>, FunctionEntry>> {
        self.entries.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for FunctionRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionRegistry")
            .field("names", &self.names())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::function::Input;
    use crate::value::Value;

    #[test]
    fn an_unknown_name_names_the_plugins_loaded_and_plugins_load() {
        let functions = FunctionRegistry::new();
        let err = functions.get("stats.zscore").unwrap_err().to_string();
        assert!(
            err.contains("no plugin's functions are registered"),
            "{err}"
        );
        assert!(
            err.contains("if plugin 'stats' provides it, load it: add 'stats' to plugins.load"),
            "{err}"
        );
        for plugin in ["hist", "stats"] {
            functions
                .register_from(
                    Func::new(format!("{plugin}.f"), |x: &i64| *x),
                    Origin::Plugin(plugin.into()),
                )
                .unwrap();
        }
        let err = functions.get("stats.zscore").unwrap_err().to_string();
        assert!(
            err.contains("plugins with functions here: hist, stats"),
            "{err}"
        );
        // The plugin is loaded: no advice to load it again.
        assert!(!err.contains("add 'stats' to plugins.load"), "{err}");
        let err = functions.get("lonely").unwrap_err().to_string();
        assert!(
            err.contains("plugins.load names the plugins to load"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_names_are_refused_naming_both_origins() {
        let functions = FunctionRegistry::new();
        functions.register(Func::new("f", |x: &i64| *x)).unwrap();
        let err = functions
            .register_from(Func::new("f", |x: &i64| *x), Origin::Plugin("stats".into()))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DuplicateFunction);
        assert!(err.to_string().contains("a run-time registration"));
        assert!(err.to_string().contains("plugin 'stats'"));
    }

    #[test]
    fn partial_functions_rebuild_from_encoded_params() {
        let functions = FunctionRegistry::new();
        functions
            .register_partial("scale", |k: &f64, x: &f64| k * x, Origin::Runtime)
            .unwrap();
        let bound = Func::partial("scale", 3.0f64, |k: &f64, x: &f64| k * x).unwrap();
        let rebuilt = functions.resolve("scale", bound.params()).unwrap();
        let out = rebuilt.call(&[Input::Value(Value::new(2.0f64))]).unwrap();
        assert_eq!(*out.downcast_ref::<f64>().unwrap(), 6.0);
        assert!(functions.get("scale").is_err());
        let err = functions.resolve("scale", Some(&[0xff])).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Codec);
    }
}
