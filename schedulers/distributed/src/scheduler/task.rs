//! What the scheduler knows about each task, and where tasks live.

use std::fmt;
use std::sync::Arc;

use barrow_core::Key;
use barrow_wire::task::WireError;
use smallvec::SmallVec;

use crate::protocol::{ClientId, Priority, TaskId, WorkerId};

/// The states of a task on the scheduler (Dask's, less `forgotten`, which
/// is the absence of the task).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Known, not needed now (or just lost).
    Released,
    /// Needed; some dependencies are not in memory yet.
    Waiting,
    /// Ready, held on the scheduler until a worker has a free slot (root
    /// tasks, so workers are not flooded with inputs).
    Queued,
    /// Ready, but no running worker meets its restrictions.
    NoWorker,
    /// Sent to one worker.
    Processing,
    /// Its value is held by at least one worker.
    Memory,
    /// It failed, or a task it needs did.
    Erred,
}

impl State {
    /// Every state, for counts.
    pub const ALL: [State; 7] = [
        State::Released,
        State::Waiting,
        State::Queued,
        State::NoWorker,
        State::Processing,
        State::Memory,
        State::Erred,
    ];

    /// The name Dask gives it.
    pub fn name(self) -> &'static str {
        match self {
            State::Released => "released",
            State::Waiting => "waiting",
            State::Queued => "queued",
            State::NoWorker => "no-worker",
            State::Processing => "processing",
            State::Memory => "memory",
            State::Erred => "erred",
        }
    }

    /// Whether the task is on its way to memory: it keeps its
    /// dependencies needed.
    pub(crate) fn is_active(self) -> bool {
        matches!(
            self,
            State::Waiting | State::Queued | State::NoWorker | State::Processing
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a task computes, as submitted: forwarded to workers as is.
#[derive(Debug)]
pub(crate) struct Spec {
    /// The encoded body.
    pub(crate) body: Arc<[u8]>,
    /// Its literal frames.
    pub(crate) literals: Vec<Arc<[u8]>>,
    /// Inputs in argument order, as indices into the task's dependencies.
    pub(crate) inputs: Vec<u32>,
    /// A hash of body and literals.
    pub(crate) fingerprint: u64,
}

/// Why a task is erred: the failure and the task it happened in.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    /// The error, as it travels.
    pub(crate) error: WireError,
    /// The key of the task that failed (this one, or a dependency).
    pub(crate) blame: Key,
    /// The keys that were waiting on the failed task (set when it fails).
    pub(crate) dependents: Vec<Key>,
}

/// Where a task may run, beyond "any worker".
#[derive(Debug, Clone, Default)]
pub(crate) struct Restrictions {
    /// Worker names or addresses; empty: any.
    pub(crate) workers: Vec<String>,
    /// Resources it needs while it runs.
    pub(crate) resources: Vec<(String, f64)>,
    /// Whether other workers may run it when none of `workers` can.
    pub(crate) loose: bool,
}

/// One task.
#[derive(Debug)]
pub(crate) struct Task {
    pub(crate) key: Key,
    pub(crate) state: State,
    pub(crate) prefix: u32,
    /// `None` for a value a client scattered: it cannot be recomputed.
    pub(crate) spec: Option<Spec>,
    /// Each once.
    pub(crate) dependencies: SmallVec<[TaskId; 2]>,
    /// May hold ids of forgotten tasks (skipped where read); see
    /// `live_dependents` for the count of those that are not.
    pub(crate) dependents: Vec<TaskId>,
    pub(crate) live_dependents: u32,
    /// Dependencies not in memory (while waiting).
    pub(crate) waiting_on: u32,
    /// Active dependents (waiting, queued, no-worker, processing): the
    /// task's value is needed while this is not zero.
    pub(crate) waiters: u32,
    /// Clients that want the value (client 0: published datasets).
    pub(crate) who_wants: SmallVec<[ClientId; 1]>,
    /// Clients to tell when it starts and finishes (they have callbacks).
    pub(crate) watchers: SmallVec<[ClientId; 1]>,
    pub(crate) who_has: SmallVec<[WorkerId; 1]>,
    pub(crate) processing_on: Option<WorkerId>,
    /// The current dispatch.
    pub(crate) run: u64,
    pub(crate) priority: Priority,
    pub(crate) nbytes: u64,
    pub(crate) type_name: Arc<str>,
    pub(crate) failure: Option<Arc<Failure>>,
    pub(crate) retries: u32,
    pub(crate) restrictions: Option<Box<Restrictions>>,
    /// The functions it calls (interned ids).
    pub(crate) functions: SmallVec<[u32; 1]>,
    /// The duration expected while it is processing (for occupancy).
    pub(crate) expected_seconds: f64,
}

impl Task {
    pub(crate) fn new(key: Key, prefix: u32, priority: Priority) -> Task {
        Task {
            key,
            state: State::Released,
            prefix,
            spec: None,
            dependencies: SmallVec::new(),
            dependents: Vec::new(),
            live_dependents: 0,
            waiting_on: 0,
            waiters: 0,
            who_wants: SmallVec::new(),
            watchers: SmallVec::new(),
            who_has: SmallVec::new(),
            processing_on: None,
            run: 0,
            priority,
            nbytes: 0,
            type_name: Arc::from(""),
            failure: None,
            retries: 0,
            restrictions: None,
            functions: SmallVec::new(),
            expected_seconds: 0.0,
        }
    }

    /// Whether nothing holds the task any more: no client wants it, no
    /// active task needs it, and no task that depends on it is left.
    pub(crate) fn is_unreferenced(&self) -> bool {
        self.who_wants.is_empty() && self.waiters == 0 && self.live_dependents == 0
    }

    /// Whether its value is still wanted or needed.
    pub(crate) fn is_needed(&self) -> bool {
        !self.who_wants.is_empty() || self.waiters > 0
    }

    /// Whether it is a root: no dependencies and no restrictions.
    pub(crate) fn is_root(&self) -> bool {
        self.dependencies.is_empty() && self.restrictions.is_none()
    }
}

/// Tasks by id: a slab whose slots carry a generation, so an id is never
/// reused and a stale one finds nothing.
#[derive(Debug, Default)]
pub(crate) struct Tasks {
    slots: Vec<Slot>,
    free: Vec<u32>,
    len: usize,
}

#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    task: Option<Task>,
}

impl Tasks {
    fn split(id: TaskId) -> (usize, u32) {
        ((id & u64::from(u32::MAX)) as usize, (id >> 32) as u32)
    }

    /// Stores `task`, returning its new id.
    pub(crate) fn insert(&mut self, task: Task) -> TaskId {
        self.len += 1;
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot::default());
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        slot.task = Some(task);
        (u64::from(slot.generation) << 32) | u64::from(index)
    }

    /// The task `id`, if it still exists.
    pub(crate) fn get(&self, id: TaskId) -> Option<&Task> {
        let (index, generation) = Tasks::split(id);
        let slot = self.slots.get(index)?;
        (slot.generation == generation).then_some(())?;
        slot.task.as_ref()
    }

    /// The task `id`, if it still exists.
    pub(crate) fn get_mut(&mut self, id: TaskId) -> Option<&mut Task> {
        let (index, generation) = Tasks::split(id);
        let slot = self.slots.get_mut(index)?;
        (slot.generation == generation).then_some(())?;
        slot.task.as_mut()
    }

    /// Removes the task `id`.
    pub(crate) fn remove(&mut self, id: TaskId) -> Option<Task> {
        let (index, generation) = Tasks::split(id);
        let slot = self.slots.get_mut(index)?;
        if slot.generation != generation {
            return None;
        }
        let task = slot.task.take()?;
        self.free.push(index as u32);
        self.len -= 1;
        Some(task)
    }

    /// How many tasks.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Every task, to change.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Task> {
        self.slots.iter_mut().filter_map(|slot| slot.task.as_mut())
    }

    /// Every task with its id.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (TaskId, &Task)> {
        self.slots.iter().enumerate().filter_map(|(index, slot)| {
            let task = slot.task.as_ref()?;
            Some(((u64::from(slot.generation) << 32) | index as u64, task))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(name: &str) -> Task {
        Task::new(
            Key::new(name),
            0,
            Priority {
                user: 0,
                generation: 0,
                order: 0,
            },
        )
    }

    #[test]
    fn ids_are_never_reused_and_stale_ids_find_nothing() {
        let mut tasks = Tasks::default();
        let a = tasks.insert(task("a"));
        assert_eq!(tasks.get(a).unwrap().key, Key::new("a"));
        assert!(tasks.remove(a).is_some());
        let b = tasks.insert(task("b"));
        assert_ne!(a, b);
        assert!(tasks.get(a).is_none());
        assert!(tasks.remove(a).is_none());
        assert_eq!(tasks.get(b).unwrap().key, Key::new("b"));
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks.iter().map(|(id, _)| id).collect::<Vec<_>>(), vec![b]);
    }
}
