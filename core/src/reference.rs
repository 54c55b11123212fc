//! The reference scheduler: the simplest correct way to run a graph.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::execute::run_task;
use crate::graph::Graph;
use crate::key::Key;
use crate::scheduler::{RunContext, Scheduler};
use crate::value::Value;

/// Runs tasks one at a time on the caller's thread in priority order and
/// keeps every result until the end. No callbacks, no early freeing: it is
/// the yardstick the real schedulers are tested against (Dask's
/// `dask.core.get`), and lets `barrow-core`'s own examples run without a
/// scheduler crate. Use the `sync` scheduler of `barrow-local` for debugging.
///
/// ```
/// use barrow_core::arg::key;
/// use barrow_core::reference;
/// use barrow_core::{Func, Graph, Key, Task};
///
/// let inc = Func::new("inc", |x: &i64| x + 1);
/// let graph = Graph::from_tasks([
///     ("x", Task::literal(1i64)),
///     ("y", Task::call(&inc, [key("x")])),
/// ])?;
/// let values = reference::get(&graph, &[Key::new("y")])?;
/// assert_eq!(*values[0].downcast_ref::<i64>()?, 2);
/// # Ok::<(), barrow_core::Error>(())
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct ReferenceScheduler;

impl ReferenceScheduler {
    /// A shared handle, for [`Options::scheduler_object`](crate::Options::scheduler_object).
    pub fn shared() -> Arc<dyn Scheduler> {
        Arc::new(ReferenceScheduler)
    }
}

impl Scheduler for ReferenceScheduler {
    fn get(&self, graph: &Graph, keys: &[Key], _ctx: &mut RunContext<'_>) -> Result<Vec<Value>> {
        get(graph, keys)
    }

    fn name(&self) -> &str {
        "reference"
    }
}

/// Runs `graph` for `keys` with the reference scheduler.
pub fn get(graph: &Graph, keys: &[Key]) -> Result<Vec<Value>> {
    let plan = graph.lower(keys)?;
    let mut by_priority: Vec<u32> = (0..plan.len() as u32).collect();
    by_priority.sort_by_key(|&id| plan.priority(id));
    let mut results: Vec<Option<Value>> = vec![None; plan.len()];
    for id in by_priority {
        let mut deps = plan.dependencies(id).iter();
        let value = run_task(plan.task(id), &mut |_key| {
            deps.next()
                .and_then(|&d| results[d as usize].clone())
                .ok_or_else(|| Error::internal("a dependency ran after its dependent"))
        })
        .map_err(|e| e.with_key(plan.key(id).clone()))?;
        results[id as usize] = Some(value);
    }
    plan.outputs()
        .iter()
        .map(|&id| {
            results[id as usize]
                .clone()
                .ok_or_else(|| Error::internal("an output was not computed"))
        })
        .collect()
}
