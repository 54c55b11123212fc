//! Where the threaded run keeps results: one small lock per task when the
//! run's store is a plain in-memory one, else the run's store behind a lock.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use barrow_core::plan::Plan;
use barrow_core::store::Store;
use barrow_core::{Error, Key, Result, Value};

/// The results of one run and the reads each still awaits: a result lives
/// exactly as long as some task will read it (requested keys get one extra
/// read the run never makes).
pub(super) enum Results<'s> {
    /// A slot per task, each behind its own lock: two workers meet on a
    /// slot only when they read the same result at the same moment.
    Slots {
        slots: Vec<Mutex<Slot>>,
        /// Bytes held, kept only when callbacks listen (`store_bytes`);
        /// estimating a value's size costs a few type checks.
        nbytes: Option<AtomicUsize>,
    },
    /// The run's own store (spilling, or one a user gave), one owner at a
    /// time: stores are `Send`, not `Sync`.
    Store(Mutex<Held<'s>>),
}

/// One task's result and the reads still to come.
#[derive(Default)]
pub(super) struct Slot {
    value: Option<Value>,
    unread: u32,
}

/// A store and the reads each of its results still awaits.
pub(super) struct Held<'s> {
    store: &'s mut dyn Store,
    unread: Vec<u32>,
}

/// The reads each task's result awaits: one per dependent edge, plus one for
/// a requested key.
fn reads(plan: &Plan<'_>) -> Vec<u32> {
    let mut unread: Vec<u32> = plan
        .dependent_lists()
        .rows()
        .map(|row| row.len() as u32)
        .collect();
    for &id in plan.outputs() {
        unread[id as usize] += 1;
    }
    unread
}

impl<'s> Results<'s> {
    /// Results for `plan`: in slots of their own when `store` keeps values in
    /// memory only and holds none yet, else in `store`. `count_bytes` keeps
    /// the bytes held (for callbacks).
    pub(super) fn new(plan: &Plan<'_>, store: &'s mut dyn Store, count_bytes: bool) -> Self {
        let unread = reads(plan);
        if store.is_memory_only() && store.is_empty() {
            let slots = unread
                .into_iter()
                .map(|unread| {
                    Mutex::new(Slot {
                        value: None,
                        unread,
                    })
                })
                .collect();
            Results::Slots {
                slots,
                nbytes: count_bytes.then(|| AtomicUsize::new(0)),
            }
        } else {
            Results::Store(Mutex::new(Held { store, unread }))
        }
    }

    /// Keeps the result of `id` if some task will read it.
    pub(super) fn put(&self, id: u32, key: &Key, value: Value) -> Result<()> {
        match self {
            Results::Slots { slots, nbytes } => {
                let mut slot = lock(&slots[id as usize]);
                if slot.unread > 0 {
                    if let Some(nbytes) = nbytes {
                        nbytes.fetch_add(value.nbytes(), Ordering::Relaxed);
                    }
                    slot.value = Some(value);
                }
                Ok(())
            }
            Results::Store(held) => {
                let mut held = lock(held);
                if held.unread[id as usize] > 0 {
                    held.store.put(id, key, value)?;
                }
                Ok(())
            }
        }
    }

    /// One read of the result of `id`; the last read takes it out, so the
    /// reader may hold the only handle (and reuse the buffer).
    pub(super) fn read(&self, id: u32, key: &Key) -> Result<Value> {
        match self {
            Results::Slots { slots, nbytes } => {
                let mut slot = lock(&slots[id as usize]);
                let value = match slot.unread {
                    0 => None,
                    1 => {
                        slot.unread = 0;
                        let value = slot.value.take();
                        if let (Some(nbytes), Some(value)) = (nbytes, &value) {
                            nbytes.fetch_sub(value.nbytes(), Ordering::Relaxed);
                        }
                        value
                    }
                    _ => {
                        slot.unread -= 1;
                        slot.value.clone()
                    }
                };
                value.ok_or_else(|| missing(key))
            }
            Results::Store(held) => {
                let mut held = lock(held);
                let Held { store, unread } = &mut *held;
                let value = store.get(id, key)?.ok_or_else(|| missing(key))?;
                let left = &mut unread[id as usize];
                *left = left.saturating_sub(1);
                if *left == 0 {
                    store.remove(id, key)?;
                }
                Ok(value)
            }
        }
    }

    /// The value of a requested key, after the run (it stays held: the
    /// run's frame clears the store).
    pub(super) fn output(&self, id: u32, key: &Key) -> Result<Value> {
        let value = match self {
            Results::Slots { slots, .. } => lock(&slots[id as usize]).value.clone(),
            Results::Store(held) => lock(held).store.get(id, key)?,
        };
        value.ok_or_else(|| Error::internal("an output result went missing from the store"))
    }

    /// Bytes of the results held (0 when nobody asked to count them).
    pub(super) fn nbytes(&self) -> usize {
        match self {
            Results::Slots { nbytes, .. } => {
                nbytes.as_ref().map_or(0, |n| n.load(Ordering::Relaxed))
            }
            Results::Store(held) => lock(held).store.nbytes(),
        }
    }
}

fn missing(key: &Key) -> Error {
    Error::internal(format!("the result of {key} is missing from the store"))
}

/// A lock whose holder panicked is used as it is: every update above leaves
/// the state consistent before anything can panic.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
