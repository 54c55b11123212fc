//! The threaded scheduler: the same engine, with tasks run on a rayon pool.

use std::collections::HashMap;
use std::fmt;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};

use barrow_core::{Error, ErrorKind, Graph, Key, Options, Result, RunContext, Scheduler, Value};

use crate::engine::{self, Executor, Finished, Job};

/// Runs tasks on a pool of threads, taking ready tasks in `order`'s priority
/// so memory stays low, and freeing results as early as the synchronous
/// scheduler does. Registered as `threads` and `threading`.
///
/// The pool is `num-workers` threads (the call's option, else the
/// configuration, else one per core), shared by every computation that asks
/// for that many; or a `rayon::ThreadPool` of your own (Dask's `pool=`).
///
/// ```
/// use std::sync::Arc;
/// use barrow_core::arg::key;
/// use barrow_core::collection::GraphKeys;
/// use barrow_core::{Func, Graph, Options, Task, compute_with};
/// use barrow_local::ThreadsScheduler;
///
/// let inc = Func::new("inc", |x: &i64| x + 1);
/// let graph = Graph::from_tasks([
///     ("x", Task::literal(1i64)),
///     ("y", Task::call(&inc, [key("x")])),
/// ])?;
/// let pool = Arc::new(rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap());
/// let options = Options::new().scheduler_object(Arc::new(ThreadsScheduler::with_pool(pool)));
/// let y = compute_with(GraphKeys::new(graph, ["y"]), &options)?;
/// assert_eq!(*y[0].downcast_ref::<i64>()?, 2);
/// # Ok::<(), barrow_core::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct ThreadsScheduler {
    pool: Option<Arc<rayon::ThreadPool>>,
}

impl fmt::Debug for ThreadsScheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadsScheduler")
            .field("own_pool", &self.pool.is_some())
            .finish()
    }
}

impl ThreadsScheduler {
    /// The names it is registered under.
    pub const NAMES: &'static [&'static str] = &["threads", "threading"];

    /// A scheduler using shared pools of `num-workers` threads.
    pub fn new() -> ThreadsScheduler {
        ThreadsScheduler::default()
    }

    /// A scheduler running every task on `pool`.
    pub fn with_pool(pool: Arc<rayon::ThreadPool>) -> ThreadsScheduler {
        ThreadsScheduler { pool: Some(pool) }
    }

    /// Makes one for the registry.
    pub fn make(_options: &Options) -> Result<Arc<dyn Scheduler>> {
        Ok(Arc::new(ThreadsScheduler::new()))
    }

    fn pool(&self, ctx: &RunContext<'_>) -> Result<Arc<rayon::ThreadPool>> {
        if let Some(pool) = &self.pool {
            return Ok(pool.clone());
        }
        let workers = ctx.num_workers()?;
        if workers == 0 {
            return Err(Error::new(
                ErrorKind::Config,
                "num-workers is 0: the threads scheduler needs at least one worker",
            ));
        }
        shared_pool(workers)
    }
}

/// One pool per worker count, made on first use and kept for the process.
fn shared_pool(workers: usize) -> Result<Arc<rayon::ThreadPool>> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(pool) = pools.get(&workers) {
        return Ok(pool.clone());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .thread_name(|i| format!("barrow-worker-{i}"))
        .build()
        .map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("cannot start a pool of {workers} threads: {e}"),
            )
        })?;
    let pool = Arc::new(pool);
    pools.insert(workers, pool.clone());
    Ok(pool)
}

impl Scheduler for ThreadsScheduler {
    fn get(&self, graph: &Graph, keys: &[Key], ctx: &mut RunContext<'_>) -> Result<Vec<Value>> {
        let pool = self.pool(ctx)?;
        let workers = pool.current_num_threads();
        pool.in_place_scope(|scope| {
            let (sender, receiver) = channel();
            let mut executor = ThreadsExecutor {
                scope,
                workers,
                sender,
                receiver,
            };
            engine::run("threads", graph, keys, ctx, &mut executor)
        })
    }

    fn name(&self) -> &str {
        "threads"
    }
}

/// Spawns each job on the pool; results come back over a channel to the
/// thread that runs the engine, the only one touching the store.
struct ThreadsExecutor<'scope, 'env> {
    scope: &'scope rayon::Scope<'env>,
    workers: usize,
    sender: Sender<Finished>,
    receiver: Receiver<Finished>,
}

impl<'scope, 'env: 'scope> Executor<'env> for ThreadsExecutor<'scope, 'env> {
    fn workers(&self) -> usize {
        self.workers
    }

    fn capacity(&self) -> usize {
        // Enough queued per worker to keep threads busy while the engine
        // thread wakes up; few enough that `order` still decides.
        self.workers * 8
    }

    fn submit(&mut self, jobs: Vec<Job<'env>>) {
        let sender = self.sender.clone();
        self.scope.spawn(move |_| {
            let worker = rayon::current_thread_index().unwrap_or(0);
            for job in jobs {
                let id = job.id;
                let result = job.run();
                // The engine stops listening only after a failure; a result
                // arriving after that is dropped with the run.
                if sender.send(Finished { id, worker, result }).is_err() {
                    return;
                }
            }
        });
    }

    fn next_finished(&mut self) -> Result<Finished> {
        self.receiver
            .recv()
            .map_err(|_| Error::internal("the threads executor lost its result channel"))
    }

    fn try_next_finished(&mut self) -> Option<Finished> {
        self.receiver.try_recv().ok()
    }
}
