//! The one local engine (Dask's `get_async`): bookkeeping on the dense plan,
//! with the running of tasks left to an [`Executor`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use barrow_core::callback::{RunInfo, TaskEvent};
use barrow_core::execute::run_task;
use barrow_core::plan::Plan;
use barrow_core::{Error, Graph, Key, Result, RunContext, Task, Value};

/// A task ready to run, with its inputs gathered.
pub struct Job<'g> {
    /// The task's id in the plan.
    pub id: u32,
    /// The task.
    pub task: &'g Task,
    /// The values of its dependencies, in argument order.
    pub inputs: Vec<Value>,
}

impl std::fmt::Debug for Job<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("inputs", &self.inputs.len())
            .finish()
    }
}

impl Job<'_> {
    /// Runs the task on the current thread.
    pub fn run(self) -> Result<Value> {
        let mut inputs = self.inputs.into_iter();
        run_task(self.task, &mut |_key| {
            inputs
                .next()
                .ok_or_else(|| Error::internal("a task read more inputs than were gathered"))
        })
    }
}

/// A finished job.
#[derive(Debug)]
pub struct Finished {
    /// The task's id in the plan.
    pub id: u32,
    /// Which worker ran it.
    pub worker: usize,
    /// Its result.
    pub result: Result<Value>,
}

/// What an executor reports: a job started, or a job finished.
#[derive(Debug)]
pub enum Progress {
    /// Job `id` started on `worker` (only from an executor whose
    /// [`Executor::reports_starts`] is true).
    Started {
        /// The task's id in the plan.
        id: u32,
        /// Which worker runs it.
        worker: usize,
    },
    /// A job finished.
    Finished(Finished),
}

/// Runs jobs: on the caller's thread, a thread pool, or worker processes.
pub trait Executor<'g> {
    /// How many jobs run at once.
    fn workers(&self) -> usize;

    /// How many jobs may be submitted and not yet finished (at least
    /// [`Executor::workers`]; more keeps a pool busy between wake-ups).
    fn capacity(&self) -> usize {
        self.workers()
    }

    /// Whether the executor reports [`Progress::Started`] when a job really
    /// starts: then `pretask` fires then, not when the job is submitted
    /// (a pool's queued jobs are not running yet).
    fn reports_starts(&self) -> bool {
        false
    }

    /// Starts `jobs`, in order (a synchronous executor runs them right
    /// away). Several small jobs come in one batch when many are ready, so a
    /// pool pays its hand-over costs once per batch.
    fn submit(&mut self, jobs: Vec<Job<'g>>);

    /// Waits for a submitted job to start or finish.
    fn next_progress(&mut self) -> Result<Progress>;

    /// A start or finish, if one is waiting; never blocks.
    fn try_next_progress(&mut self) -> Option<Progress> {
        None
    }
}

/// The most jobs handed to an executor at once.
const MAX_BATCH: usize = 16;

/// Runs `graph` for `keys` on `executor`, in `order`'s priority, freeing each
/// result as soon as no remaining task needs it.
pub fn run<'g>(
    scheduler_name: &str,
    graph: &'g Graph,
    keys: &[Key],
    ctx: &mut RunContext<'_>,
    executor: &mut dyn Executor<'g>,
) -> Result<Vec<Value>> {
    let workers = executor.workers();
    run_lowered(
        scheduler_name,
        graph,
        keys,
        ctx,
        workers,
        |plan, ctx, rerun| {
            let mut engine = Engine::new(plan, ctx, rerun);
            let driven = engine.drive(executor);
            if driven.is_err() {
                // On the caller's thread, where a debugger waits.
                engine.rerun_failed();
            }
            driven.and_then(|()| engine.outputs())
        },
    )
}

/// The frame every local run shares: lowers `graph` for `keys`, calls
/// `start`, lets `body` run the plan (with `local.rerun-failed-on-caller`)
/// and give the outputs, then calls `finish` and drops whatever the store
/// still holds.
pub(crate) fn run_lowered<'g>(
    scheduler_name: &str,
    graph: &'g Graph,
    keys: &[Key],
    ctx: &mut RunContext<'_>,
    workers: usize,
    body: impl FnOnce(&Plan<'g>, &mut RunContext<'_>, bool) -> Result<Vec<Value>>,
) -> Result<Vec<Value>> {
    let plan = graph.lower(keys)?;
    let info = RunInfo {
        plan: &plan,
        scheduler: scheduler_name,
        workers,
    };
    for callback in ctx.callbacks() {
        callback.start(&info);
    }
    let rerun = ctx
        .config()
        .get::<bool>("local.rerun-failed-on-caller")?
        .unwrap_or(false);
    let result = body(&plan, ctx, rerun);
    let error = result.as_ref().err();
    for callback in ctx.callbacks() {
        callback.finish(&info, error);
    }
    // Results no task needs any more were dropped on the way; drop what is
    // left (the outputs, or everything held when a task failed).
    let store = ctx.store();
    if result.is_ok() {
        for &id in plan.outputs() {
            store.remove(id, plan.key(id))?;
        }
    } else if !store.is_empty() {
        for (id, key) in (0..).zip(plan.keys()) {
            store.remove(id, key)?;
        }
    }
    result
}

/// The bookkeeping of one run: which tasks wait, which are ready, which
/// results are still needed.
struct Engine<'p, 'g, 'c, 'r> {
    plan: &'p Plan<'g>,
    ctx: &'c mut RunContext<'r>,
    /// Dependencies of each task not finished yet (a task reading one key
    /// twice waits for it twice).
    waiting: Vec<u32>,
    /// Reads of each result still to come; the result is freed at zero.
    /// Outputs get one extra read that the run never makes.
    unread: Vec<u32>,
    /// Ready tasks by (priority << 32 | id): the smallest runs first.
    ready: BinaryHeap<Reverse<u64>>,
    /// With `local.rerun-failed-on-caller`, the inputs of each running task,
    /// to run a failed one again on this thread.
    rerun_inputs: Option<HashMap<u32, Vec<Value>>>,
    /// The failed task and its inputs, kept to run it again on the caller.
    failed: Option<(u32, Vec<Value>)>,
    /// With callbacks on an executor that reports starts, the submitted
    /// tasks whose `pretask` waits for their start.
    unannounced: Option<Vec<bool>>,
}

impl<'p, 'g, 'c, 'r> Engine<'p, 'g, 'c, 'r> {
    fn new(plan: &'p Plan<'g>, ctx: &'c mut RunContext<'r>, rerun_failed: bool) -> Self {
        let n = plan.len();
        let waiting: Vec<u32> = plan
            .dependency_lists()
            .rows()
            .map(|r| r.len() as u32)
            .collect();
        let mut unread: Vec<u32> = plan
            .dependent_lists()
            .rows()
            .map(|r| r.len() as u32)
            .collect();
        for &id in plan.outputs() {
            unread[id as usize] += 1;
        }
        let mut ready = BinaryHeap::with_capacity(n.min(1 << 16));
        for id in 0..n as u32 {
            if waiting[id as usize] == 0 {
                ready.push(Reverse(Self::rank(plan, id)));
            }
        }
        Engine {
            plan,
            ctx,
            waiting,
            unread,
            ready,
            rerun_inputs: rerun_failed.then(HashMap::new),
            failed: None,
            unannounced: None,
        }
    }

    fn rank(plan: &Plan<'_>, id: u32) -> u64 {
        (u64::from(plan.priority(id)) << 32) | u64::from(id)
    }

    /// The central loop: hands ready tasks to `executor` (in batches when
    /// plenty are ready) and records what it gives back.
    fn drive(&mut self, executor: &mut dyn Executor<'g>) -> Result<()> {
        let total = self.plan.len();
        let workers = executor.workers().max(1);
        let capacity = executor.capacity().max(1);
        if executor.reports_starts() && !self.ctx.callbacks().is_empty() {
            self.unannounced = Some(vec![false; total]);
        }
        let mut finished = 0usize;
        let mut running = 0usize;
        while finished < total {
            while running < capacity && !self.ready.is_empty() {
                // Batches only when plenty is ready, so every worker still
                // gets work and `order` still decides what runs next.
                let size = (self.ready.len() / (4 * workers))
                    .clamp(1, MAX_BATCH)
                    .min(capacity - running);
                let mut batch = Vec::with_capacity(size);
                while batch.len() < size {
                    let Some(id) = self.pop_ready() else {
                        break;
                    };
                    batch.push(self.start(id, 0)?);
                }
                running += batch.len();
                executor.submit(batch);
            }
            if running == 0 {
                return Err(Error::internal(
                    "no task is ready or running, but some have not run",
                ));
            }
            let mut progress = Some(executor.next_progress()?);
            while let Some(report) = progress {
                match report {
                    Progress::Started { id, worker } => self.announce(id, worker),
                    Progress::Finished(job) => {
                        running -= 1;
                        finished += 1;
                        self.finish(job)?;
                    }
                }
                progress = executor.try_next_progress();
            }
        }
        Ok(())
    }

    /// The most urgent ready task, taken off the ready set.
    fn pop_ready(&mut self) -> Option<u32> {
        self.ready.pop().map(|Reverse(rank)| rank as u32)
    }

    /// The values of the requested keys, once every task has run.
    fn outputs(&mut self) -> Result<Vec<Value>> {
        let plan = self.plan;
        plan.outputs()
            .iter()
            .map(|&id| {
                self.ctx
                    .store()
                    .get(id, plan.key(id))?
                    .ok_or_else(|| Error::internal("an output result went missing from the store"))
            })
            .collect()
    }

    /// Gathers the inputs of `id` and tells the callbacks it starts on
    /// `worker` (0 where the worker is not known yet).
    fn start(&mut self, id: u32, worker: usize) -> Result<Job<'g>> {
        let job = self.gather(id)?;
        if let Some(kept) = &mut self.rerun_inputs {
            kept.insert(id, job.inputs.clone());
        }
        match &mut self.unannounced {
            Some(unannounced) => unannounced[id as usize] = true,
            None => self.pretask(id, worker),
        }
        Ok(job)
    }

    /// A job the executor reports started: `pretask` fires now.
    fn announce(&mut self, id: u32, worker: usize) {
        let Some(unannounced) = &mut self.unannounced else {
            return;
        };
        if std::mem::take(&mut unannounced[id as usize]) {
            self.pretask(id, worker);
        }
    }

    fn pretask(&mut self, id: u32, worker: usize) {
        if !self.ctx.callbacks().is_empty() {
            let event = self.event(id, worker);
            for callback in self.ctx.callbacks() {
                callback.pretask(&event);
            }
        }
    }

    /// Records a finished job, or turns its failure into the run's error
    /// (keeping the task's inputs for [`Engine::rerun_failed`] when asked).
    fn finish(&mut self, done: Finished) -> Result<()> {
        let kept = self.rerun_inputs.as_mut().and_then(|k| k.remove(&done.id));
        match done.result {
            Ok(value) => {
                // Whatever the executor said, `pretask` comes first.
                self.announce(done.id, done.worker);
                self.complete(done.id, done.worker, value)
            }
            Err(error) => {
                if let Some(inputs) = kept {
                    self.failed.get_or_insert((done.id, inputs));
                }
                Err(self.task_error(done.id, error))
            }
        }
    }

    /// Reads the inputs of `id` from the store, freeing those it reads last,
    /// so a task holding the only handle to a buffer may reuse it.
    fn gather(&mut self, id: u32) -> Result<Job<'g>> {
        let plan = self.plan;
        let deps = plan.dependencies(id);
        let mut inputs = Vec::with_capacity(deps.len());
        for &dep in deps {
            let key = plan.key(dep);
            let store = self.ctx.store();
            let Some(value) = store.get(dep, key)? else {
                return Err(Error::internal(format!(
                    "the result of {key} is missing from the store"
                )));
            };
            inputs.push(value);
            let unread = &mut self.unread[dep as usize];
            *unread -= 1;
            if *unread == 0 {
                store.remove(dep, key)?;
            }
        }
        Ok(Job {
            id,
            task: plan.task(id),
            inputs,
        })
    }

    fn complete(&mut self, id: u32, worker: usize, value: Value) -> Result<()> {
        let plan = self.plan;
        // Stored before `posttask` (as Dask does), so the event's
        // `store_bytes` counts the result; the extra handle is taken only
        // when someone listens.
        let for_callbacks = (!self.ctx.callbacks().is_empty()).then(|| value.clone());
        if self.unread[id as usize] > 0 {
            self.ctx.store().put(id, plan.key(id), value)?;
        }
        if let Some(value) = for_callbacks {
            let event = self.event(id, worker);
            for callback in self.ctx.callbacks() {
                callback.posttask(&event, &value);
            }
        }
        for &dependent in plan.dependents(id) {
            let waiting = &mut self.waiting[dependent as usize];
            *waiting -= 1;
            if *waiting == 0 {
                self.ready.push(Reverse(Self::rank(plan, dependent)));
            }
        }
        Ok(())
    }

    fn event(&mut self, id: u32, worker: usize) -> TaskEvent<'p> {
        let plan = self.plan;
        TaskEvent {
            id,
            key: plan.key(id),
            function: plan.task(id).function_name(),
            worker,
            store_bytes: self.ctx.store().nbytes(),
        }
    }

    /// With `local.rerun-failed-on-caller`, runs the failed task again on
    /// this thread, for a debugger to catch it (its result is the same
    /// failure, already reported).
    fn rerun_failed(&mut self) {
        if let Some((id, inputs)) = self.failed.take() {
            let job = Job {
                id,
                task: self.plan.task(id),
                inputs,
            };
            drop(job.run());
        }
    }

    /// The error of a failed task, with its key, function and dependents.
    fn task_error(&self, id: u32, error: Error) -> Error {
        task_error(self.plan, id, error)
    }
}

/// The error of failed task `id` of `plan`, with its key, function and
/// dependents.
pub(crate) fn task_error(plan: &Plan<'_>, id: u32, error: Error) -> Error {
    let mut dependents: Vec<Key> = plan
        .dependents(id)
        .iter()
        .map(|&d| plan.key(d).clone())
        .collect();
    dependents.dedup();
    let error = error.with_key(plan.key(id).clone());
    let error = match plan.task(id).function_name() {
        Some(name) => error.with_function(name),
        None => error,
    };
    error.with_dependents(dependents)
}
