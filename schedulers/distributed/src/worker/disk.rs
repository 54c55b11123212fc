//! A worker's values on disk: written by a thread of their own, read back
//! by whoever needs them (a task thread for its inputs, a blocking task
//! for a peer's fetch), so neither heartbeats nor the worker's event loop
//! ever wait for the disk.
//!
//! The values share one spill file through `barrow-local`'s
//! [`SpillStore`] with a budget of zero (everything put goes to disk; a
//! value read back stays on disk too, its copy in memory belongs to the
//! reader). The file and its folder go when the worker ends.

use std::sync::{Arc, Mutex};

use barrow_core::codec::CodecRegistry;
use barrow_core::config::TemporaryDirectory;
use barrow_core::store::Store;
use barrow_core::{Key, Value};
use barrow_local::SpillStore;
use rustc_hash::FxHashMap;

use super::activity::Activity;
use crate::protocol::{ActivityKind, TaskId};

/// What the writing thread tells the worker's core.
#[derive(Debug)]
pub(crate) enum Written {
    /// `id` is on disk in `bytes` bytes: its copy in memory may go.
    Spilled { id: TaskId, bytes: u64 },
    /// `id` cannot go to disk (a full disk, an unwritable folder): it
    /// stays in memory.
    Failed { id: TaskId, reason: String },
}

enum Command {
    Write(TaskId, Value),
    Remove(TaskId),
}

/// The spill file and which slot of it holds each task's value.
struct Slots {
    store: SpillStore,
    slots: FxHashMap<TaskId, u32>,
    free: Vec<u32>,
    next: u32,
}

impl Slots {
    fn key(id: TaskId) -> Key {
        Key::new(format!("task {id}"))
    }

    fn slot(&mut self, id: TaskId) -> u32 {
        if let Some(&slot) = self.slots.get(&id) {
            return slot;
        }
        let slot = self.free.pop().unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        });
        self.slots.insert(id, slot);
        slot
    }
}

/// A worker's disk: cheap to clone, shared by the core (which writes
/// through the thread) and the readers.
#[derive(Clone)]
pub(crate) struct Disk {
    slots: Arc<Mutex<Slots>>,
    commands: std::sync::mpsc::Sender<Command>,
    activity: Activity,
}

impl std::fmt::Debug for Disk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Disk")
    }
}

impl Disk {
    /// A disk spilling into a folder of its own in `directory`, whose
    /// thread reports each write to `written` (and stops when it returns
    /// `false`: the worker is gone).
    pub(crate) fn start(
        directory: TemporaryDirectory,
        codecs: Arc<CodecRegistry>,
        written: impl Fn(Written) -> bool + Send + 'static,
        name: &str,
        activity: Activity,
    ) -> std::io::Result<Disk> {
        let slots = Arc::new(Mutex::new(Slots {
            store: SpillStore::in_temporary_directory(0, directory, codecs),
            slots: FxHashMap::default(),
            free: Vec::new(),
            next: 0,
        }));
        let (commands, receiver) = std::sync::mpsc::channel::<Command>();
        let writer = slots.clone();
        let log = activity.clone();
        std::thread::Builder::new()
            .name(format!("barrow-spill-{name}"))
            .spawn(move || {
                // Ends when the core drops its disk (every sender).
                while let Ok(command) = receiver.recv() {
                    let mut slots = writer.lock().unwrap_or_else(|e| e.into_inner());
                    match command {
                        Command::Write(id, value) => {
                            let started = std::time::Instant::now();
                            let slot = slots.slot(id);
                            let before = slots.store.stats();
                            let type_name = value.type_name();
                            let put = slots.store.put(slot, &Slots::key(id), value);
                            let after = slots.store.stats();
                            let put = match put {
                                // Kept in memory by the store: no codec.
                                Ok(()) if after.no_codec_count > before.no_codec_count => {
                                    Err(format!(
                                        "no codec encodes a {type_name} (register one to let \
                                         it spill)"
                                    ))
                                }
                                Ok(()) => Ok(after.disk_bytes.saturating_sub(before.disk_bytes)),
                                Err(error) => Err(error.to_string()),
                            };
                            let report = match put {
                                Ok(bytes) => {
                                    log.record(ActivityKind::DiskWrite, id, 1, bytes, started);
                                    Written::Spilled { id, bytes }
                                }
                                Err(reason) => {
                                    let _ = slots.store.remove(slot, &Slots::key(id));
                                    slots.slots.remove(&id);
                                    slots.free.push(slot);
                                    Written::Failed { id, reason }
                                }
                            };
                            drop(slots);
                            if !written(report) {
                                return;
                            }
                        }
                        Command::Remove(id) => {
                            if let Some(slot) = slots.slots.remove(&id) {
                                if let Err(error) = slots.store.remove(slot, &Slots::key(id)) {
                                    tracing::warn!("dropping a spilled value: {error}");
                                }
                                slots.free.push(slot);
                            }
                        }
                    }
                }
            })?;
        Ok(Disk {
            slots,
            commands,
            activity,
        })
    }

    /// Writes `value` to disk, in the background.
    pub(crate) fn write(&self, id: TaskId, value: Value) {
        let _ = self.commands.send(Command::Write(id, value));
    }

    /// Drops the value of `id` from disk, in the background.
    pub(crate) fn remove(&self, id: TaskId) {
        let _ = self.commands.send(Command::Remove(id));
    }

    /// Reads the value of `id` back (blocking: for task threads and
    /// blocking tasks, never the event loop).
    pub(crate) fn read(&self, id: TaskId) -> barrow_core::Result<Value> {
        let started = std::time::Instant::now();
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let Some(&slot) = slots.slots.get(&id) else {
            return Err(barrow_core::Error::internal(format!(
                "the value of task {id} is not on this worker's disk"
            )));
        };
        let value = slots
            .store
            .get(slot, &Slots::key(id))?
            .ok_or_else(|| barrow_core::Error::internal(format!("task {id}'s slot is empty")))?;
        drop(slots);
        let nbytes = value.nbytes() as u64;
        self.activity
            .record(ActivityKind::DiskRead, id, 1, nbytes, started);
        Ok(value)
    }
}
