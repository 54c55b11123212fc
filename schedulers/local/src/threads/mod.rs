//! The threaded scheduler: the engine's bookkeeping spread over a pool of
//! threads, with per-worker deques and stealing (see `steal.rs`).

mod results;
mod steal;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use barrow_core::{Error, ErrorKind, Graph, Key, Options, Result, RunContext, Scheduler, Value};

use crate::engine;

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
        let budget = ThreadBudget::for_workers(workers, cores());
        if let Some(warning) = &budget.warning {
            warn_once(workers, warning);
        }
        shared_pool(budget.threads)
    }
}

/// Threads per core past which `num-workers` draws a warning: more only
/// help tasks that wait (on files, the network), not computing ones.
pub const WARN_THREADS_PER_CORE: usize = 8;

/// The most threads a shared pool starts, per core (and at least
/// [`MIN_THREAD_CAP`]): past a few hundred, a pool's threads spend their
/// time looking for each other's work (5,000 threads took minutes to run a
/// bag of 4 partitions on 2 cores).
pub const MAX_THREADS_PER_CORE: usize = 32;

/// The cap on a shared pool's threads is never below this.
pub const MIN_THREAD_CAP: usize = 256;

/// The number of cores, as the standard library sees them.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The threads a shared pool starts for `num-workers`, and the warning the
/// request draws, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadBudget {
    /// The threads started.
    pub threads: usize,
    /// Why the request is unusual (and what was done), for the user.
    pub warning: Option<String>,
}

impl ThreadBudget {
    /// The budget for `workers` requested on a machine of `cores` cores:
    /// at most `max(MAX_THREADS_PER_CORE × cores, MIN_THREAD_CAP)` threads,
    /// with a warning past `WARN_THREADS_PER_CORE × cores`.
    ///
    /// ```
    /// use barrow_local::ThreadBudget;
    ///
    /// assert_eq!(ThreadBudget::for_workers(8, 2), ThreadBudget { threads: 8, warning: None });
    /// let many = ThreadBudget::for_workers(5000, 2);
    /// assert_eq!(many.threads, 256);
    /// assert!(many.warning.unwrap().contains("num-workers = 5000"));
    /// ```
    pub fn for_workers(workers: usize, cores: usize) -> ThreadBudget {
        let cores = cores.max(1);
        let cap = MAX_THREADS_PER_CORE
            .saturating_mul(cores)
            .max(MIN_THREAD_CAP);
        let threads = workers.clamp(1, cap);
        let warning = (workers > WARN_THREADS_PER_CORE.saturating_mul(cores)).then(|| {
            let capped = if threads < workers {
                format!(
                    "; the threads scheduler starts {threads} of them (its cap on {cores} cores)"
                )
            } else {
                String::new()
            };
            format!(
                "num-workers = {workers} on the threads scheduler is more than \
                 {WARN_THREADS_PER_CORE} threads per core ({cores} cores): threads beyond the \
                 cores only help tasks that wait on I/O{capped}; for computing tasks leave \
                 num-workers unset (one per core)"
            )
        });
        ThreadBudget { threads, warning }
    }
}

/// Tells the user once per process and worker count: through `tracing`
/// when the program installed a subscriber, else on stderr (a program
/// without one would otherwise never hear of it).
fn warn_once(workers: usize, warning: &str) {
    static WARNED: OnceLock<Mutex<Vec<usize>>> = OnceLock::new();
    let mut warned = WARNED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if warned.contains(&workers) {
        return;
    }
    warned.push(workers);
    if tracing::dispatcher::has_been_set() {
        tracing::warn!(workers, "{warning}");
    } else {
        eprintln!("barrow: warning: {warning}");
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
        engine::run_lowered("threads", graph, keys, ctx, workers, |plan, ctx, rerun| {
            steal::run(plan, ctx, rerun, &pool)
        })
    }

    fn name(&self) -> &str {
        "threads"
    }
}
