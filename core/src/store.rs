//! Where intermediate results live while a graph runs.

use std::fmt;
use std::sync::{Arc, RwLock};

use crate::codec::CodecRegistry;
use crate::error::{Error, ErrorKind, Result};
use crate::key::Key;
use crate::value::Value;

/// Holds the results of finished tasks until no remaining task needs them.
///
/// The engine puts each result in, reads it back for the tasks that need it,
/// and removes it as soon as the last of them has run. Results are named by
/// the task's id in the run's plan (dense, from 0: a store can keep them in
/// a vector) and by its key (for file names and messages). A store serves
/// one run. The default keeps everything in memory ([`MemoryStore`]); a
/// spilling store moves the least recently used values to disk past a byte
/// budget (Dask's Chest / zict).
///
/// ```
/// use barrow_core::store::{MemoryStore, Store};
/// use barrow_core::{Key, Value};
///
/// let mut store = MemoryStore::new();
/// let x = Key::new("x");
/// store.put(0, &x, Value::new(vec![0u8; 100]))?;
/// assert_eq!(store.nbytes(), 100);
/// assert!(store.get(0, &x)?.is_some());
/// store.remove(0, &x)?;
/// assert_eq!(store.nbytes(), 0);
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub trait Store: Send {
    /// Stores the result of task `id` (key `key`), replacing any previous one.
    fn put(&mut self, id: u32, key: &Key, value: Value) -> Result<()>;

    /// The result of task `id`, if held (loading it back if it was spilled).
    fn get(&mut self, id: u32, key: &Key) -> Result<Option<Value>>;

    /// Drops the result of task `id`, if held.
    fn remove(&mut self, id: u32, key: &Key) -> Result<()>;

    /// Whether the result of task `id` is held.
    fn contains(&self, id: u32) -> bool;

    /// Bytes of the results held in memory (by their `nbytes` estimates).
    fn nbytes(&self) -> usize;

    /// Number of results held.
    fn len(&self) -> usize;

    /// Whether no result is held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this store keeps results in memory and nothing else, as a
    /// plain map would (no spilling, no side effects a caller could
    /// observe). A scheduler may then keep a run's results in a structure
    /// of its own instead, when the store is empty at the start (the
    /// `threads` scheduler does, so that its workers never share a lock).
    /// `false` unless a store says otherwise.
    fn is_memory_only(&self) -> bool {
        false
    }
}

/// The default store: results in a vector indexed by task id.
#[derive(Default)]
pub struct MemoryStore {
    values: Vec<Option<Value>>,
    len: usize,
    nbytes: usize,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl Store for MemoryStore {
    fn put(&mut self, id: u32, _key: &Key, value: Value) -> Result<()> {
        let slot = id as usize;
        if slot >= self.values.len() {
            self.values.resize(slot + 1, None);
        }
        self.nbytes += value.nbytes();
        match self.values[slot].replace(value) {
            Some(old) => self.nbytes -= old.nbytes(),
            None => self.len += 1,
        }
        Ok(())
    }

    fn get(&mut self, id: u32, _key: &Key) -> Result<Option<Value>> {
        Ok(self.values.get(id as usize).cloned().flatten())
    }

    fn remove(&mut self, id: u32, _key: &Key) -> Result<()> {
        if let Some(old) = self.values.get_mut(id as usize).and_then(Option::take) {
            self.nbytes -= old.nbytes();
            self.len -= 1;
        }
        Ok(())
    }

    fn contains(&self, id: u32) -> bool {
        self.values.get(id as usize).is_some_and(Option::is_some)
    }

    fn nbytes(&self) -> usize {
        self.nbytes
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_memory_only(&self) -> bool {
        true
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("len", &self.len)
            .field("nbytes", &self.nbytes)
            .finish()
    }
}

/// What a store factory learns about the run it would serve.
#[derive(Debug)]
#[non_exhaustive]
pub struct StoreRequest<'a> {
    /// The run's configuration (the call's options on top).
    pub config: &'a barrow_config::Snapshot,
    /// The codecs of the run's registry, shared so that a store can keep
    /// them for as long as it lives (to spill values, say).
    pub codecs: &'a Arc<CodecRegistry>,
}

/// What a store factory gives: a store, `None` to leave the choice to the
/// next factory, or an error.
pub type MadeStore = Result<Option<Box<dyn Store>>>;

/// Makes the store of a run when the run's configuration asks for it.
pub type StoreFactory = dyn Fn(&StoreRequest<'_>) -> MadeStore + Send + Sync;

/// A store factory registered at compile time by the crate that provides
/// it (as `barrow-local` registers its spilling store, chosen when
/// `local.spill.memory-limit` is set); collected into
/// [`Registry::with_static`](crate::Registry::with_static) registries.
pub struct StaticStore {
    /// The name, for messages and [`StoreRegistry::names`].
    pub name: &'static str,
    /// Makes the store if the configuration asks for it.
    pub make: fn(&StoreRequest<'_>) -> MadeStore,
}

impl fmt::Debug for StaticStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticStore")
            .field("name", &self.name)
            .finish()
    }
}

inventory::collect!(StaticStore);

/// Store factories, asked in turn when a run starts without a store of its
/// own (see [`Options::store`](crate::Options::store)): the first that
/// makes one wins, and with none, results stay in a [`MemoryStore`].
/// Factories registered at compile time come first, by name; then those
/// registered at run time, in order.
#[derive(Default)]
pub struct StoreRegistry {
    factories: RwLock<Vec<(String, Arc<StoreFactory>)>>,
}

impl StoreRegistry {
    /// An empty registry.
    pub fn new() -> StoreRegistry {
        StoreRegistry::default()
    }

    /// Registers a factory under `name`. A name already taken is an error.
    pub fn register(
        &self,
        name: &str,
        make: impl Fn(&StoreRequest<'_>) -> MadeStore + Send + Sync + 'static,
    ) -> Result<()> {
        let mut factories = self.factories.write().unwrap_or_else(|e| e.into_inner());
        if factories.iter().any(|(taken, _)| taken == name) {
            return Err(Error::new(
                ErrorKind::Store,
                format!("a store factory is already registered under the name '{name}'"),
            ));
        }
        factories.push((name.to_owned(), Arc::new(make)));
        Ok(())
    }

    /// The store the first willing factory makes for `request`, or `None`
    /// when none is willing. A factory's error names the factory.
    pub fn make(&self, request: &StoreRequest<'_>) -> MadeStore {
        let factories = self
            .factories
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for (name, make) in factories {
            if let Some(store) = make(request).map_err(|e| {
                let message = format!("cannot make the '{name}' store: {}", e.message());
                Error::new(e.kind(), message).with_source(e)
            })? {
                return Ok(Some(store));
            }
        }
        Ok(None)
    }

    /// Whether a factory is registered under `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.factories
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|(taken, _)| taken == name)
    }

    /// The names of the factories, in the order they are asked.
    pub fn names(&self) -> Vec<String> {
        self.factories
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Registers every factory linked into this program through
    /// [`StaticStore`], by name; names already taken are skipped.
    pub fn register_static(&self) {
        let mut items: Vec<&StaticStore> = inventory::iter::<StaticStore>.into_iter().collect();
        items.sort_by_key(|item| item.name);
        for item in items {
            let make = item.make;
            // A taken name is skipped on purpose: the first registration wins.
            let _ = self.register(item.name, move |request: &StoreRequest<'_>| make(request));
        }
    }
}

impl fmt::Debug for StoreRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreRegistry")
            .field("names", &self.names())
            .finish()
    }
}

/// Stands in for a store that could not be made, in a context that cannot
/// fail when built ([`RunContext::with_config`](crate::RunContext::with_config)):
/// the run fails with the error on its first store operation.
pub(crate) struct UnavailableStore {
    kind: ErrorKind,
    message: String,
}

impl UnavailableStore {
    pub(crate) fn new(error: &Error) -> UnavailableStore {
        UnavailableStore {
            kind: error.kind(),
            message: error.to_string(),
        }
    }

    fn error(&self) -> Error {
        Error::new(self.kind, self.message.clone())
    }
}

impl Store for UnavailableStore {
    fn put(&mut self, _id: u32, _key: &Key, _value: Value) -> Result<()> {
        Err(self.error())
    }

    fn get(&mut self, _id: u32, _key: &Key) -> Result<Option<Value>> {
        Err(self.error())
    }

    fn remove(&mut self, _id: u32, _key: &Key) -> Result<()> {
        Ok(())
    }

    fn contains(&self, _id: u32) -> bool {
        false
    }

    fn nbytes(&self) -> usize {
        0
    }

    fn len(&self) -> usize {
        0
    }
}
