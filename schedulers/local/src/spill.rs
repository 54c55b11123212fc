//! A store that spills to disk (Dask's `cache=` with Chest, or zict): it
//! keeps results in memory up to a byte budget and moves the least recently
//! used ones to a file, loading them back when they are read.
//!
//! A computation uses it by itself when `local.spill.memory-limit` is set
//! (in a file, a variable, a scoped override, or for one call), as long as
//! this crate is linked: it registers a store factory with `barrow-core`
//! ([`StaticStore`]) that [`RunContext`](barrow_core::RunContext) asks when
//! a run starts without a store of its own.
//!
//! ```
//! use barrow_core::arg::key;
//! use barrow_core::collection::GraphKeys;
//! use barrow_core::{Func, Graph, Options, Task, compute_with};
//!
//! let ones = Func::new("ones", |n: &i64| vec![1.0f64; *n as usize]);
//! let sum = Func::new("sum", |a: &Vec<f64>, b: &Vec<f64>| a.iter().chain(b).sum::<f64>());
//! let graph = Graph::from_tasks([
//!     ("n", Task::literal(100_000i64)),
//!     ("a", Task::call(&ones, [key("n")])),
//!     ("b", Task::call(&ones, [key("n")])),
//!     ("total", Task::call(&sum, [key("a"), key("b")])),
//! ])?;
//! barrow_local::link();
//! // Two 800 kB intermediates through a 1 MB budget: one goes to disk.
//! let options = Options::new().scheduler("sync").set("local.spill.memory-limit", "1MB");
//! let total = compute_with(GraphKeys::new(graph, ["total"]), &options)?;
//! assert_eq!(*total[0].downcast_ref::<f64>()?, 200_000.0);
//! # Ok::<(), barrow_core::Error>(())
//! ```
//!
//! What it promises:
//!
//! - **Budget.** After every `put` and `get`, the bytes held in memory (by
//!   [`Value::nbytes`]) are at most the budget, unless what is left in
//!   memory is only values that have no codec. A value read back from disk
//!   counts as used most recently, and may go straight back to disk (for
//!   free: its bytes on disk are kept until the result is removed).
//! - **Nothing silently lost.** A value with no codec stays in memory and is
//!   counted ([`SpillStats::no_codec_count`]). A value is dropped from
//!   memory only once it is written; a failed write (a full disk, an
//!   unwritable folder) is an error naming the path and the key.
//! - **No files left behind.** Spilled values share one file (space freed by
//!   removed results is reused) in a folder of the store's own inside
//!   `temporary-directory`, made at the first spill and removed with
//!   everything in it when the store is dropped: after the run, after an
//!   error, after a panic. One file, not one per value: creating a file
//!   costs far more than writing into one (0.8 ms against 1 µs on the
//!   project's machine), and a run may spill hundreds of thousands of
//!   values.
//!
//! Values are encoded with `barrow-wire` through the run's codec registry
//! (raw buffers for vectors of numbers, postcard for serde types), lz4 for
//! payloads above 64 KiB when that saves space. A value read back is a new
//! value made by its codec, so its `nbytes` is estimated anew; the store
//! keeps counting it by the size it had when it was put.

mod arena;
mod lru;

use std::any::TypeId;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use barrow_core::codec::CodecRegistry;
use barrow_core::config::TemporaryDirectory;
use barrow_core::store::{MadeStore, StaticStore, Store, StoreRequest};
use barrow_core::{Error, ErrorKind, Key, Result, Value};
use barrow_wire::{Compression, WireOptions};

use arena::{Arena, Extent};
use lru::Lru;

inventory::submit! {
    StaticStore { name: "spill", make: SpillStore::make }
}

/// What a [`SpillStore`] holds and has done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpillStats {
    /// The byte budget of values in memory.
    pub memory_limit: usize,
    /// Bytes of the values in memory now (by their `nbytes`).
    pub resident_bytes: usize,
    /// Number of values in memory now.
    pub resident_count: usize,
    /// Number of values held only on disk now.
    pub disk_count: usize,
    /// Bytes of the spill file in use now (by values on disk only, and by
    /// kept copies of values read back).
    pub disk_bytes: u64,
    /// Bytes (by `nbytes`) of the values moved out of memory so far.
    pub spilled_bytes: u64,
    /// Number of times a value was moved out of memory so far.
    pub spilled_count: u64,
    /// Bytes written to the spill file so far.
    pub written_bytes: u64,
    /// Number of values read back from disk so far.
    pub loaded_count: u64,
    /// Number of values kept in memory now because no codec encodes them.
    pub no_codec_count: usize,
    /// Bytes of those values.
    pub no_codec_bytes: usize,
}

/// Results in memory up to a byte budget, the least recently used past it
/// in a spill file (see the [module docs](self)).
///
/// ```
/// use std::sync::Arc;
/// use barrow_core::codec::CodecRegistry;
/// use barrow_core::store::Store;
/// use barrow_core::{Key, Value};
/// use barrow_local::spill::SpillStore;
///
/// let folder = tempfile::tempdir()?;
/// let codecs = Arc::new(CodecRegistry::with_builtins());
/// let mut store = SpillStore::new(1000, folder.path(), codecs);
/// let (a, b) = (Key::new("a"), Key::new("b"));
/// store.put(0, &a, Value::new(vec![1.0f64; 100]))?; // 800 bytes
/// store.put(1, &b, Value::new(vec![2.0f64; 100]))?; // 800 more: `a` goes to disk
/// assert_eq!(store.stats().spilled_count, 1);
/// assert_eq!(store.nbytes(), 800);
/// let back = store.get(0, &a)?.unwrap(); // read back; now `b` is on disk
/// assert_eq!(back.downcast_ref::<Vec<f64>>()?, &vec![1.0; 100]);
/// let spill_folder = store.spill_dir().unwrap().to_path_buf();
/// drop(store);
/// assert!(!spill_folder.exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SpillStore {
    slots: Vec<Option<Slot>>,
    lru: Lru,
    len: usize,
    codecs: Arc<CodecRegistry>,
    wire: WireOptions,
    arena: Arena,
    stats: SpillStats,
    /// Where to leave the final figures when the store is dropped.
    report: Option<Arc<Mutex<Option<SpillStats>>>>,
}

/// One held result.
struct Slot {
    key: Key,
    nbytes: usize,
    type_id: TypeId,
    type_name: &'static str,
    state: State,
    /// Where it lies in the spill file, once written: while the value is on
    /// disk only, or as a copy of a value read back (so spilling it again
    /// costs nothing).
    extent: Option<Extent>,
}

enum State {
    /// In memory, and in the LRU order.
    Memory(Value),
    /// In memory for good: no codec encodes it.
    NoCodec(Value),
    /// On disk only.
    Disk,
}

impl SpillStore {
    /// A store keeping up to `memory_limit` bytes of values in memory and
    /// spilling the rest into a folder of its own inside `parent`, made at
    /// the first spill, with `codecs`.
    pub fn new(
        memory_limit: usize,
        parent: impl Into<PathBuf>,
        codecs: Arc<CodecRegistry>,
    ) -> SpillStore {
        SpillStore {
            slots: Vec::new(),
            lru: Lru::new(),
            len: 0,
            codecs,
            wire: WireOptions::new().compression(Compression::Lz4),
            arena: Arena::new(parent.into()),
            stats: SpillStats {
                memory_limit,
                ..SpillStats::default()
            },
            report: None,
        }
    }

    /// A store like [`SpillStore::new`] whose folder goes in the
    /// configuration's temporary directory: `temporary-directory`, or the
    /// system's if the configured one cannot be used when the first value
    /// spills (with a warning, once per process, naming it), as the key's
    /// documentation promises.
    pub fn in_temporary_directory(
        memory_limit: usize,
        directory: TemporaryDirectory,
        codecs: Arc<CodecRegistry>,
    ) -> SpillStore {
        let mut store = SpillStore::new(memory_limit, directory.preferred(), codecs);
        store.arena = Arena::configured(directory);
        store
    }

    /// The store that `config` asks for: `None` when
    /// `local.spill.memory-limit` is unset, else one with that budget
    /// spilling inside `temporary-directory`, else (unset, or unusable when
    /// the first value spills: a warning says so) inside the system's
    /// temporary directory. Fails on a bad value. The directory is made (if
    /// missing) and written at the first spill, not before: a run that
    /// never spills touches no disk; a run whose spill folder can be made
    /// in neither directory fails then, with an error of kind
    /// [`ErrorKind::Store`] naming both.
    pub fn from_config(
        config: &barrow_core::config::Snapshot,
        codecs: Arc<CodecRegistry>,
    ) -> Result<Option<SpillStore>> {
        let Some(limit) =
            config.get::<barrow_core::config::ByteSize>("local.spill.memory-limit")?
        else {
            return Ok(None);
        };
        let directory = config.temporary_directory_choice()?;
        let limit = usize::try_from(limit.as_u64()).unwrap_or(usize::MAX);
        Ok(Some(SpillStore::in_temporary_directory(
            limit, directory, codecs,
        )))
    }

    /// The factory registered with `barrow-core`: [`SpillStore::from_config`]
    /// with the run's configuration and codecs.
    pub fn make(request: &StoreRequest<'_>) -> MadeStore {
        Ok(
            SpillStore::from_config(request.config, request.codecs.clone())?
                .map(|store| Box::new(store) as Box<dyn Store>),
        )
    }

    /// Encodes spilled values as `options` say (default: lz4 above 64 KiB).
    pub fn with_wire_options(mut self, options: WireOptions) -> SpillStore {
        self.wire = options;
        self
    }

    /// Leaves the store's final [`SpillStats`] in `slot` when it is
    /// dropped: a run owns its store and drops it at the end, so this is
    /// how a caller that handed a store to a run (with
    /// [`Options::store`](barrow_core::Options::store)) learns what it
    /// spilled.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use barrow_core::codec::CodecRegistry;
    /// use barrow_local::SpillStore;
    ///
    /// let slot = Arc::new(Mutex::new(None));
    /// let folder = tempfile::tempdir()?;
    /// let store = SpillStore::new(1000, folder.path(), Arc::new(CodecRegistry::with_builtins()))
    ///     .report_stats_to(slot.clone());
    /// drop(store);
    /// assert_eq!(slot.lock().unwrap().map(|s| s.memory_limit), Some(1000));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn report_stats_to(mut self, slot: Arc<Mutex<Option<SpillStats>>>) -> SpillStore {
        self.report = Some(slot);
        self
    }

    /// The byte budget of values in memory.
    pub fn memory_limit(&self) -> usize {
        self.stats.memory_limit
    }

    /// What the store holds and has done.
    pub fn stats(&self) -> SpillStats {
        SpillStats {
            resident_count: self.len - self.stats.disk_count,
            ..self.stats
        }
    }

    /// The folder the spill folder is made in (for a store made from the
    /// configuration, the one chosen once it is made).
    pub fn parent_dir(&self) -> &Path {
        self.arena.parent()
    }

    /// The store's own spill folder, once the first value was spilled.
    pub fn spill_dir(&self) -> Option<&Path> {
        self.arena.dir()
    }

    /// The spill file in the spill folder, once the first value was spilled.
    pub fn spill_file(&self) -> Option<&Path> {
        self.arena.path()
    }

    /// Moves least recently used values to disk until memory is within the
    /// budget or holds only values without a codec.
    fn shrink(&mut self) -> Result<()> {
        while self.stats.resident_bytes > self.stats.memory_limit {
            let Some(id) = self.lru.pop_oldest() else {
                break;
            };
            if let Err(error) = self.spill(id) {
                // Still in memory: put it back where it was.
                self.lru.push_oldest(id);
                return Err(error);
            }
        }
        Ok(())
    }

    /// Moves the value of `id` (in memory, out of the LRU order) to disk.
    fn spill(&mut self, id: u32) -> Result<()> {
        let Some(slot) = self.slots.get_mut(id as usize).and_then(Option::as_mut) else {
            return Err(Error::internal("the spill order names an empty slot"));
        };
        let State::Memory(value) = &slot.state else {
            return Err(Error::internal(
                "the spill order names a value not in memory",
            ));
        };
        if slot.extent.is_none() {
            let bytes = barrow_wire::encode_with(value, &self.codecs, &self.wire)
                .map_err(|e| spill_codec_error(e, &slot.key))?;
            let extent = self.arena.write(&slot.key, &bytes)?;
            self.stats.written_bytes += extent.len;
            self.stats.disk_bytes += extent.len;
            slot.extent = Some(extent);
        }
        slot.state = State::Disk;
        self.stats.resident_bytes -= slot.nbytes;
        self.stats.disk_count += 1;
        self.stats.spilled_bytes += slot.nbytes as u64;
        self.stats.spilled_count += 1;
        Ok(())
    }

    /// Reads the value of `id` back from the spill file, into memory.
    fn load(&mut self, id: u32) -> Result<Value> {
        let Some(slot) = self.slots.get_mut(id as usize).and_then(Option::as_mut) else {
            return Err(Error::internal("loading an empty slot"));
        };
        let (State::Disk, Some(extent)) = (&slot.state, slot.extent) else {
            return Err(Error::internal("loading a value that is not on disk"));
        };
        let bytes = self.arena.read(extent, &slot.key)?;
        let value = barrow_wire::decode(&bytes, &self.codecs).map_err(|e| {
            let file = self.arena.path().unwrap_or(Path::new("the spill file"));
            let message = format!(
                "the spilled result of task {} in {} (bytes {} to {}) cannot be read back: {e}",
                slot.key,
                file.display(),
                extent.offset,
                extent.offset + extent.len
            );
            Error::new(ErrorKind::Codec, message).with_source(e)
        })?;
        if value.type_id() != slot.type_id {
            return Err(Error::new(
                ErrorKind::Codec,
                format!(
                    "the spilled result of task {} was a {}, and its codec read it back as a {}: \
                     the codec registered for {} decodes to another type",
                    slot.key,
                    slot.type_name,
                    value.type_name(),
                    slot.type_name,
                ),
            ));
        }
        slot.state = State::Memory(value.clone());
        self.stats.disk_count -= 1;
        self.stats.resident_bytes += slot.nbytes;
        self.stats.loaded_count += 1;
        self.lru.push_newest(id);
        Ok(value)
    }
}

impl Drop for SpillStore {
    fn drop(&mut self) {
        if let Some(slot) = &self.report {
            // A poisoned slot still takes a whole value.
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.stats());
        }
    }
}

fn spill_codec_error(error: barrow_wire::Error, key: &Key) -> Error {
    let message = format!("cannot spill the result of task {key}: {error}");
    Error::new(ErrorKind::Codec, message).with_source(error)
}

impl Store for SpillStore {
    fn put(&mut self, id: u32, key: &Key, value: Value) -> Result<()> {
        self.remove(id, key)?;
        let slot = id as usize;
        if slot >= self.slots.len() {
            self.slots.resize_with(slot + 1, || None);
        }
        let nbytes = value.nbytes();
        let (type_id, type_name) = (value.type_id(), value.type_name());
        let state = if barrow_wire::can_encode(&value, &self.codecs, &self.wire) {
            self.lru.push_newest(id);
            State::Memory(value)
        } else {
            self.stats.no_codec_count += 1;
            self.stats.no_codec_bytes += nbytes;
            State::NoCodec(value)
        };
        self.slots[slot] = Some(Slot {
            key: key.clone(),
            nbytes,
            type_id,
            type_name,
            state,
            extent: None,
        });
        self.len += 1;
        self.stats.resident_bytes += nbytes;
        self.shrink()
    }

    fn get(&mut self, id: u32, _key: &Key) -> Result<Option<Value>> {
        let Some(slot) = self.slots.get(id as usize).and_then(Option::as_ref) else {
            return Ok(None);
        };
        match &slot.state {
            State::Memory(value) => {
                let value = value.clone();
                self.lru.touch(id);
                Ok(Some(value))
            }
            State::NoCodec(value) => Ok(Some(value.clone())),
            State::Disk => {
                let value = self.load(id)?;
                self.shrink()?;
                Ok(Some(value))
            }
        }
    }

    fn remove(&mut self, id: u32, _key: &Key) -> Result<()> {
        let Some(slot) = self.slots.get_mut(id as usize).and_then(Option::take) else {
            return Ok(());
        };
        self.len -= 1;
        self.lru.remove(id);
        match slot.state {
            State::Memory(_) => self.stats.resident_bytes -= slot.nbytes,
            State::NoCodec(_) => {
                self.stats.resident_bytes -= slot.nbytes;
                self.stats.no_codec_count -= 1;
                self.stats.no_codec_bytes -= slot.nbytes;
            }
            State::Disk => self.stats.disk_count -= 1,
        }
        match slot.extent {
            Some(extent) => {
                self.stats.disk_bytes -= extent.len;
                self.arena.release(extent)
            }
            None => Ok(()),
        }
    }

    fn contains(&self, id: u32) -> bool {
        self.slots.get(id as usize).is_some_and(Option::is_some)
    }

    fn nbytes(&self) -> usize {
        self.stats.resident_bytes
    }

    fn len(&self) -> usize {
        self.len
    }
}

impl fmt::Debug for SpillStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpillStore")
            .field("len", &self.len)
            .field("stats", &self.stats())
            .field("spill_file", &self.arena.path())
            .field("parent_dir", &self.arena.parent())
            .field("wire", &self.wire)
            .finish()
    }
}
