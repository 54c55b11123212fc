//! The worker's state machine: which tasks wait for inputs, which are
//! fetched from peers, which run, which values are held. Pure: events in,
//! [`Instruction`]s out, no I/O (Dask's `WorkerState`).
//!
//! States of a task on a worker:
//!
//! ```text
//!  compute:     waiting ──inputs in──▶ ready ──thread free──▶ executing ──▶ memory
//!                                                              │ (error) ──▶ forgotten, reported
//!  dependency:  fetch ──peer free──▶ flight ──data──▶ memory
//!                 ▲                    │ busy / failed (other holders left)
//!                 └────────────────────┘ no holder left ──▶ missing: reported, dependents dropped
//! ```
//!
//! A task freed while it executes is marked cancelled: its result is
//! dropped when it comes; computed again meanwhile, it resumes instead
//! (the result is reported under the new dispatch).

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use barrow_core::Value;
use barrow_wire::task::WireError;
use rustc_hash::{FxHashMap, FxHashSet};

use super::executor::Report;
use crate::comm::framed::FrameSlice;
use crate::protocol::{ComputeTask, Dependency, FromWorker, Heartbeat, Priority, TaskId, WorkerId};

/// The priority of values a worker is given rather than asked to compute
/// for a task (scattered, or moved from a retiring worker): before all.
const FIRST: Priority = Priority {
    user: 0,
    generation: 0,
    order: 0,
};

/// Tasks queued to each task thread behind the one it runs.
const QUEUED_PER_THREAD: usize = 4;

/// The states of a task on a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerTaskState {
    /// A task to run, some of whose inputs are not here yet.
    Waiting,
    /// A task to run, all inputs here, waiting for a thread.
    Ready,
    /// Running on a thread.
    Executing,
    /// A value to fetch from a peer.
    Fetch,
    /// Being fetched.
    Flight,
    /// Its value is here.
    Memory,
}

/// What the worker's I/O layer must do.
#[derive(Debug)]
pub(crate) enum Instruction {
    /// Run a task on a thread.
    Execute(Job),
    /// Ask `peer` for these values.
    Gather {
        peer: WorkerId,
        address: String,
        ids: Vec<TaskId>,
    },
    /// Tell the scheduler.
    Send(FromWorker),
    /// Try the fetches again after a pause (a peer was busy).
    RetryLater,
    /// Write this value to disk (then it leaves memory).
    Spill { id: TaskId, value: Value },
    /// Drop the value of this task from disk.
    Unspill(TaskId),
}

/// An input of a task: its value, or where on this worker's disk it is
/// (the task thread reads it back).
#[derive(Debug)]
pub(crate) enum Input {
    Here(Value),
    OnDisk(TaskId),
}

/// A task to run, with everything it needs.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) id: TaskId,
    pub(crate) run: u64,
    /// The body, then the literals.
    pub(crate) frames: FrameSlice,
    pub(crate) inputs: Vec<Input>,
    pub(crate) report_start: bool,
}

#[derive(Debug)]
struct Task {
    state: WorkerTaskState,
    run: u64,
    priority: Priority,
    /// For a task to run: its body and literals, and inputs in argument
    /// order.
    frames: Option<FrameSlice>,
    inputs: Vec<TaskId>,
    resources: Vec<(String, f64)>,
    report_start: bool,
    /// Inputs not here yet.
    waiting_for: u32,
    /// Local tasks waiting for this one's value.
    dependents: Vec<TaskId>,
    /// For a value to fetch: who has it, and who failed to give it.
    who_has: Vec<WorkerId>,
    tried: Vec<(WorkerId, String)>,
    nbytes: u64,
    flight_peer: Option<WorkerId>,
    /// Being fetched when the scheduler asked for it to be computed (its
    /// value was lost elsewhere): computed here if the fetch fails.
    resume: Option<Box<ComputeTask>>,
    /// Freed while executing: drop the result.
    cancelled: bool,
    /// A value the scheduler moved here: kept without a local task
    /// needing it.
    kept: bool,
}

impl Task {
    /// A value to fetch from `who_has`.
    fn to_fetch(priority: Priority, who_has: Vec<WorkerId>, nbytes: u64) -> Task {
        Task {
            state: WorkerTaskState::Fetch,
            run: 0,
            priority,
            frames: None,
            inputs: Vec::new(),
            resources: Vec::new(),
            report_start: false,
            waiting_for: 0,
            dependents: Vec::new(),
            who_has,
            tried: Vec::new(),
            nbytes,
            flight_peer: None,
            resume: None,
            cancelled: false,
            kept: false,
        }
    }
}

/// What the worker has of the values a peer asks for.
#[derive(Debug, Default)]
pub(crate) struct Served {
    /// In memory.
    pub(crate) found: Vec<(TaskId, Value)>,
    /// On disk, to read back.
    pub(crate) on_disk: Vec<TaskId>,
    /// Not here.
    pub(crate) missing: Vec<TaskId>,
}

/// The worker's state.
#[derive(Debug)]
pub(crate) struct WorkerState {
    nthreads: usize,
    tasks: FxHashMap<TaskId, Task>,
    data: FxHashMap<TaskId, Value>,
    managed_bytes: u64,
    ready: BinaryHeap<Reverse<(Priority, TaskId)>>,
    executing: FxHashSet<TaskId>,
    fetch: BTreeSet<(Priority, TaskId)>,
    in_flight: FxHashMap<WorkerId, Vec<TaskId>>,
    peers: FxHashMap<WorkerId, String>,
    resources: Vec<(String, f64)>,
    available: Vec<(String, f64)>,
    /// Peers fetched from at once, at most.
    max_fetch_peers: usize,
    /// Bytes asked of one peer in one request, at most (one value more
    /// than this is still asked alone).
    max_fetch_bytes: u64,
    instructions: Vec<Instruction>,
    retry_pending: bool,
    memory: memory::Memory,
}

impl WorkerState {
    pub(crate) fn new(
        nthreads: usize,
        resources: Vec<(String, f64)>,
        max_fetch_peers: usize,
        max_fetch_bytes: u64,
    ) -> WorkerState {
        WorkerState {
            nthreads: nthreads.max(1),
            tasks: FxHashMap::default(),
            data: FxHashMap::default(),
            managed_bytes: 0,
            ready: BinaryHeap::new(),
            executing: FxHashSet::default(),
            fetch: BTreeSet::new(),
            in_flight: FxHashMap::default(),
            peers: FxHashMap::default(),
            available: resources.clone(),
            resources,
            max_fetch_peers: max_fetch_peers.max(1),
            max_fetch_bytes,
            instructions: Vec::new(),
            retry_pending: false,
            memory: memory::Memory::default(),
        }
    }

    /// The instructions produced so far.
    pub(crate) fn take_instructions(&mut self) -> Vec<Instruction> {
        std::mem::take(&mut self.instructions)
    }

    /// Peers joined or left.
    pub(crate) fn peers(&mut self, added: Vec<(WorkerId, String)>, removed: &[WorkerId]) {
        for (id, address) in added {
            self.peers.insert(id, address);
        }
        for id in removed {
            self.peers.remove(id);
            // Fetches already under way from it fail now: waiting for its
            // connection to break (or for a connection to it to be
            // refused) would hold the values they bring for nothing.
            self.in_flight.remove(id);
            let waiting: Vec<TaskId> = self
                .tasks
                .iter()
                .filter(|(_, t)| t.who_has.contains(id) || t.flight_peer == Some(*id))
                .map(|(&tid, _)| tid)
                .collect();
            for task in waiting {
                self.holder_failed(task, *id, "the worker left the cluster");
            }
        }
        self.ensure_communicating();
    }

    /// The scheduler sends a task to run.
    pub(crate) fn compute(&mut self, task: ComputeTask, frames: FrameSlice) {
        let id = task.id;
        if let Some(existing) = self.tasks.get_mut(&id) {
            match existing.state {
                WorkerTaskState::Memory => {
                    let nbytes = existing.nbytes;
                    let type_name = match self.data.get(&id) {
                        Some(value) => value.type_name().to_owned(),
                        None => self
                            .memory
                            .on_disk
                            .get(&id)
                            .map_or(String::new(), |d| d.type_name.to_owned()),
                    };
                    self.instructions
                        .push(Instruction::Send(FromWorker::Finished {
                            id,
                            run: task.run,
                            nbytes,
                            type_name,
                            duration_us: 0,
                            thread: 0,
                        }));
                    return;
                }
                WorkerTaskState::Executing => {
                    // Resumed: the running computation answers this run.
                    existing.cancelled = false;
                    existing.run = task.run;
                    return;
                }
                WorkerTaskState::Waiting | WorkerTaskState::Ready => {
                    // Dispatched again (a dependency moved): start afresh.
                    self.forget(id);
                }
                WorkerTaskState::Flight => {
                    // Being fetched; it may be here soon: report it then,
                    // or compute it if the fetch fails.
                    existing.run = task.run;
                    existing.frames = Some(frames);
                    existing.resume = Some(Box::new(task));
                    return;
                }
                WorkerTaskState::Fetch => {
                    // Its holders are gone (the scheduler would not have
                    // it computed otherwise): compute it instead.
                    self.compute_instead(task, frames);
                    return;
                }
            }
        }
        self.start(task, frames);
    }

    /// Computes `task` in place of fetching it, for the local tasks that
    /// wait on it.
    fn compute_instead(&mut self, task: ComputeTask, frames: FrameSlice) {
        let id = task.id;
        let dependents = match self.tasks.remove(&id) {
            Some(old) => {
                self.fetch.remove(&(old.priority, id));
                old.dependents
            }
            None => Vec::new(),
        };
        self.start(task, frames);
        if let Some(started) = self.tasks.get_mut(&id) {
            started.dependents = dependents;
        }
    }

    /// Takes a task not known here yet: its inputs are fetched, or it is
    /// ready.
    fn start(&mut self, task: ComputeTask, frames: FrameSlice) {
        let id = task.id;
        let mut waiting_for = 0;
        for dep in &task.dependencies {
            if self.holds(dep.id) {
                continue;
            }
            waiting_for += 1;
            match self.tasks.get_mut(&dep.id) {
                Some(d) => {
                    d.dependents.push(id);
                    if d.state == WorkerTaskState::Fetch {
                        for &w in &dep.who_has {
                            if !d.who_has.contains(&w) {
                                d.who_has.push(w);
                            }
                        }
                    }
                }
                None => {
                    let priority = task.priority;
                    let mut fetch = Task::to_fetch(priority, dep.who_has.clone(), dep.nbytes);
                    fetch.dependents.push(id);
                    self.tasks.insert(dep.id, fetch);
                    self.fetch.insert((priority, dep.id));
                    if dep.who_has.is_empty() {
                        self.holder_failed(dep.id, 0, "the scheduler knows no holder");
                    }
                }
            }
        }
        self.tasks.insert(
            id,
            Task {
                state: WorkerTaskState::Waiting,
                run: task.run,
                priority: task.priority,
                frames: Some(frames),
                inputs: task.inputs,
                resources: task.resources,
                report_start: task.report_start,
                waiting_for,
                dependents: Vec::new(),
                who_has: Vec::new(),
                tried: Vec::new(),
                nbytes: 0,
                flight_peer: None,
                resume: None,
                cancelled: false,
                kept: false,
            },
        );
        if waiting_for == 0 {
            self.make_ready(id);
        }
        self.ensure_computing();
        self.ensure_communicating();
    }

    /// The scheduler moves values here (from a retiring worker): each is
    /// fetched and kept, with no task of this worker needing it.
    pub(crate) fn keep_values(&mut self, values: Vec<Dependency>) {
        for value in values {
            if self.holds(value.id) {
                self.instructions
                    .push(Instruction::Send(FromWorker::AddKeys {
                        ids: vec![value.id],
                    }));
                continue;
            }
            match self.tasks.get_mut(&value.id) {
                Some(task) => {
                    task.kept = true;
                    for w in value.who_has {
                        if !task.who_has.contains(&w) {
                            task.who_has.push(w);
                        }
                    }
                }
                None => {
                    let mut task = Task::to_fetch(FIRST, value.who_has, value.nbytes);
                    task.kept = true;
                    let empty = task.who_has.is_empty();
                    self.tasks.insert(value.id, task);
                    self.fetch.insert((FIRST, value.id));
                    if empty {
                        self.holder_failed(value.id, 0, "the scheduler knows no holder");
                    }
                }
            }
        }
        self.ensure_communicating();
    }

    fn make_ready(&mut self, id: TaskId) {
        if let Some(task) = self.tasks.get_mut(&id) {
            task.state = WorkerTaskState::Ready;
            self.ready.push(Reverse((task.priority, id)));
        }
    }

    /// The scheduler frees tasks: data dropped, waits and fetches
    /// abandoned, running ones cancelled.
    pub(crate) fn free(&mut self, ids: &[TaskId]) {
        for &id in ids {
            match self.tasks.get_mut(&id) {
                Some(task) if task.state == WorkerTaskState::Executing => task.cancelled = true,
                Some(_) => self.forget(id),
                None => self.drop_value(id),
            }
        }
        self.ensure_computing();
    }

    /// Drops everything about `id`, and the fetches only it needed.
    fn forget(&mut self, id: TaskId) {
        let Some(task) = self.tasks.remove(&id) else {
            return;
        };
        self.drop_value(id);
        self.fetch.remove(&(task.priority, id));
        for input in task.inputs {
            let orphan = match self.tasks.get_mut(&input) {
                Some(d) => {
                    d.dependents.retain(|&t| t != id);
                    d.dependents.is_empty()
                        && d.frames.is_none()
                        && !d.kept
                        && matches!(d.state, WorkerTaskState::Fetch)
                }
                None => false,
            };
            if orphan {
                self.forget(input);
            }
        }
    }

    /// Hands ready tasks to the task threads: up to `nthreads` with
    /// resources (which they hold only while they run), and more without,
    /// queued behind the running ones so that a thread goes from one short
    /// task to the next without waiting for this thread (each hand-over
    /// costs a wake-up of a sleeping thread: more than a small task).
    fn ensure_computing(&mut self) {
        if self.memory.paused {
            return;
        }
        let mut skipped = Vec::new();
        let queue_limit = self.nthreads * (1 + QUEUED_PER_THREAD);
        while self.executing.len() < queue_limit {
            let Some(Reverse((priority, id))) = self.ready.pop() else {
                break;
            };
            let Some(task) = self.tasks.get(&id) else {
                continue;
            };
            if task.state != WorkerTaskState::Ready || task.priority != priority {
                continue;
            }
            let needs = task.resources.clone();
            if !needs.is_empty() && self.executing.len() >= self.nthreads {
                skipped.push(Reverse((priority, id)));
                continue;
            }
            let wanted = task.inputs.clone();
            let inputs: Option<Vec<Input>> = wanted
                .into_iter()
                .map(|i| {
                    self.value_or_disk(i).map(|found| match found {
                        Ok(value) => Input::Here(value),
                        Err(id) => Input::OnDisk(id),
                    })
                })
                .collect();
            if !self.acquire(&needs) {
                skipped.push(Reverse((priority, id)));
                continue;
            }
            let Some(inputs) = inputs else {
                // An input vanished (freed): wait for the scheduler's word.
                self.release(&needs);
                continue;
            };
            let Some(task) = self.tasks.get_mut(&id) else {
                continue;
            };
            task.state = WorkerTaskState::Executing;
            self.executing.insert(id);
            self.instructions.push(Instruction::Execute(Job {
                id,
                run: task.run,
                frames: task.frames.clone().unwrap_or_default(),
                inputs,
                report_start: task.report_start,
            }));
        }
        self.ready.extend(skipped);
    }

    fn acquire(&mut self, needs: &[(String, f64)]) -> bool {
        let enough = needs.iter().all(|(name, amount)| {
            self.available
                .iter()
                .any(|(have, left)| have == name && left + 1e-9 >= *amount)
        });
        if enough {
            for (name, amount) in needs {
                if let Some((_, left)) = self.available.iter_mut().find(|(n, _)| n == name) {
                    *left -= amount;
                }
            }
        }
        enough
    }

    fn release(&mut self, needs: &[(String, f64)]) {
        for (name, amount) in needs {
            if let Some((_, left)) = self.available.iter_mut().find(|(n, _)| n == name) {
                *left += amount;
            }
        }
    }

    /// What a task thread reports: a start goes to the scheduler after
    /// every result before it.
    pub(crate) fn report(&mut self, report: Report) {
        match report {
            Report::Started { id, run } => self
                .instructions
                .push(Instruction::Send(FromWorker::Started { id, run })),
            Report::Executed(done) => {
                self.executed(done.id, done.result, done.duration_us, done.thread);
            }
        }
    }

    /// A thread finished a task.
    pub(crate) fn executed(
        &mut self,
        id: TaskId,
        result: Result<Value, Box<WireError>>,
        duration_us: u64,
        thread: u32,
    ) {
        self.executing.remove(&id);
        let Some(task) = self.tasks.get(&id) else {
            self.ensure_computing();
            return;
        };
        let resources = task.resources.clone();
        let cancelled = task.cancelled;
        let run = task.run;
        self.release(&resources);
        if cancelled {
            self.forget(id);
            self.ensure_computing();
            return;
        }
        match result {
            Ok(value) => {
                let nbytes = value.nbytes() as u64;
                let type_name = value.type_name().to_owned();
                self.store(id, value);
                self.instructions
                    .push(Instruction::Send(FromWorker::Finished {
                        id,
                        run,
                        nbytes,
                        type_name,
                        duration_us,
                        thread,
                    }));
            }
            Err(error) => {
                self.forget(id);
                self.instructions.push(Instruction::Send(FromWorker::Erred {
                    id,
                    run,
                    error: *error,
                    duration_us,
                    thread,
                }));
            }
        }
        self.ensure_computing();
    }

    /// `value` is here: the tasks waiting for it may be ready.
    fn store(&mut self, id: TaskId, value: Value) {
        let nbytes = value.nbytes() as u64;
        self.drop_value(id);
        self.data.insert(id, value);
        self.managed_bytes += nbytes;
        self.touch(id);
        let Some(task) = self.tasks.get_mut(&id) else {
            return;
        };
        task.state = WorkerTaskState::Memory;
        task.nbytes = nbytes;
        task.flight_peer = None;
        task.resume = None;
        let dependents = std::mem::take(&mut task.dependents);
        for dependent in dependents {
            let Some(d) = self.tasks.get_mut(&dependent) else {
                continue;
            };
            if d.state == WorkerTaskState::Waiting {
                d.waiting_for = d.waiting_for.saturating_sub(1);
                if d.waiting_for == 0 {
                    self.make_ready(dependent);
                }
            }
        }
        self.keep_under_target();
    }

    /// Values a client scattered through the scheduler.
    pub(crate) fn put_data(&mut self, values: Vec<(TaskId, Value)>) {
        let mut ids = Vec::with_capacity(values.len());
        for (id, value) in values {
            // Its state becomes memory as it is stored.
            self.tasks
                .entry(id)
                .or_insert_with(|| Task::to_fetch(FIRST, Vec::new(), 0));
            self.store(id, value);
            ids.push(id);
        }
        self.instructions
            .push(Instruction::Send(FromWorker::AddKeys { ids }));
        self.ensure_computing();
    }

    /// Scattered values that do not decode here: the scheduler hears why.
    pub(crate) fn refuse_data(&mut self, ids: Vec<TaskId>, reason: String) {
        self.instructions
            .push(Instruction::Send(FromWorker::NotStored { ids, reason }));
    }

    /// The heartbeat's news.
    pub(crate) fn heartbeat(&self) -> Heartbeat {
        Heartbeat {
            managed_bytes: self.managed_bytes,
            spilled_bytes: self.memory.spilled_bytes,
            spilled_nbytes: self.memory.spilled_nbytes,
            process_bytes: self.memory.process.unwrap_or(0),
            paused: self.memory.paused,
            executing: self.executing.len() as u32,
            ready: self
                .tasks
                .values()
                .filter(|t| matches!(t.state, WorkerTaskState::Ready | WorkerTaskState::Waiting))
                .count() as u32,
            ..Heartbeat::default()
        }
    }

    /// The state of task `id`, if the worker knows it.
    #[cfg(test)]
    pub(crate) fn state_of(&self, id: TaskId) -> Option<WorkerTaskState> {
        self.tasks.get(&id).map(|t| t.state)
    }
}

mod memory;
mod steal;
mod transfer;
mod validate;

#[cfg(test)]
mod tests;
