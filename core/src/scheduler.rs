//! The [`Scheduler`] trait, the context a run carries, and the registry of
//! schedulers by name.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use crate::callback::Callback;
use crate::error::{Error, ErrorKind, Result};
use crate::graph::Graph;
use crate::key::Key;
use crate::options::Options;
use crate::registry::Registry;
use crate::store::{MemoryStore, Store, StoreRequest, UnavailableStore};
use crate::value::Value;

/// Runs task graphs. One required method: run this graph, return the values
/// of these keys in the same order.
///
/// The built-in schedulers (`sync`, `threads`, `processes`) live in their own
/// crates and register themselves by name; a plugin or a user can add more.
/// Anything a scheduler needs beyond the graph (callbacks, options, the store,
/// the registries) comes in the [`RunContext`].
pub trait Scheduler: Send + Sync {
    /// Runs `graph` and returns the values of `keys`, in the same order.
    fn get(&self, graph: &Graph, keys: &[Key], ctx: &mut RunContext<'_>) -> Result<Vec<Value>>;

    /// The name used in config, logs and errors.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }
}

/// What one run carries besides the graph: callbacks, options, the store for
/// intermediate results, and the registries.
pub struct RunContext<'a> {
    registry: &'a Registry,
    options: &'a Options,
    config: barrow_config::Snapshot,
    callbacks: Vec<Arc<dyn Callback>>,
    store: Box<dyn Store>,
}

impl<'a> RunContext<'a> {
    /// A context with the given registry and options: the configuration of
    /// the current thread now (scoped overrides included) under the options'
    /// settings, the options' callbacks, and a store for intermediate
    /// results: the options' store, else one that a factory of the
    /// registry's [`stores`](Registry::stores) makes because the
    /// configuration asks for it (a spilling store when
    /// `local.spill.memory-limit` is set and `barrow-local` is linked), else
    /// an in-memory store. Fails on a bad configuration or a store that
    /// cannot be made.
    pub fn new(registry: &'a Registry, options: &'a Options) -> Result<RunContext<'a>> {
        let config = options.resolve_config()?;
        let store = RunContext::make_store(registry, options, &config)?;
        Ok(RunContext::with_store(registry, options, config, store))
    }

    /// Like [`RunContext::new`], with the configuration given. A store that
    /// cannot be made fails the run at its first store operation.
    pub fn with_config(
        registry: &'a Registry,
        options: &'a Options,
        config: barrow_config::Snapshot,
    ) -> RunContext<'a> {
        let store = RunContext::make_store(registry, options, &config)
            .unwrap_or_else(|error| Box::new(UnavailableStore::new(&error)));
        RunContext::with_store(registry, options, config, store)
    }

    fn make_store(
        registry: &Registry,
        options: &Options,
        config: &barrow_config::Snapshot,
    ) -> Result<Box<dyn Store>> {
        if let Some(store) = options.make_store() {
            return Ok(store);
        }
        let request = StoreRequest {
            config,
            codecs: &registry.shared_codecs(),
        };
        Ok(registry
            .stores()
            .make(&request)?
            .unwrap_or_else(|| Box::new(MemoryStore::new())))
    }

    fn with_store(
        registry: &'a Registry,
        options: &'a Options,
        config: barrow_config::Snapshot,
        store: Box<dyn Store>,
    ) -> RunContext<'a> {
        RunContext {
            registry,
            options,
            config,
            callbacks: options.callbacks().to_vec(),
            store,
        }
    }

    /// The configuration of this run, taken when it started.
    pub fn config(&self) -> &barrow_config::Snapshot {
        &self.config
    }

    /// How many workers to use: the call's choice, else `num-workers` from
    /// the configuration, else the number of cores.
    pub fn num_workers(&self) -> Result<usize> {
        match self.options.num_workers_option() {
            Some(n) => Ok(n),
            None => Ok(self.config.num_workers()?),
        }
    }

    /// The registries (functions, codecs, schedulers).
    pub fn registry(&self) -> &'a Registry {
        self.registry
    }

    /// The options of this run.
    pub fn options(&self) -> &'a Options {
        self.options
    }

    /// The callbacks to call, in order.
    pub fn callbacks(&self) -> &[Arc<dyn Callback>] {
        &self.callbacks
    }

    /// Adds a callback for this run.
    pub fn add_callback(&mut self, callback: Arc<dyn Callback>) {
        self.callbacks.push(callback);
    }

    /// The store of intermediate results.
    pub fn store(&mut self) -> &mut dyn Store {
        &mut *self.store
    }

    /// Replaces the store of intermediate results.
    pub fn set_store(&mut self, store: Box<dyn Store>) {
        self.store = store;
    }
}

impl fmt::Debug for RunContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunContext")
            .field("options", &self.options)
            .field("callbacks", &self.callbacks.len())
            .finish()
    }
}

/// Makes a scheduler configured by the run's options.
pub type SchedulerFactory = dyn Fn(&Options) -> Result<Arc<dyn Scheduler>> + Send + Sync;

/// A scheduler registered at compile time by the crate that provides it;
/// collected into the process-wide registry on first use.
pub struct StaticScheduler {
    /// The canonical name first, then aliases (matched case-insensitively).
    pub names: &'static [&'static str],
    /// Makes the scheduler.
    pub make: fn(&Options) -> Result<Arc<dyn Scheduler>>,
}

impl fmt::Debug for StaticScheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticScheduler")
            .field("names", &self.names)
            .finish()
    }
}

inventory::collect!(StaticScheduler);

#[derive(Clone)]
struct SchedulerEntry {
    canonical: String,
    make: Arc<SchedulerFactory>,
}

/// Schedulers by name. Names are case-insensitive and may have aliases
/// (`sync`, `synchronous`, `single-threaded`).
#[derive(Default)]
pub struct SchedulerRegistry {
    entries: RwLock<BTreeMap<String, SchedulerEntry>>,
}

impl SchedulerRegistry {
    /// An empty registry.
    pub fn new() -> SchedulerRegistry {
        SchedulerRegistry::default()
    }

    /// Registers a scheduler under `names` (the canonical name first). A name
    /// already taken is an error.
    pub fn register(
        &self,
        names: &[&str],
        make: impl Fn(&Options) -> Result<Arc<dyn Scheduler>> + Send + Sync + 'static,
    ) -> Result<()> {
        let Some(canonical) = names.first() else {
            return Err(Error::new(
                ErrorKind::UnknownScheduler,
                "a scheduler must be registered under at least one name",
            ));
        };
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        for name in names {
            if let Some(existing) = entries.get(&name.to_lowercase()) {
                return Err(Error::new(
                    ErrorKind::UnknownScheduler,
                    format!(
                        "the scheduler name '{name}' is taken by '{}'; choose another",
                        existing.canonical
                    ),
                ));
            }
        }
        let entry = SchedulerEntry {
            canonical: canonical.to_string(),
            make: Arc::new(make),
        };
        for name in names {
            entries.insert(name.to_lowercase(), entry.clone());
        }
        Ok(())
    }

    /// Makes the scheduler registered under `name` (any case), configured by
    /// `options`; an unknown name is an error listing the available ones.
    pub fn get(&self, name: &str, options: &Options) -> Result<Arc<dyn Scheduler>> {
        let entry = self
            .entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&name.to_lowercase())
            .cloned();
        match entry {
            Some(entry) => (entry.make)(options),
            None => {
                let available = self.names();
                let hint = if available.is_empty() {
                    "no scheduler is registered: add barrow-local (or the barrow crate with its \
                     default features) to your dependencies"
                        .to_string()
                } else {
                    format!("available: {}", available.join(", "))
                };
                Err(Error::new(
                    ErrorKind::UnknownScheduler,
                    format!("no scheduler is named '{name}'; {hint}"),
                ))
            }
        }
    }

    /// Whether `name` (any case) is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&name.to_lowercase())
    }

    /// Every registered name, aliases included, sorted.
    pub fn names(&self) -> Vec<String> {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// Registers every scheduler linked into this program through
    /// [`StaticScheduler`]; names already taken are skipped.
    pub fn register_static(&self) {
        for item in inventory::iter::<StaticScheduler> {
            if item.names.iter().any(|n| self.contains(n)) {
                continue;
            }
            let make = item.make;
            // Cannot fail: no name is taken (checked above).
            let _ = self.register(item.names, move |options: &Options| make(options));
        }
    }
}

impl fmt::Debug for SchedulerRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchedulerRegistry")
            .field("names", &self.names())
            .finish()
    }
}
