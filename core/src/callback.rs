//! Callbacks: start, pretask, posttask and finish, as in Dask's local
//! diagnostics. Progress bars and profilers are built on them.

use crate::error::Error;
use crate::key::Key;
use crate::plan::Plan;
use crate::value::Value;

/// Hooks a scheduler calls while it runs a graph. Every method has an empty
/// default; implement the ones you need. Methods take `&self` because the
/// threaded schedulers call them from several threads.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use barrow_core::callback::{Callback, TaskEvent};
/// use barrow_core::Value;
///
/// /// Counts finished tasks.
/// #[derive(Default)]
/// struct Count(AtomicUsize);
///
/// impl Callback for Count {
///     fn posttask(&self, _task: &TaskEvent<'_>, _value: &Value) {
///         self.0.fetch_add(1, Ordering::Relaxed);
///     }
/// }
/// # let _ = Count::default();
/// ```
pub trait Callback: Send + Sync {
    /// Before the first task runs.
    fn start(&self, _run: &RunInfo<'_>) {}

    /// Before a task runs.
    fn pretask(&self, _task: &TaskEvent<'_>) {}

    /// After a task succeeded, with its result (already in the store when a
    /// later task needs it, as in Dask).
    fn posttask(&self, _task: &TaskEvent<'_>, _value: &Value) {}

    /// After the run ended, successfully or not (`error`).
    fn finish(&self, _run: &RunInfo<'_>, _error: Option<&Error>) {}
}

/// What a computation is about to run (or ran).
#[derive(Debug, Clone, Copy)]
pub struct RunInfo<'a> {
    /// The lowered graph.
    pub plan: &'a Plan<'a>,
    /// The name of the scheduler running it.
    pub scheduler: &'a str,
    /// How many workers run tasks (1 for the synchronous scheduler).
    pub workers: usize,
}

/// One task, as callbacks see it.
#[derive(Debug, Clone, Copy)]
pub struct TaskEvent<'a> {
    /// The task's id in the plan.
    pub id: u32,
    /// The task's key.
    pub key: &'a Key,
    /// The function it calls, if it is a call.
    pub function: Option<&'a str>,
    /// Which worker runs it: 0 for the synchronous scheduler and for tasks
    /// the engine runs itself (literals, aliases); a pool's worker id
    /// otherwise, in `pretask` as in `posttask`.
    pub worker: usize,
    /// Bytes the store holds when the event is raised (the `nbytes` of
    /// every result kept for later tasks; the task's own result included in
    /// `posttask`). The store changes only between events, so a sampler
    /// that keeps the last value seen knows the managed memory at any time
    /// (`barrow-diagnostics` subtracts it from RSS: unmanaged memory).
    pub store_bytes: usize,
}
