//! Where intermediate results live while a graph runs.

use std::fmt;

use crate::error::Result;
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
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("len", &self.len)
            .field("nbytes", &self.nbytes)
            .finish()
    }
}
