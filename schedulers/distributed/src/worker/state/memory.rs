//! The worker's memory: which values are in memory and in what order they
//! were last used, which are on disk or on their way there, and whether
//! the worker is paused. Decisions only: the writes happen on the disk
//! thread (`worker/disk.rs`), reads on the threads that need the values.

use std::collections::BTreeSet;

use barrow_core::Value;
use rustc_hash::{FxHashMap, FxHashSet};

use super::{Instruction, WorkerState};
use crate::protocol::{FromWorker, TaskId};
use crate::worker::disk::Written;
use crate::worker::memory::MemorySettings;

/// A value on disk.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OnDisk {
    /// Its size in memory, as counted when it was there.
    pub(crate) nbytes: u64,
    /// Its bytes in the spill file.
    pub(crate) bytes: u64,
    pub(crate) type_name: &'static str,
}

#[derive(Debug, Default)]
pub(super) struct Memory {
    pub(super) settings: Option<MemorySettings>,
    pub(super) on_disk: FxHashMap<TaskId, OnDisk>,
    /// Values being written, by their size in memory (still in `data`).
    pub(super) leaving: FxHashMap<TaskId, u64>,
    leaving_bytes: u64,
    /// Values that cannot go to disk (no codec, a failed write).
    unspillable: FxHashSet<TaskId>,
    /// Values in memory by last use, oldest first.
    lru: BTreeSet<(u64, TaskId)>,
    used: FxHashMap<TaskId, u64>,
    tick: u64,
    pub(super) spilled_bytes: u64,
    /// The in-memory size of the values on disk.
    pub(super) spilled_nbytes: u64,
    pub(super) process: Option<u64>,
    pub(super) paused: bool,
    warned: bool,
}

impl WorkerState {
    /// Applies a memory limit and thresholds (none by default).
    pub(crate) fn set_memory(&mut self, settings: MemorySettings) {
        self.memory.settings = Some(settings);
    }

    /// Whether its value is here, in memory or on disk.
    pub(super) fn holds(&self, id: TaskId) -> bool {
        self.data.contains_key(&id) || self.memory.on_disk.contains_key(&id)
    }

    /// Marks the value of `id` used now.
    pub(super) fn touch(&mut self, id: TaskId) {
        let m = &mut self.memory;
        m.tick += 1;
        if let Some(old) = m.used.insert(id, m.tick) {
            m.lru.remove(&(old, id));
        }
        m.lru.insert((m.tick, id));
    }

    /// Drops the value of `id`, wherever it is.
    pub(super) fn drop_value(&mut self, id: TaskId) {
        if let Some(value) = self.data.remove(&id) {
            self.managed_bytes = self.managed_bytes.saturating_sub(value.nbytes() as u64);
        }
        let m = &mut self.memory;
        if let Some(tick) = m.used.remove(&id) {
            m.lru.remove(&(tick, id));
        }
        m.unspillable.remove(&id);
        let mut on_disk = false;
        if let Some(nbytes) = m.leaving.remove(&id) {
            // The disk thread drops it after its write.
            m.leaving_bytes = m.leaving_bytes.saturating_sub(nbytes);
            on_disk = true;
        }
        if let Some(disk) = m.on_disk.remove(&id) {
            m.spilled_bytes = m.spilled_bytes.saturating_sub(disk.bytes);
            m.spilled_nbytes = m.spilled_nbytes.saturating_sub(disk.nbytes);
            on_disk = true;
        }
        if on_disk {
            self.instructions.push(Instruction::Unspill(id));
        }
    }

    /// Spills past target after a new value (no process reading: that is
    /// the monitor's).
    pub(super) fn keep_under_target(&mut self) {
        let Some(settings) = &self.memory.settings else {
            return;
        };
        let plan = settings.plan(self.managed_bytes, self.memory.leaving_bytes, None);
        if plan.spill_bytes > 0 {
            self.spill_oldest(plan.spill_bytes);
        }
    }

    /// The memory monitor's tick: the process's resident bytes, if known.
    pub(crate) fn memory_tick(&mut self, process: Option<u64>) {
        self.memory.process = process;
        let Some(settings) = &self.memory.settings else {
            return;
        };
        let plan = settings.plan(self.managed_bytes, self.memory.leaving_bytes, process);
        let limit = settings.limit;
        if plan.spill_bytes > 0 {
            self.spill_oldest(plan.spill_bytes);
        }
        if plan.paused != self.memory.paused {
            self.memory.paused = plan.paused;
            if plan.paused {
                tracing::warn!(
                    "worker paused: its process uses {} of its {limit}-byte memory limit \
                     (distributed.worker.memory.pause); no new task or fetch until it falls back",
                    process.unwrap_or(0)
                );
            } else {
                tracing::info!("worker unpaused: memory fell under the pause threshold");
            }
            self.instructions
                .push(Instruction::Send(FromWorker::Paused {
                    paused: plan.paused,
                }));
            if !plan.paused {
                self.ensure_computing();
                self.ensure_communicating();
            }
        }
    }

    /// Sends the least recently used values, about `bytes` of them, to
    /// disk (those not executing's inputs only: any value in memory).
    fn spill_oldest(&mut self, bytes: u64) {
        let mut chosen = 0u64;
        let mut victims = Vec::new();
        for &(_, id) in &self.memory.lru {
            if chosen >= bytes {
                break;
            }
            if self.memory.leaving.contains_key(&id) || self.memory.unspillable.contains(&id) {
                continue;
            }
            if let Some(value) = self.data.get(&id) {
                chosen += value.nbytes() as u64;
                victims.push((id, value.clone()));
            }
        }
        for (id, value) in victims {
            let nbytes = value.nbytes() as u64;
            self.memory.leaving.insert(id, nbytes);
            self.memory.leaving_bytes += nbytes;
            self.instructions.push(Instruction::Spill { id, value });
        }
    }

    /// The disk thread wrote a value, or could not.
    pub(crate) fn written(&mut self, written: Written) {
        match written {
            Written::Spilled { id, bytes } => {
                let Some(nbytes) = self.memory.leaving.remove(&id) else {
                    // Dropped while being written: the disk drops it too
                    // (its removal was queued behind the write).
                    return;
                };
                self.memory.leaving_bytes = self.memory.leaving_bytes.saturating_sub(nbytes);
                let Some(value) = self.data.remove(&id) else {
                    return;
                };
                self.managed_bytes = self.managed_bytes.saturating_sub(value.nbytes() as u64);
                if let Some(tick) = self.memory.used.remove(&id) {
                    self.memory.lru.remove(&(tick, id));
                }
                self.memory.spilled_bytes += bytes;
                self.memory.spilled_nbytes += nbytes;
                self.memory.on_disk.insert(
                    id,
                    OnDisk {
                        nbytes,
                        bytes,
                        type_name: value.type_name(),
                    },
                );
            }
            Written::Failed { id, reason } => {
                if let Some(nbytes) = self.memory.leaving.remove(&id) {
                    self.memory.leaving_bytes = self.memory.leaving_bytes.saturating_sub(nbytes);
                }
                if self.data.contains_key(&id) {
                    self.memory.unspillable.insert(id);
                }
                if !self.memory.warned {
                    self.memory.warned = true;
                    tracing::warn!(
                        "a value stays in memory: it cannot be spilled ({reason}); others that \
                         cannot are not logged"
                    );
                }
            }
        }
    }

    /// A value to pass to a task or a peer: in memory, or where on disk.
    pub(super) fn value_or_disk(&mut self, id: TaskId) -> Option<Result<Value, TaskId>> {
        if let Some(value) = self.data.get(&id).cloned() {
            self.touch(id);
            return Some(Ok(value));
        }
        self.memory.on_disk.contains_key(&id).then_some(Err(id))
    }
}
