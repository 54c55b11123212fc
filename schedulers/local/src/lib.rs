//! Barrow's local schedulers: one engine that every local scheduler shares
//! (Dask's `get_async`), over the dense plan of `barrow-core`, with the
//! executor as the only part that differs.
//!
//! Linking this crate registers its schedulers by name, so
//! `Options::new().scheduler("sync")` finds them:
//!
//! ```
//! use barrow_core::arg::key;
//! use barrow_core::collection::GraphKeys;
//! use barrow_core::{Func, Graph, Options, Task, compute_with};
//!
//! let add = Func::new("add", |a: &i64, b: &i64| a + b);
//! let graph = Graph::from_tasks([
//!     ("a", Task::literal(1i64)),
//!     ("b", Task::literal(2i64)),
//!     ("c", Task::call(&add, [key("a"), key("b")])),
//! ])?;
//! barrow_local::link();
//! let values = compute_with(GraphKeys::new(graph, ["c"]), &Options::new().scheduler("sync"))?;
//! assert_eq!(*values[0].downcast_ref::<i64>()?, 3);
//! # Ok::<(), barrow_core::Error>(())
//! ```
//!
//! See `README.md` beside this crate for how the engine works and why.
#![deny(missing_docs, missing_debug_implementations)]

pub mod engine;
pub mod spill;
mod sync;
mod threads;

pub use spill::{SpillStats, SpillStore};
pub use sync::SyncScheduler;
pub use threads::{
    MAX_THREADS_PER_CORE, MIN_THREAD_CAP, ThreadBudget, ThreadsScheduler, WARN_THREADS_PER_CORE,
};

use barrow_core::scheduler::StaticScheduler;
use barrow_core::{Graph, Key, Options, Registry, Result, RunContext, Scheduler, Value};

inventory::submit! {
    StaticScheduler { names: SyncScheduler::NAMES, make: SyncScheduler::make }
}

inventory::submit! {
    StaticScheduler { names: ThreadsScheduler::NAMES, make: ThreadsScheduler::make }
}

/// Makes sure this crate is linked into the program, so its schedulers are
/// registered. Rust drops crates a program never names; a program that only
/// picks schedulers by name (from config) calls this once (the `barrow`
/// facade does it for you).
pub fn link() {}

/// Runs `graph` for `keys` on the synchronous scheduler, with the
/// process-wide registry and default options (Dask's `dask.get`).
///
/// ```
/// use barrow_core::arg::key;
/// use barrow_core::{Func, Graph, Key, Task};
///
/// let inc = Func::new("inc", |x: &i64| x + 1);
/// let graph = Graph::from_tasks([
///     ("x", Task::literal(1i64)),
///     ("y", Task::call(&inc, [key("x")])),
/// ])?;
/// let y = barrow_local::get(&graph, &[Key::new("y")])?;
/// assert_eq!(*y[0].downcast_ref::<i64>()?, 2);
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub fn get(graph: &Graph, keys: &[Key]) -> Result<Vec<Value>> {
    let options = Options::new();
    let mut ctx = RunContext::new(Registry::global(), &options)?;
    SyncScheduler.get(graph, keys, &mut ctx)
}
