//! The threaded run: every worker drives the plan itself, with a deque of
//! its own and stealing, and no lock shared by all on a task's way.
//!
//! - Counters are atomics: a task's dependencies still to finish
//!   (`waiting`); the reads a result still awaits live with the result
//!   (`results.rs`).
//! - The roots (tasks ready at the start) sit in `order`'s priority in one
//!   array; a worker claims a few at a time with one atomic add and pushes
//!   them on its deque, where others can steal them.
//! - A worker that finishes a task counts down its dependents and runs the
//!   most urgent one that became ready itself, next (depth first, on a warm
//!   cache, as `order` assumes); the others go on its deque, most urgent on
//!   top. A chain runs on one worker without a single hand-over.
//! - An idle worker steals from the others' deques (the oldest task), then
//!   sleeps on a condition variable that only a worker pushing work while
//!   someone sleeps touches.
//! - Finished tasks are counted per worker and added up when it goes idle:
//!   the run is over when the sum reaches the plan's size.
//!
//! With callbacks, a task's reads and `pretask`, and its result and
//! `posttask`, happen under one lock, so callbacks see the store change only
//! between events as the trait documents; without them nothing is shared.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use barrow_core::callback::{Callback, TaskEvent};
use barrow_core::execute::run_task;
use barrow_core::plan::Plan;
use barrow_core::{Error, Result, RunContext, Value};
use crossbeam_deque::{Steal, Stealer, Worker};
use smallvec::SmallVec;

use super::results::Results;
use crate::engine::task_error;

/// The most roots a worker claims at once (fewer when few are left, so the
/// last ones spread over the workers).
const MAX_ROOT_CLAIM: usize = 16;

/// Tasks with at least this many dependencies have their countdown held
/// per worker (see [`Held`]).
const HELD_FAN_IN: usize = 64;

/// The most countdowns a worker holds before handing them over.
const HELD_BATCH: u32 = 64;

/// Countdowns of one dependent of many tasks, kept by a worker and handed
/// over to the shared counter in one atomic subtraction: when that batch is
/// full, the worker's next finished task counts down another such
/// dependent, or the worker is about to go idle (so that when every worker
/// is idle, nothing is held and the deadlock check stays right). Without
/// it, `indep100k`'s final task has one counter that both workers write
/// after every task, and the cache line bouncing between the cores costs
/// more than the tasks.
#[derive(Default)]
struct Held {
    dependent: Option<u32>,
    count: u32,
}

/// A task's inputs; most tasks read few keys.
type Inputs = SmallVec<[Value; 4]>;

/// Runs every task of `plan` on `pool` and returns the outputs' values.
pub(super) fn run(
    plan: &Plan<'_>,
    ctx: &mut RunContext<'_>,
    rerun: bool,
    pool: &rayon::ThreadPool,
) -> Result<Vec<Value>> {
    let total = plan.len();
    if total == 0 {
        return Ok(Vec::new());
    }
    let callbacks: Vec<Arc<dyn Callback>> = ctx.callbacks().to_vec();
    // No more workers than tasks: a pool of thousands of threads costs a
    // small graph a few wake-ups, not one per thread.
    let drivers = pool.current_num_threads().min(total).max(1);
    let deques: Vec<Worker<u32>> = (0..drivers).map(|_| Worker::new_lifo()).collect();
    let run = Run::new(plan, ctx.store(), &callbacks, rerun, &deques);
    pool.in_place_scope(|scope| {
        for deque in deques {
            let run = &run;
            scope.spawn(move |_| run.work(deque));
        }
    });
    let Run {
        results, failure, ..
    } = run;
    let failure = failure.into_inner().unwrap_or_else(|e| e.into_inner());
    if let Some(failure) = failure {
        if let Some((id, inputs)) = failure.rerun {
            // On the caller's thread, where a debugger waits; the result is
            // the failure already reported.
            let mut inputs = inputs.into_iter();
            drop(run_task(plan.task(id), &mut |_key| {
                inputs
                    .next()
                    .ok_or_else(|| Error::internal("a rerun read too many inputs"))
            }));
        }
        return Err(failure.error);
    }
    plan.outputs()
        .iter()
        .map(|&id| results.output(id, plan.key(id)))
        .collect()
}

/// The first failure of a run, with the failed task's inputs when it is to
/// run again on the caller.
struct Failure {
    error: Error,
    rerun: Option<(u32, Inputs)>,
}

/// What the workers share.
struct Run<'p, 'g, 's, 'c> {
    plan: &'p Plan<'g>,
    results: Results<'s>,
    /// Dependencies of each task not finished yet.
    waiting: Vec<AtomicU32>,
    /// The tasks ready at the start, most urgent first, and the next one
    /// nobody claimed.
    roots: Vec<u32>,
    next_root: AtomicUsize,
    stealers: Vec<Stealer<u32>>,
    /// Tasks finished, as workers report them when they go idle.
    finished: AtomicUsize,
    /// Set when every task ran, or one failed: workers stop.
    stop: AtomicBool,
    failure: Mutex<Option<Failure>>,
    sleep: Sleep,
    callbacks: &'c [Arc<dyn Callback>],
    /// Held around a task's reads and `pretask`, and its result and
    /// `posttask`, when there are callbacks.
    events: Mutex<()>,
    rerun: bool,
}

impl<'p, 'g, 's, 'c> Run<'p, 'g, 's, 'c> {
    fn new(
        plan: &'p Plan<'g>,
        store: &'s mut dyn barrow_core::store::Store,
        callbacks: &'c [Arc<dyn Callback>],
        rerun: bool,
        deques: &[Worker<u32>],
    ) -> Self {
        let waiting: Vec<AtomicU32> = plan
            .dependency_lists()
            .rows()
            .map(|row| AtomicU32::new(row.len() as u32))
            .collect();
        let mut roots: Vec<u32> = (0..plan.len() as u32)
            .filter(|&id| plan.dependencies(id).is_empty())
            .collect();
        roots.sort_unstable_by_key(|&id| plan.priority(id));
        Run {
            plan,
            results: Results::new(plan, store, !callbacks.is_empty()),
            waiting,
            roots,
            next_root: AtomicUsize::new(0),
            stealers: deques.iter().map(Worker::stealer).collect(),
            finished: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            failure: Mutex::new(None),
            sleep: Sleep::new(),
            callbacks,
            events: Mutex::new(()),
            rerun,
        }
    }

    /// One worker's loop, until the run is over.
    fn work(&self, local: Worker<u32>) {
        // A panicking callback unwinds through here: stop the others
        // instead of leaving them asleep (the pool's scope re-raises it).
        // Every way out of the loop ends the run for all (it is over, or
        // failed), so the guard's stop is right on a normal exit too.
        let _stop = StopOnUnwind(self);
        let worker = rayon::current_thread_index().unwrap_or(0);
        self.sleep.busy.fetch_add(1, Ordering::SeqCst);
        let mut finished_here = 0usize;
        let mut held = Held::default();
        let mut next: Option<u32> = None;
        'run: loop {
            if self.stop.load(Ordering::Acquire) {
                break;
            }
            let id = match next.take() {
                Some(id) => id,
                None => match local.pop().or_else(|| self.claim_roots(&local)) {
                    Some(id) => id,
                    None => loop {
                        if let Some(id) = self.steal(&local) {
                            break id;
                        }
                        // Hand over held countdowns before going idle: the
                        // task they free may be the last work there is.
                        if let Some(id) = self.flush(&mut held) {
                            break id;
                        }
                        // Nothing anywhere: report what ran here, then sleep
                        // until someone pushes work or the run ends.
                        if finished_here > 0 {
                            let done = self.finished.fetch_add(finished_here, Ordering::AcqRel)
                                + finished_here;
                            finished_here = 0;
                            if done == self.plan.len() {
                                self.halt();
                                break 'run;
                            }
                        }
                        if !self.sleep.idle(self) {
                            break 'run;
                        }
                    },
                },
            };
            if let Err(failure) = self.execute(id, worker) {
                self.fail(failure);
                break;
            }
            finished_here += 1;
            next = self.release_dependents(id, &local, &mut held);
        }
    }

    /// Counts down the dependents of `id`; of those that became ready, the
    /// most urgent is returned (to run next, here) and the others go on
    /// `local`, the most urgent on top.
    ///
    /// The countdown of a dependent of many tasks (a sum of thousands) is
    /// held here and handed over in batches (see [`Held`]), so the workers
    /// do not contend for its counter on every task.
    fn release_dependents(&self, id: u32, local: &Worker<u32>, held: &mut Held) -> Option<u32> {
        let plan = self.plan;
        let mut ready: SmallVec<[u32; 8]> = SmallVec::new();
        for &dependent in plan.dependents(id) {
            if plan.dependencies(dependent).len() >= HELD_FAN_IN {
                if held.dependent != Some(dependent) {
                    ready.extend(self.flush(held));
                    held.dependent = Some(dependent);
                }
                held.count += 1;
                if held.count >= HELD_BATCH {
                    ready.extend(self.flush(held));
                }
            } else if self.waiting[dependent as usize].fetch_sub(1, Ordering::AcqRel) == 1 {
                ready.push(dependent);
            }
        }
        match ready.len() {
            0 => None,
            1 => Some(ready[0]),
            _ => {
                ready.sort_unstable_by_key(|&d| plan.priority(d));
                for &d in ready[1..].iter().rev() {
                    local.push(d);
                }
                self.sleep.notify();
                Some(ready[0])
            }
        }
    }

    /// Hands the countdowns `held` over to the shared counter: the
    /// dependent when that made it ready.
    fn flush(&self, held: &mut Held) -> Option<u32> {
        let dependent = held.dependent.take()?;
        let count = std::mem::take(&mut held.count);
        (self.waiting[dependent as usize].fetch_sub(count, Ordering::AcqRel) == count)
            .then_some(dependent)
    }

    /// Claims the next few roots: runs the first and pushes the others on
    /// `local` (most urgent on top), where idle workers can steal them.
    fn claim_roots(&self, local: &Worker<u32>) -> Option<u32> {
        let len = self.roots.len();
        let seen = self.next_root.load(Ordering::Relaxed);
        if seen >= len {
            return None;
        }
        let claim = ((len - seen) / (8 * self.stealers.len())).clamp(1, MAX_ROOT_CLAIM);
        let start = self.next_root.fetch_add(claim, Ordering::Relaxed);
        if start >= len {
            return None;
        }
        let end = (start + claim).min(len);
        for &id in self.roots[start + 1..end].iter().rev() {
            local.push(id);
        }
        if end - start > 1 {
            self.sleep.notify();
        }
        Some(self.roots[start])
    }

    /// A task taken from another worker's deque (with a batch of its
    /// neighbours moved onto `local`).
    fn steal(&self, local: &Worker<u32>) -> Option<u32> {
        loop {
            let mut retry = false;
            for stealer in &self.stealers {
                match stealer.steal_batch_and_pop(local) {
                    Steal::Success(id) => {
                        if !local.is_empty() {
                            self.sleep.notify();
                        }
                        return Some(id);
                    }
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return None;
            }
        }
    }

    /// Whether some task waits to be taken.
    fn has_work(&self) -> bool {
        self.next_root.load(Ordering::SeqCst) < self.roots.len()
            || self.stealers.iter().any(|s| !s.is_empty())
    }

    /// Runs task `id` on this thread: reads its inputs, calls it, keeps its
    /// result.
    fn execute(&self, id: u32, worker: usize) -> Result<(), Failure> {
        let plan = self.plan;
        let listening = !self.callbacks.is_empty();
        let events = listening.then(|| lock(&self.events));
        let mut inputs = Inputs::new();
        for &dep in plan.dependencies(id) {
            match self.results.read(dep, plan.key(dep)) {
                Ok(value) => inputs.push(value),
                Err(error) => {
                    return Err(Failure { error, rerun: None });
                }
            }
        }
        if listening {
            let event = self.event(id, worker);
            for callback in self.callbacks {
                callback.pretask(&event);
            }
        }
        drop(events);
        let kept = self.rerun.then(|| inputs.clone());
        let mut given = inputs.into_iter();
        let result = run_task(plan.task(id), &mut |_key| {
            given
                .next()
                .ok_or_else(|| Error::internal("a task read more inputs than were gathered"))
        });
        drop(given);
        let value = match result {
            Ok(value) => value,
            Err(error) => {
                return Err(Failure {
                    error: task_error(plan, id, error),
                    rerun: kept.map(|inputs| (id, inputs)),
                });
            }
        };
        if !listening {
            return self
                .results
                .put(id, plan.key(id), value)
                .map_err(|error| Failure { error, rerun: None });
        }
        let _events = lock(&self.events);
        self.results
            .put(id, plan.key(id), value.clone())
            .map_err(|error| Failure { error, rerun: None })?;
        let event = self.event(id, worker);
        for callback in self.callbacks {
            callback.posttask(&event, &value);
        }
        Ok(())
    }

    fn event(&self, id: u32, worker: usize) -> TaskEvent<'p> {
        let plan = self.plan;
        TaskEvent {
            id,
            key: plan.key(id),
            function: plan.task(id).function_name(),
            worker,
            store_bytes: self.results.nbytes(),
        }
    }

    /// Records the run's first failure and stops every worker.
    fn fail(&self, failure: Failure) {
        lock(&self.failure).get_or_insert(failure);
        self.halt();
    }

    /// Ends the run: every worker stops at its next step.
    fn halt(&self) {
        self.stop.store(true, Ordering::Release);
        self.sleep.wake_all();
    }
}

/// Stops the run when a worker leaves its loop, also by unwinding (a
/// panicking callback), so no other worker sleeps forever.
struct StopOnUnwind<'r, 'p, 'g, 's, 'c>(&'r Run<'p, 'g, 's, 'c>);

impl Drop for StopOnUnwind<'_, '_, '_, '_, '_> {
    fn drop(&mut self) {
        self.0.halt();
    }
}

/// Where idle workers wait for work.
///
/// A worker pushing work calls [`Sleep::notify`], which costs one load
/// unless someone sleeps. A worker about to sleep first counts itself in
/// `sleepers`, then checks for work once more: either the pusher sees it
/// counted (and wakes it, under the lock, after it started waiting), or it
/// sees the pushed work. `busy` counts workers not idle; when it drops to
/// zero with nothing to take and tasks left, no one could ever push again.
struct Sleep {
    sleepers: AtomicUsize,
    busy: AtomicUsize,
    /// Bumped by every wake-up, so a waiter can tell one from a spurious
    /// return of the condition variable.
    epoch: Mutex<u64>,
    wake: Condvar,
}

impl Sleep {
    fn new() -> Sleep {
        Sleep {
            sleepers: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            epoch: Mutex::new(0),
            wake: Condvar::new(),
        }
    }

    /// Wakes one sleeping worker, if any, after work was pushed.
    fn notify(&self) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) == 0 {
            return;
        }
        *lock(&self.epoch) += 1;
        self.wake.notify_one();
    }

    /// Wakes every worker (the run is over).
    fn wake_all(&self) {
        *lock(&self.epoch) += 1;
        self.wake.notify_all();
    }

    /// Sleeps until work may be there; `false` when the run is over.
    fn idle(&self, run: &Run<'_, '_, '_, '_>) -> bool {
        let mut epoch = lock(&self.epoch);
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let still_busy = self.busy.fetch_sub(1, Ordering::SeqCst) - 1;
        if !run.has_work() && !run.stop.load(Ordering::Acquire) {
            if still_busy == 0 && run.finished.load(Ordering::Acquire) < run.plan.len() {
                // Everyone is idle and nothing is left to take: a task
                // waits for one that can never finish (a bug in the plan).
                drop(epoch);
                self.sleepers.fetch_sub(1, Ordering::SeqCst);
                self.busy.fetch_add(1, Ordering::SeqCst);
                run.fail(Failure {
                    error: Error::internal("no task is ready or running, but some have not run"),
                    rerun: None,
                });
                return false;
            }
            let seen = *epoch;
            while *epoch == seen {
                epoch = self.wake.wait(epoch).unwrap_or_else(|e| e.into_inner());
            }
        }
        drop(epoch);
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        self.busy.fetch_add(1, Ordering::SeqCst);
        !run.stop.load(Ordering::Acquire)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
