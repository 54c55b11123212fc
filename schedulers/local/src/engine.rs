//! The one local engine (Dask's `get_async`): bookkeeping on the dense plan,
//! with the running of tasks left to an [`Executor`].

use std::cmp::Reverse;
use std::collections::BinaryHeap;

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

/// Runs jobs: on the caller's thread, a thread pool, or worker processes.
pub trait Executor<'g> {
    /// How many jobs run at once.
    fn workers(&self) -> usize;

    /// How many jobs may be submitted and not yet finished (at least
    /// [`Executor::workers`]; more keeps a pool busy between wake-ups).
    fn capacity(&self) -> usize {
        self.workers()
    }

    /// Starts `job` (a synchronous executor runs it right away).
    fn submit(&mut self, job: Job<'g>, worker_hint: usize);

    /// Waits for a submitted job to finish.
    fn next_finished(&mut self) -> Result<Finished>;
}

/// Runs `graph` for `keys` on `executor`, in `order`'s priority, freeing each
/// result as soon as no remaining task needs it.
pub fn run<'g>(
    scheduler_name: &str,
    graph: &'g Graph,
    keys: &[Key],
    ctx: &mut RunContext<'_>,
    executor: &mut dyn Executor<'g>,
) -> Result<Vec<Value>> {
    let plan = graph.lower(keys)?;
    let info = RunInfo {
        plan: &plan,
        scheduler: scheduler_name,
        workers: executor.workers(),
    };
    for callback in ctx.callbacks() {
        callback.start(&info);
    }
    let result = Engine::new(&plan, ctx).run(executor);
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
}

impl<'p, 'g, 'c, 'r> Engine<'p, 'g, 'c, 'r> {
    fn new(plan: &'p Plan<'g>, ctx: &'c mut RunContext<'r>) -> Self {
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
        }
    }

    fn rank(plan: &Plan<'_>, id: u32) -> u64 {
        (u64::from(plan.priority(id)) << 32) | u64::from(id)
    }

    fn run(mut self, executor: &mut dyn Executor<'g>) -> Result<Vec<Value>> {
        let total = self.plan.len();
        let capacity = executor.capacity().max(1);
        let mut finished = 0usize;
        let mut running = 0usize;
        let mut free_workers: Vec<usize> = (0..capacity).rev().collect();
        while finished < total {
            while running < capacity {
                let Some(Reverse(rank)) = self.ready.pop() else {
                    break;
                };
                let id = rank as u32;
                let worker = free_workers.pop().unwrap_or(0);
                let job = self.gather(id)?;
                if !self.ctx.callbacks().is_empty() {
                    let event = self.event(id, worker);
                    for callback in self.ctx.callbacks() {
                        callback.pretask(&event);
                    }
                }
                executor.submit(job, worker);
                running += 1;
            }
            if running == 0 {
                return Err(Error::internal(
                    "no task is ready or running, but some have not run",
                ));
            }
            let done = executor.next_finished()?;
            running -= 1;
            finished += 1;
            free_workers.push(done.worker);
            let value = done.result.map_err(|e| self.task_error(done.id, e))?;
            self.complete(done.id, done.worker, value)?;
        }
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
        if !self.ctx.callbacks().is_empty() {
            let event = self.event(id, worker);
            for callback in self.ctx.callbacks() {
                callback.posttask(&event, &value);
            }
        }
        if self.unread[id as usize] > 0 {
            self.ctx.store().put(id, plan.key(id), value)?;
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

    fn event(&self, id: u32, worker: usize) -> TaskEvent<'p> {
        let plan = self.plan;
        TaskEvent {
            id,
            key: plan.key(id),
            function: plan.task(id).function_name(),
            worker,
        }
    }

    /// The error of a failed task, with its key, function and dependents.
    fn task_error(&self, id: u32, error: Error) -> Error {
        let plan = self.plan;
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
}
