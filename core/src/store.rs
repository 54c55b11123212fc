//! Where intermediate results live while a graph runs.

use std::fmt;

use crate::error::Result;
use crate::key::{Key, KeyMap};
use crate::value::Value;

/// Holds the results of finished tasks until no remaining task needs them.
///
/// The engine puts each result in, reads it back for the tasks that need it,
/// and removes it as soon as the last of them has run. The default keeps
/// everything in memory ([`MemoryStore`]); a spilling store moves the least
/// recently used values to disk past a byte budget (Dask's Chest / zict).
///
/// ```
/// use barrow_core::store::{MemoryStore, Store};
/// use barrow_core::{Key, Value};
///
/// let mut store = MemoryStore::new();
/// store.put(&Key::new("x"), Value::new(vec![0u8; 100]))?;
/// assert_eq!(store.nbytes(), 100);
/// assert!(store.get(&Key::new("x"))?.is_some());
/// store.remove(&Key::new("x"))?;
/// assert_eq!(store.nbytes(), 0);
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub trait Store: Send {
    /// Stores the result of `key`, replacing any previous one.
    fn put(&mut self, key: &Key, value: Value) -> Result<()>;

    /// The result of `key`, if held (loading it back if it was spilled).
    fn get(&mut self, key: &Key) -> Result<Option<Value>>;

    /// Drops the result of `key`, if held.
    fn remove(&mut self, key: &Key) -> Result<()>;

    /// Whether the result of `key` is held.
    fn contains(&self, key: &Key) -> bool;

    /// Bytes of the results held in memory (by their `nbytes` estimates).
    fn nbytes(&self) -> usize;

    /// Number of results held.
    fn len(&self) -> usize;

    /// Whether no result is held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The default store: a map in memory.
#[derive(Default)]
pub struct MemoryStore {
    values: KeyMap<Value>,
    nbytes: usize,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl Store for MemoryStore {
    fn put(&mut self, key: &Key, value: Value) -> Result<()> {
        self.nbytes += value.nbytes();
        if let Some(old) = self.values.insert(key.clone(), value) {
            self.nbytes -= old.nbytes();
        }
        Ok(())
    }

    fn get(&mut self, key: &Key) -> Result<Option<Value>> {
        Ok(self.values.get(key).cloned())
    }

    fn remove(&mut self, key: &Key) -> Result<()> {
        if let Some(old) = self.values.remove(key) {
            self.nbytes -= old.nbytes();
        }
        Ok(())
    }

    fn contains(&self, key: &Key) -> bool {
        self.values.contains_key(key)
    }

    fn nbytes(&self) -> usize {
        self.nbytes
    }

    fn len(&self) -> usize {
        self.values.len()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("len", &self.values.len())
            .field("nbytes", &self.nbytes)
            .finish()
    }
}
