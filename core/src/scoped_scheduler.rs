//! A scheduler object chosen for a block of code on one thread.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::scheduler::Scheduler;

thread_local! {
    static SCOPED: RefCell<Vec<(u64, Arc<dyn Scheduler>)>> = const { RefCell::new(Vec::new()) };
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Runs the computations started on this thread on `scheduler` until the
/// guard drops (Dask's `with dask.config.set(scheduler=...)` or `pool=`, for
/// an object rather than a name). It wins over every configuration layer;
/// only a scheduler passed in a call's own options wins over it. Guards
/// nest; other threads are not affected.
///
/// ```
/// use std::sync::Arc;
/// use barrow_core::collection::GraphKeys;
/// use barrow_core::reference::ReferenceScheduler;
/// use barrow_core::{Graph, Options, Task, compute_with, use_scheduler};
///
/// let graph = Graph::from_tasks([("x", Task::literal(1i64))])?;
/// let _guard = use_scheduler(ReferenceScheduler::shared());
/// let x = compute_with(GraphKeys::new(graph, ["x"]), &Options::new())?;
/// assert_eq!(*x[0].downcast_ref::<i64>()?, 1);
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub fn use_scheduler(scheduler: Arc<dyn Scheduler>) -> SchedulerGuard {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    SCOPED.with(|stack| stack.borrow_mut().push((id, scheduler)));
    SchedulerGuard {
        id,
        thread_bound: PhantomData,
    }
}

/// The innermost scheduler chosen with [`use_scheduler`] on this thread.
pub fn scoped_scheduler() -> Option<Arc<dyn Scheduler>> {
    SCOPED.with(|stack| stack.borrow().last().map(|(_, s)| s.clone()))
}

/// Restores the previous choice when dropped. Not `Send`: it belongs to the
/// thread that made it.
#[derive(Debug)]
#[must_use = "the scheduler is used only while the guard lives"]
pub struct SchedulerGuard {
    id: u64,
    thread_bound: PhantomData<*const ()>,
}

impl Drop for SchedulerGuard {
    fn drop(&mut self) {
        // Guards may drop out of order; remove exactly this one.
        SCOPED.with(|stack| stack.borrow_mut().retain(|(id, _)| *id != self.id));
    }
}
