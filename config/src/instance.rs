//! A configuration instance: its sources, its loaded layers and its global
//! overrides; plus the process-wide instance and the per-thread default.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use crate::error::Result;
use crate::key::{canonical_key, is_inside};
use crate::load::{Base, load};
use crate::overrides::{checked, has_scoped, scoped_entries};
use crate::schema::Schema;
use crate::snapshot::Snapshot;
use crate::sources::{SearchPath, Sources};
use crate::value::{Entry, Origin, Value};

/// A configuration: where it is read from (its [`Sources`]), the layers
/// loaded from there, and its global overrides.
///
/// The process has one, built from the real environment on first use
/// ([`Config::process`]); tests and tools build their own from explicit
/// sources. Cloning is cheap and clones share everything.
///
/// ```
/// use barrow_config::{Config, Origin, Sources};
///
/// let config = Config::new(Sources::from_env([("BARROW_SCHEDULER", "threads")]).with_home(None));
/// assert_eq!(config.snapshot()?.get::<String>("scheduler")?.as_deref(), Some("threads"));
///
/// // Global overrides beat files and variables, for every thread.
/// config.set_global("scheduler", "sync")?;
/// let snapshot = config.snapshot()?;
/// assert_eq!(snapshot.get::<String>("scheduler")?.as_deref(), Some("sync"));
/// assert_eq!(snapshot.lookup("scheduler")?.origin(), &Origin::Global);
/// # Ok::<(), barrow_config::Error>(())
/// ```
#[derive(Clone)]
pub struct Config(Arc<Inner>);

struct Inner {
    sources: Sources,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Layers 2 to 5, loaded on first use and by `refresh`.
    base: Option<Arc<Base>>,
    /// Layer 6, by canonical key.
    global: BTreeMap<String, Entry>,
    /// The last snapshot without scoped overrides.
    cached: Option<Snapshot>,
    /// Bumped by every change, so a snapshot built from older state is not
    /// cached.
    generation: u64,
}

impl State {
    fn changed(&mut self) {
        self.cached = None;
        self.generation += 1;
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("sources", &self.0.sources)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// A configuration read from `sources`. Nothing is read until first use.
    pub fn new(sources: Sources) -> Config {
        Config(Arc::new(Inner {
            sources,
            state: Mutex::new(State::default()),
        }))
    }

    /// The process-wide configuration, read from the process's environment
    /// and the real system and home directories.
    pub fn process() -> &'static Config {
        static PROCESS: OnceLock<Config> = OnceLock::new();
        PROCESS.get_or_init(|| Config::new(Sources::from_process()))
    }

    /// The configuration this thread reads: the innermost one installed with
    /// [`set_default`](Self::set_default), else [`Config::process`].
    pub fn current() -> Config {
        DEFAULTS
            .with(|stack| stack.borrow().last().map(|(_, config)| config.clone()))
            .unwrap_or_else(|| Config::process().clone())
    }

    /// Makes this configuration the one the current thread reads (through
    /// [`Config::current`] and the crate's free functions) until the guard
    /// drops. Guards nest, like `tracing`'s `set_default`.
    pub fn set_default(&self) -> DefaultGuard {
        let id = NEXT_DEFAULT.fetch_add(1, Ordering::Relaxed);
        DEFAULTS.with(|stack| stack.borrow_mut().push((id, self.clone())));
        DefaultGuard {
            id,
            _thread_bound: PhantomData,
        }
    }

    /// Where this configuration is read from.
    pub fn sources(&self) -> &Sources {
        &self.0.sources
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The whole configuration now, as this thread sees it: the loaded
    /// layers, the global overrides and this thread's scoped overrides.
    ///
    /// The first call reads the files and the environment; later calls reuse
    /// them until [`refresh`](Self::refresh). Fails if a file is malformed.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let schema = Schema::current();
        let scoped = has_scoped();
        // The lock is never held while files are read or warnings logged:
        // a `tracing` subscriber may itself read the configuration.
        let (base, global, generation) = {
            let state = self.state();
            if !scoped
                && let Some(cached) = &state.cached
                && std::ptr::eq(cached.schema(), schema.as_ref())
            {
                return Ok(cached.clone());
            }
            let global: Vec<(String, Entry)> = state
                .global
                .iter()
                .map(|(k, e)| (k.clone(), e.clone()))
                .collect();
            (state.base.clone(), global, state.generation)
        };
        let base = match base {
            Some(base) => base,
            None => {
                let loaded = Arc::new(load(&self.0.sources, &schema)?);
                // Another thread may have loaded meanwhile: keep the first.
                self.state().base.get_or_insert(loaded).clone()
            }
        };
        let snapshot = if scoped {
            Snapshot::build(schema, &base, global.into_iter().chain(scoped_entries()))
        } else {
            Snapshot::build(schema, &base, global)
        };
        if !scoped {
            let mut state = self.state();
            if state.generation == generation {
                state.cached = Some(snapshot.clone());
            }
        }
        Ok(snapshot)
    }

    /// Reads the files and the environment again. Overrides set in code stay.
    pub fn refresh(&self) -> Result<()> {
        let base = load(&self.0.sources, &Schema::current())?;
        let mut state = self.state();
        state.base = Some(Arc::new(base));
        state.changed();
        Ok(())
    }

    /// Overrides `key` for every thread (layer 6: above files and variables,
    /// below scoped overrides). A mapping value sets the keys inside it
    /// (`("array", {"chunk-size": "2MiB"})`), and replaces the earlier
    /// global values it covers as a later layer would. Values of declared
    /// keys must fit their types; [`Value::Null`] (or `None`) unsets an
    /// optional key. Keys nobody declared are kept as given.
    pub fn set_global(&self, key: &str, value: impl Into<Value>) -> Result<()> {
        let entries = checked([(key, value)], &Origin::Global, &Schema::current())?;
        let mut state = self.state();
        for (key, entry) in entries {
            let merges_only = matches!(&entry.value, Value::Map(map) if map.is_empty());
            if merges_only && state.global.keys().any(|k| is_inside(k, &key)) {
                continue;
            }
            state
                .global
                .retain(|k, _| !is_inside(k, &key) && !is_inside(&key, k));
            state.global.insert(key, entry);
        }
        state.changed();
        Ok(())
    }

    /// Removes the global override of `key` and of the keys inside it;
    /// returns whether there was one.
    pub fn remove_global(&self, key: &str) -> bool {
        let key = canonical_key(key);
        let mut state = self.state();
        state.changed();
        let before = state.global.len();
        state.global.retain(|k, _| *k != key && !is_inside(k, &key));
        state.global.len() != before
    }

    /// Removes every global override.
    pub fn clear_global(&self) {
        let mut state = self.state();
        state.global.clear();
        state.changed();
    }

    /// Where configuration files are searched, lowest layer first, as the
    /// sources say now (this reads the folders, not the files).
    pub fn search_path(&self) -> Vec<SearchPath> {
        self.0.sources.resolve().search_path().0
    }
}

thread_local! {
    static DEFAULTS: RefCell<Vec<(u64, Config)>> = const { RefCell::new(Vec::new()) };
}

static NEXT_DEFAULT: AtomicU64 = AtomicU64::new(1);

/// Keeps a [`Config`] installed as this thread's default; dropping it
/// restores the previous default. Made by [`Config::set_default`].
#[must_use = "the default is restored when the guard is dropped"]
pub struct DefaultGuard {
    id: u64,
    _thread_bound: PhantomData<*const ()>,
}

impl fmt::Debug for DefaultGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultGuard")
            .field("id", &self.id)
            .finish()
    }
}

impl Drop for DefaultGuard {
    fn drop(&mut self) {
        let _ = DEFAULTS.try_with(|stack| stack.borrow_mut().retain(|(id, _)| *id != self.id));
    }
}
