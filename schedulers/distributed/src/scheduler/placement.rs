//! Where a ready task runs.
//!
//! - A task runs only on workers that registered every function it
//!   calls; if no worker has one of them, it fails at once, naming the
//!   function and the workers.
//! - Restrictions (`workers`, `resources`) narrow the choice; with
//!   `allow_other_workers`, any worker may run it when none of those can.
//!   A task no running worker can take waits in `no-worker`.
//! - A root task (no dependencies, no restrictions) goes to the least
//!   busy worker with a free slot, or waits in the scheduler's queue:
//!   `ceil(worker-saturation × threads)` slots per worker, plus enough
//!   to cover a round trip for tasks known to be short, and none while
//!   the worker's values fill more than 60% of its memory limit. Workers
//!   are never flooded with inputs they cannot hold.
//! - Any other task goes to the worker where it would start soonest:
//!   the least `occupancy / threads + bytes to fetch / bandwidth +
//!   latency if anything must be fetched`, over every capable worker
//!   (Dask only looks at the workers holding a dependency; scoring every
//!   worker lets an idle one win when the holders are busy).

use super::task::{Failure, Task};
use super::{SchedulerState, Worker};
use crate::protocol::{TaskId, WorkerId};

/// A task being placed, and whether every running worker has its
/// functions.
struct Fit<'a> {
    task: &'a Task,
    everywhere: bool,
}

/// What root tasks of one kind may add to a worker.
struct Allowance {
    extra_per_thread: usize,
    bytes_each: f64,
}

/// What placement decided for a ready task.
#[derive(Debug)]
pub(crate) enum Decision {
    Worker(WorkerId),
    Queue,
    NoWorker,
    Fail(Box<Failure>),
}

/// Extra root tasks per thread a worker may hold, at most, to hide the
/// round trip of short tasks.
const MAX_PREFILL: f64 = 32.0;

/// Share of its memory limit a worker's values may fill before it gets
/// no new root tasks (Dask's `target`).
const MEMORY_TARGET: f64 = 0.6;

impl SchedulerState {
    /// Decides where the ready task `id` goes.
    pub(crate) fn decide(&mut self, id: TaskId) -> Decision {
        let Some(task) = self.tasks.get(id) else {
            return Decision::NoWorker;
        };
        if self.running.is_empty() {
            return Decision::NoWorker;
        }
        // Workers of one build share a function set: a task whose
        // functions every running set has needs no check per worker.
        let everywhere = task.functions.iter().all(|&f| {
            self.running_sets
                .iter()
                .all(|&(set, _)| self.functions.has(set, f))
        });
        if !everywhere
            && let Some(missing) = task
                .functions
                .iter()
                .find(|&&f| !self.running.iter().any(|w| self.has_function(*w, f)))
        {
            return Decision::Fail(Box::new(self.missing_function(task, *missing)));
        }
        let count = self.running.len();
        self.round_robin = self.round_robin.wrapping_add(1);
        let start = self.round_robin % count;
        let fit = Fit { task, everywhere };
        if task.is_root() && self.config.worker_saturation.is_finite() {
            let (decision, full) = self.decide_root(&fit, start);
            if let Some(full) = full {
                self.roots_full = Some(full);
            }
            return decision;
        }
        let restricted = task.restrictions.is_some();
        if !restricted
            && !task.dependencies.is_empty()
            && let Some(worker) = self.best_of_holders(&fit)
        {
            return Decision::Worker(worker);
        }
        if let Some(worker) = self.best_worker(&fit, start, restricted) {
            return Decision::Worker(worker);
        }
        let loose = task.restrictions.as_ref().is_some_and(|r| r.loose);
        if restricted
            && loose
            && let Some(worker) = self.best_worker(&fit, start, false)
        {
            return Decision::Worker(worker);
        }
        Decision::NoWorker
    }

    /// Where a root task goes; with the allowance for which no worker has
    /// a slot when it looked through them all in vain.
    fn decide_root(&self, fit: &Fit<'_>, start: usize) -> (Decision, Option<(usize, f64)>) {
        let task = fit.task;
        let allowance = self.root_allowance(task.prefix);
        // Consecutive roots of a graph (by priority: siblings of one
        // reduction) go to one worker in runs of (roots / threads of the
        // cluster), so the task that reads them finds them together, and a
        // few roots still spread over the workers (Dask's co-assignment).
        if let Some((last, left)) = self.root_run
            && left > 0
            && self.workers.contains_key(&last)
            && self.capable(fit, last)
            && self.free_slots(last, &allowance) > 0
        {
            return (Decision::Worker(last), None);
        }
        // Nothing opened since a look through them all found no slot for
        // roots like this one: it waits.
        if self.opened.is_empty()
            && self.roots_full.is_some_and(|(extra, bytes)| {
                allowance.extra_per_thread <= extra && allowance.bytes_each >= bytes
            })
        {
            return (Decision::Queue, None);
        }
        // A worker whose task just finished has a slot: no need to look
        // through them all.
        for &id in self.opened.iter().rev() {
            if self.workers.contains_key(&id)
                && self.capable(fit, id)
                && self.free_slots(id, &allowance) > 0
            {
                return (Decision::Worker(id), None);
            }
        }
        let mut best: Option<(f64, WorkerId)> = None;
        for &id in self.from(start) {
            let Some(worker) = self.workers.get(&id) else {
                continue;
            };
            if !self.capable(fit, id) || slots_of(worker, &allowance) == 0 {
                continue;
            }
            let load = worker.processing.len() as f64 / f64::from(worker.nthreads);
            if best.is_none_or(|(b, _)| load < b) {
                best = Some((load, id));
                if load == 0.0 {
                    break;
                }
            }
        }
        match best {
            Some((_, worker)) => (Decision::Worker(worker), None),
            None => (
                Decision::Queue,
                Some((allowance.extra_per_thread, allowance.bytes_each)),
            ),
        }
    }

    /// The best of the workers holding an input and of an idle worker:
    /// every other worker is busy and holds nothing the task reads, so it
    /// cannot start it sooner than an idle one would.
    fn best_of_holders(&self, fit: &Fit<'_>) -> Option<WorkerId> {
        let task = fit.task;
        // One pass over the inputs: what each holder already has.
        let mut total = 0u64;
        let mut held: smallvec::SmallVec<[(WorkerId, u64, usize); 8]> = smallvec::SmallVec::new();
        for &dep in &task.dependencies {
            let Some(d) = self.tasks.get(dep) else {
                continue;
            };
            total += d.nbytes;
            for &holder in &d.who_has {
                match held.iter_mut().find(|(w, _, _)| *w == holder) {
                    Some(entry) => {
                        entry.1 += d.nbytes;
                        entry.2 += 1;
                    }
                    None => held.push((holder, d.nbytes, 1)),
                }
            }
        }
        let inputs = task.dependencies.len();
        let cost = |bytes_held: u64, inputs_held: usize| {
            if inputs_held == inputs {
                0.0
            } else {
                (total - bytes_held.min(total)) as f64 / self.config.bandwidth
                    + self.config.transfer_latency
            }
        };
        let mut best: Option<(f64, WorkerId)> = None;
        let mut consider = |id: WorkerId, score_comm: f64| {
            let Some(worker) = self.workers.get(&id) else {
                return;
            };
            if !self.capable(fit, id) {
                return;
            }
            let score = worker.occupancy / f64::from(worker.nthreads) + score_comm;
            if best.is_none_or(|(b, w)| score < b || (score == b && id < w)) {
                best = Some((score, id));
            }
        };
        for &(holder, bytes, count) in &held {
            consider(holder, cost(bytes, count));
        }
        if let Some(&idle) = self
            .idle
            .iter()
            .find(|w| !held.iter().any(|(h, _, _)| h == *w))
        {
            consider(idle, cost(0, 0));
        }
        best.map(|(_, id)| id)
    }

    /// The capable worker (meeting the restrictions when `restricted`)
    /// where the task would start soonest, of them all.
    fn best_worker(&self, fit: &Fit<'_>, start: usize, restricted: bool) -> Option<WorkerId> {
        let task = fit.task;
        let mut best: Option<(f64, WorkerId)> = None;
        for &id in self.from(start) {
            let Some(worker) = self.workers.get(&id) else {
                continue;
            };
            if !self.capable(fit, id) || (restricted && !self.meets(task, id)) {
                continue;
            }
            let score = worker.occupancy / f64::from(worker.nthreads) + self.comm_cost(task, id);
            if best.is_none_or(|(b, _)| score < b) {
                best = Some((score, id));
            }
        }
        best.map(|(_, id)| id)
    }

    /// Seconds to fetch the task's inputs that `worker` does not hold.
    pub(crate) fn comm_cost(&self, task: &Task, worker: WorkerId) -> f64 {
        let mut bytes = 0u64;
        let mut fetches = false;
        for &dep in &task.dependencies {
            if let Some(d) = self.tasks.get(dep)
                && !d.who_has.contains(&worker)
            {
                bytes += d.nbytes;
                fetches = true;
            }
        }
        if !fetches {
            return 0.0;
        }
        bytes as f64 / self.config.bandwidth + self.config.transfer_latency
    }

    /// Whether `worker` is running and registered every function the task
    /// calls.
    fn capable(&self, fit: &Fit<'_>, worker: WorkerId) -> bool {
        let running = self
            .workers
            .get(&worker)
            .is_some_and(|w| w.status == super::WorkerStatus::Running);
        running
            && (fit.everywhere
                || fit
                    .task
                    .functions
                    .iter()
                    .all(|&f| self.has_function(worker, f)))
    }

    fn has_function(&self, worker: WorkerId, function: u32) -> bool {
        self.workers
            .get(&worker)
            .is_some_and(|w| self.functions.has(w.function_set, function))
    }

    /// Whether `worker` meets the task's restrictions.
    pub(crate) fn meets(&self, task: &Task, worker: WorkerId) -> bool {
        let Some(restrictions) = &task.restrictions else {
            return true;
        };
        let Some(w) = self.workers.get(&worker) else {
            return false;
        };
        let named = restrictions.workers.is_empty()
            || restrictions
                .workers
                .iter()
                .any(|name| name == &w.name || same_address(name, &w.address) || name == &w.host);
        let resourced = restrictions.resources.iter().all(|(name, needed)| {
            w.resources
                .iter()
                .any(|(have, amount)| have == name && amount >= needed)
        });
        named && resourced
    }

    /// What root tasks of `prefix` may add to a worker: extra slots per
    /// thread (short tasks cover a round trip) and bytes each (for the
    /// memory limit).
    fn root_allowance(&self, prefix: u32) -> Allowance {
        let kind = self.prefixes.get(prefix as usize);
        let extra_per_thread = kind.and_then(|p| p.duration).map_or(0, |duration| {
            (self.config.transfer_latency / duration.max(1e-9))
                .floor()
                .clamp(0.0, MAX_PREFILL) as usize
        });
        Allowance {
            extra_per_thread,
            bytes_each: kind.and_then(|p| p.nbytes).unwrap_or(0.0),
        }
    }

    /// The running workers, starting at index `start` and wrapping round
    /// (so that ties do not always go to the first worker).
    fn from(&self, start: usize) -> impl Iterator<Item = &WorkerId> {
        let start = start.min(self.running.len());
        self.running[start..].iter().chain(&self.running[..start])
    }

    /// Root tasks `worker` may take now.
    fn free_slots(&self, worker: WorkerId, allowance: &Allowance) -> usize {
        self.workers
            .get(&worker)
            .map_or(0, |w| slots_of(w, allowance))
    }

    /// Records that root task `id` goes to `worker`, for the runs of
    /// `decide_root`.
    pub(crate) fn note_root(&mut self, id: TaskId, worker: WorkerId) {
        let Some(task) = self.tasks.get(id) else {
            return;
        };
        if !task.is_root() {
            return;
        }
        self.root_run = match self.root_run {
            Some((last, left)) if last == worker && left > 0 => Some((worker, left - 1)),
            _ => {
                let roots = self
                    .root_counts
                    .get(&task.priority.generation)
                    .copied()
                    .unwrap_or(1) as usize;
                let threads: usize = self
                    .running
                    .iter()
                    .filter_map(|w| self.workers.get(w))
                    .map(|w| w.nthreads as usize)
                    .sum();
                let run = roots.div_ceil(threads.max(1)).max(1);
                Some((worker, run.saturating_sub(1)))
            }
        };
    }

    /// Sends queued tasks to workers with free slots, most urgent first.
    pub(crate) fn fill_slots(&mut self) {
        self.fill_queued();
        self.opened.clear();
    }

    fn fill_queued(&mut self) {
        while self.queued_count > 0 {
            let Some(&std::cmp::Reverse((_, id))) = self.queued.peek() else {
                break;
            };
            let queued = self
                .tasks
                .get(id)
                .is_some_and(|t| t.state == super::State::Queued);
            if !queued {
                self.queued.pop();
                continue;
            }
            match self.decide(id) {
                Decision::Worker(worker) => {
                    self.queued.pop();
                    self.note_root(id, worker);
                    self.assign(id, worker);
                }
                Decision::Queue => break,
                Decision::NoWorker => {
                    // No worker at all: the queue waits for one.
                    break;
                }
                Decision::Fail(failure) => {
                    self.queued.pop();
                    self.transitions(vec![(
                        id,
                        super::transitions::Target::Erred(std::sync::Arc::new(*failure)),
                    )]);
                }
            }
        }
        if self.queued.len() > 1024 && self.queued.len() > 4 * self.queued_count {
            // Drop the entries of tasks that left the queue.
            let tasks = &self.tasks;
            self.queued.retain(|std::cmp::Reverse((_, id))| {
                tasks
                    .get(*id)
                    .is_some_and(|t| t.state == super::State::Queued)
            });
        }
    }

    /// The failure of a task calling a function no worker registered.
    fn missing_function(&self, task: &Task, function: u32) -> Failure {
        let name = self.functions.name(function);
        let workers: Vec<String> = self
            .running
            .iter()
            .filter_map(|w| self.workers.get(w))
            .map(|w| format!("'{}' ({})", w.name, w.address))
            .collect();
        let message = format!(
            "function '{name}' is registered on no worker of the cluster (none of {}): start \
             the workers from a program that registers it (its #[barrow::task] functions, with \
             the worker hook barrow::processes::worker_main), or load the plugin that provides \
             it on the workers (plugins.load)",
            workers.join(", ")
        );
        let mut error = barrow_core::Error::new(barrow_core::ErrorKind::UnknownFunction, message)
            .with_key(task.key.clone());
        error = error.with_function(name);
        Failure {
            error: barrow_wire::task::WireError::from_error(&error, None),
            blame: task.key.clone(),
            dependents: Vec::new(),
        }
    }

    /// Why no worker can run `task`, for errors.
    pub(crate) fn unmet_restrictions(&self, task: &Task) -> String {
        let mut wants = Vec::new();
        if let Some(r) = &task.restrictions {
            if !r.workers.is_empty() {
                wants.push(format!("one of the workers [{}]", r.workers.join(", ")));
            }
            if !r.resources.is_empty() {
                let resources: Vec<String> = r
                    .resources
                    .iter()
                    .map(|(n, a)| format!("{n}={a}"))
                    .collect();
                wants.push(format!("resources {}", resources.join(", ")));
            }
        }
        let workers: Vec<String> = self
            .running
            .iter()
            .filter_map(|w| self.workers.get(w))
            .map(|w| {
                let resources: Vec<String> = w
                    .resources
                    .iter()
                    .map(|(n, a)| format!("{n}={a}"))
                    .collect();
                format!(
                    "'{}' ({}, resources: {})",
                    w.name,
                    w.address,
                    if resources.is_empty() {
                        "none".to_owned()
                    } else {
                        resources.join(", ")
                    }
                )
            })
            .collect();
        format!(
            "it needs {}; the workers are {}",
            if wants.is_empty() {
                "a worker".to_owned()
            } else {
                wants.join(" and ")
            },
            workers.join(", ")
        )
    }
}

/// Whether a restriction names this worker's address (with or without
/// the scheme).
pub(crate) fn same_address(name: &str, address: &str) -> bool {
    name == address || address.strip_prefix("tcp://") == Some(name)
}

/// Root tasks worker `w` may take now.
fn slots_of(w: &Worker, allowance: &Allowance) -> usize {
    let slots = w.slots + w.nthreads as usize * allowance.extra_per_thread;
    let processing = w.processing.len();
    if w.memory_limit > 0 && processing > 0 {
        let projected = w.managed_bytes as f64 + (processing as f64 + 1.0) * allowance.bytes_each;
        if projected > MEMORY_TARGET * w.memory_limit as f64 {
            return 0;
        }
    }
    slots.saturating_sub(processing)
}
