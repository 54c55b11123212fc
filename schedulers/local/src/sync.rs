//! The synchronous scheduler: every task on the caller's thread.

use std::collections::VecDeque;
use std::sync::Arc;

use barrow_core::{Graph, Key, Options, Result, RunContext, Scheduler, Value};

use crate::engine::{self, Executor, Finished, Job, Progress};

/// Runs tasks one at a time on the caller's thread, in priority order, with
/// the same engine as the parallel schedulers. A debugger stops inside task
/// functions and backtraces show the caller: the scheduler to switch to when
/// something goes wrong (registered as `sync`, `synchronous` and
/// `single-threaded`).
///
/// ```
/// use barrow_core::arg::key;
/// use barrow_core::{Func, Graph, Key, Options, Registry, RunContext, Scheduler, Task};
/// use barrow_local::SyncScheduler;
///
/// let inc = Func::new("inc", |x: &i64| x + 1);
/// let graph = Graph::from_tasks([
///     ("x", Task::literal(1i64)),
///     ("y", Task::call(&inc, [key("x")])),
/// ])?;
/// let options = Options::new();
/// let mut ctx = RunContext::new(Registry::global(), &options)?;
/// let values = SyncScheduler.get(&graph, &[Key::new("y")], &mut ctx)?;
/// assert_eq!(*values[0].downcast_ref::<i64>()?, 2);
/// # Ok::<(), barrow_core::Error>(())
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct SyncScheduler;

impl SyncScheduler {
    /// The names it is registered under.
    pub const NAMES: &'static [&'static str] = &["sync", "synchronous", "single-threaded"];

    /// Makes one for the registry.
    pub fn make(_options: &Options) -> Result<Arc<dyn Scheduler>> {
        Ok(Arc::new(SyncScheduler))
    }
}

impl Scheduler for SyncScheduler {
    fn get(&self, graph: &Graph, keys: &[Key], ctx: &mut RunContext<'_>) -> Result<Vec<Value>> {
        engine::run("sync", graph, keys, ctx, &mut SyncExecutor::default())
    }

    fn name(&self) -> &str {
        "sync"
    }
}

/// Runs each job as it is submitted.
#[derive(Default)]
struct SyncExecutor {
    finished: VecDeque<Finished>,
}

impl<'g> Executor<'g> for SyncExecutor {
    fn workers(&self) -> usize {
        1
    }

    fn submit(&mut self, jobs: Vec<Job<'g>>) {
        for job in jobs {
            let id = job.id;
            let result = job.run();
            self.finished.push_back(Finished {
                id,
                worker: 0,
                result,
            });
        }
    }

    fn try_next_progress(&mut self) -> Option<Progress> {
        self.finished.pop_front().map(Progress::Finished)
    }

    fn next_progress(&mut self) -> Result<Progress> {
        self.finished
            .pop_front()
            .map(Progress::Finished)
            .ok_or_else(|| {
                barrow_core::Error::internal("waited for a job that was never submitted")
            })
    }
}
