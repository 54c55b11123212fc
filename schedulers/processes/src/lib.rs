//! Barrow's `processes` scheduler: the local engine (the same `order`, the
//! same freeing of results), with tasks run by a pool of worker processes.
//!
//! Rust cannot ship closures, so tasks cross as **names + serialized
//! parameters** (`barrow-wire`): every function in a graph bound for
//! processes must be registered (`#[barrow::task]`, a static factory, or a
//! run-time registration in the set-up function of the worker hook), and
//! every literal must have a codec. A graph that cannot cross is refused
//! before anything runs, naming each bad task and the line that fixes it.
//!
//! Workers are this program started again in worker mode: put
//! [`worker_main`] first in `main` (or [`worker_entry!`] in a test file).
//!
//! ```
//! use barrow_core::arg::key;
//! use barrow_core::collection::GraphKeys;
//! use barrow_core::{Graph, Options, Task, compute_with};
//!
//! #[barrow_core::task]
//! fn inc(x: &i64) -> i64 {
//!     x + 1
//! }
//!
//! fn main() -> barrow_core::Result<()> {
//!     barrow_processes::worker_main();
//!     let graph = Graph::from_tasks([
//!         ("x", Task::literal(1i64)),
//!         ("y", Task::call(&inc::func(), [key("x")])),
//!     ])?;
//!     let options = Options::new().scheduler("processes").num_workers(2);
//!     let y = compute_with(GraphKeys::new(graph, ["y"]), &options)?;
//!     assert_eq!(*y[0].downcast_ref::<i64>()?, 2);
//!     Ok(())
//! }
//! ```
//!
//! # How it works
//!
//! - **Start**: the pool starts lazily on the first computation, listens on
//!   a Unix socket in a private temporary directory, and re-executes the
//!   program with the socket's path and a secret token in its environment
//!   (`processes.context = spawn`, the default). With `fork`, set in the
//!   environment or a config file so the hook sees it as `main` starts, the
//!   hook forks a single-threaded fork server before any thread exists, and
//!   the pool asks it for workers: they start as copies of the program's
//!   state at the hook.
//!   Each worker connects, says which build it is (a hash of its executable,
//!   of its registered functions and codecs) and is refused with both
//!   identities named when it differs.
//! - **Running**: the engine hands ready tasks over in `order`'s priority;
//!   the executor sends them to the least busy worker in batches of
//!   `chunksize`, with the values they read, and keeps two batches per
//!   worker in flight so a worker never waits for the next one.
//! - **Selectors run here**: a task whose function only picks a part of
//!   its input ([`Function::is_selector`](barrow_core::function::Function::is_selector),
//!   a piece of a shuffle's split) runs in this process, where its input
//!   is, as literals and aliases do: sent out, it would carry its whole
//!   input (every piece) to a worker.
//! - **Large values** (1 MiB and more, `processes.shared-memory-above`)
//!   travel through shared memory rather than the socket, both ways: the
//!   sender copies a vector or an array block straight from its own buffer
//!   into a sealed memory file whose descriptor goes with the message, and
//!   the receiver decodes it from there; the file is reused for the next
//!   large message, so its pages are already in place. A worker decodes
//!   vectors into the buffers of results it has sent back, when they fit.
//!   Set `processes.shared-memory: false` to send everything through the
//!   socket.
//! - **Results come back** to this process after every task, into the same
//!   store the local schedulers use: callbacks see every value, spilling and
//!   memory accounting work unchanged, and a worker that dies loses only
//!   what it was running. (Keeping results in the worker that will need
//!   them next saves a round trip; the cluster scheduler does it, where
//!   the data is far away.)
//! - **Failures**: a task's error or panic comes back as the same error as
//!   locally, its text and backtrace kept as a [`RemoteError`] source. A
//!   worker that dies fails its running tasks with an error naming the
//!   task, the worker and the exit code or signal; the pool starts a new
//!   worker for the next computation.
//! - **No oversubscription**: each worker's rayon, OpenMP and BLAS threads
//!   (and Barrow's own `num-workers`) are limited to its share of the cores
//!   (`processes.worker-threads`).
//! - **Output**: the workers' stdout and stderr are forwarded, each line
//!   prefixed with `[worker N]`.
//!
//! [`RemoteError`]: barrow_wire::task::RemoteError
#![deny(missing_docs, missing_debug_implementations)]

mod executor;
mod fork;
mod forward;
mod hook;
mod orphans;
mod pool;
mod proc;
mod settings;
mod starts;
mod worker;

use std::sync::Arc;

use barrow_core::scheduler::StaticScheduler;
use barrow_core::{Graph, Key, Options, Registry, Result, RunContext, Scheduler, Value};
use barrow_wire::Depth;

pub use hook::{worker_main, worker_main_with};
pub use pool::ProcessPool;
pub use worker::{WorkerInfo, worker_info};

use crate::executor::PoolExecutor;
use crate::settings::Settings;

/// Items the macros refer to; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::forward::{copy_lines, forward_output};
    pub use crate::hook::{TestEntry, enter_from_test, worker_command};
    pub use crate::orphans::spawn_tied;
    pub use crate::proc::describe_exit;
    pub use crate::worker::restart_marked;
    pub use inventory;
}

inventory::submit! {
    StaticScheduler { names: ProcessesScheduler::NAMES, make: ProcessesScheduler::make }
}

/// Makes sure this crate is linked, so `processes` is registered by name.
pub fn link() {}

/// Runs tasks on a pool of worker processes. Registered as `processes` and
/// `multiprocessing`.
///
/// The pool is `num-workers` processes (the call's option, else the
/// configuration, else one per core), shared by every computation asking
/// for that many with the same `processes.*` settings; or a
/// [`ProcessPool`] of your own.
#[derive(Debug, Clone, Default)]
pub struct ProcessesScheduler {
    pool: Option<Arc<ProcessPool>>,
}

impl ProcessesScheduler {
    /// The names it is registered under.
    pub const NAMES: &'static [&'static str] = &["processes", "multiprocessing"];

    /// A scheduler using shared pools.
    pub fn new() -> ProcessesScheduler {
        ProcessesScheduler::default()
    }

    /// A scheduler running every task on `pool`.
    pub fn with_pool(pool: Arc<ProcessPool>) -> ProcessesScheduler {
        ProcessesScheduler { pool: Some(pool) }
    }

    /// Makes one for the registry.
    pub fn make(_options: &Options) -> Result<Arc<dyn Scheduler>> {
        Ok(Arc::new(ProcessesScheduler::new()))
    }

    fn pool(&self, ctx: &RunContext<'_>) -> Result<Arc<ProcessPool>> {
        match &self.pool {
            Some(pool) => Ok(pool.clone()),
            None => {
                let settings = Settings::from_config(ctx.num_workers()?, ctx.config())?;
                Ok(pool::shared_pool(settings))
            }
        }
    }
}

impl Scheduler for ProcessesScheduler {
    fn get(&self, graph: &Graph, keys: &[Key], ctx: &mut RunContext<'_>) -> Result<Vec<Value>> {
        let pool = self.pool(ctx)?;
        let options = pool.settings().wire_options()?;
        // Workers resolve names in their process-wide registry: check
        // against this process's, which the handshake proved the same.
        barrow_wire::check_graph(graph, Registry::global(), &options, Depth::Codecs)?;
        let chunksize = ctx.config().get::<usize>("chunksize")?.unwrap_or(6);
        // `pretask` means a task started: workers say when, if anyone listens.
        let report_starts = !ctx.callbacks().is_empty();
        let mut executor = PoolExecutor::new(pool.acquire()?, options, chunksize, report_starts);
        barrow_local::engine::run("processes", graph, keys, ctx, &mut executor)
    }

    fn name(&self) -> &str {
        "processes"
    }
}
