//! Lowering a graph into the dense execution plan every executor shares.
//!
//! A graph is keyed by [`Key`]s; executors want integers. Lowering walks the
//! tasks needed for the requested outputs once, gives each an id, records
//! its dependencies and dependents as [`Csr`] lists, checks for missing
//! dependencies and cycles, and computes the static priorities of
//! [`order`](crate::order::order). Everything after runs on ids.

mod csr;
mod lowering;

pub use csr::Csr;

use lowering::Lowered;

use crate::error::{Error, ErrorKind, Result};
use crate::graph::Graph;

use crate::key::Key;
use crate::suggest::did_you_mean;
use crate::task::Task;

/// The dense form of a graph, ready to run.
///
/// ```
/// use barrow_core::arg::key;
/// use barrow_core::{Func, Graph, Key, Task};
///
/// let inc = Func::new("inc", |x: &i64| x + 1);
/// let graph = Graph::from_tasks([
///     ("x", Task::literal(1i64)),
///     ("y", Task::call(&inc, [key("x")])),
///     ("unused", Task::literal(0i64)),
/// ])?;
/// let plan = graph.lower(&[Key::new("y")])?;
/// assert_eq!(plan.len(), 2); // "unused" is culled
/// let y = plan.outputs()[0];
/// let x = plan.dependencies(y)[0];
/// assert_eq!(plan.key(x), &Key::new("x"));
/// assert!(plan.priority(x) < plan.priority(y));
/// # Ok::<(), barrow_core::Error>(())
/// ```
#[derive(Debug)]
pub struct Plan<'g> {
    keys: Vec<&'g Key>,
    tasks: Vec<&'g Task>,
    dependencies: Csr,
    dependents: Csr,
    priorities: Vec<u32>,
    outputs: Vec<u32>,
}

impl<'g> Plan<'g> {
    /// Lowers the tasks needed for `outputs`, or every task for `None`.
    pub fn lower(graph: &'g Graph, outputs: Option<&[Key]>) -> Result<Plan<'g>> {
        let Lowered {
            keys,
            tasks,
            dependencies,
            outputs,
            ..
        } = Lowered::new(graph, outputs)?;
        let dependents = dependencies.transpose();
        // `order` returns some permutation even on a cycle; a cheap check
        // that it is topological replaces a separate cycle search, which then
        // only runs to name the cycle.
        let priorities = crate::order::order(&dependencies, &dependents, &keys);
        if !is_topological(&dependencies, &priorities) {
            check_acyclic(&keys, &dependencies)?;
            return Err(Error::internal("order returned a non-topological order"));
        }
        Ok(Plan {
            keys,
            tasks,
            dependencies,
            dependents,
            priorities,
            outputs,
        })
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no task.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key of task `id`.
    pub fn key(&self, id: u32) -> &Key {
        self.keys[id as usize]
    }

    /// All keys, by id.
    pub fn keys(&self) -> &[&'g Key] {
        &self.keys
    }

    /// The task `id`.
    pub fn task(&self, id: u32) -> &'g Task {
        self.tasks[id as usize]
    }

    /// The ids task `id` reads, in argument order (repeated when read twice).
    pub fn dependencies(&self, id: u32) -> &[u32] {
        self.dependencies.row(id)
    }

    /// The ids that read task `id` (once per read).
    pub fn dependents(&self, id: u32) -> &[u32] {
        self.dependents.row(id)
    }

    /// All dependency lists.
    pub fn dependency_lists(&self) -> &Csr {
        &self.dependencies
    }

    /// All dependent lists.
    pub fn dependent_lists(&self) -> &Csr {
        &self.dependents
    }

    /// The static priority of task `id`: among ready tasks, the smallest runs
    /// first.
    pub fn priority(&self, id: u32) -> u32 {
        self.priorities[id as usize]
    }

    /// All priorities, by id.
    pub fn priorities(&self) -> &[u32] {
        &self.priorities
    }

    /// The ids of the requested keys, in request order.
    pub fn outputs(&self) -> &[u32] {
        &self.outputs
    }

    /// Heap bytes held by the plan itself (not the graph).
    pub fn heap_bytes(&self) -> usize {
        self.keys.capacity() * size_of::<&Key>()
            + self.tasks.capacity() * size_of::<&Task>()
            + self.dependencies.heap_bytes()
            + self.dependents.heap_bytes()
            + self.priorities.capacity() * size_of::<u32>()
            + self.outputs.capacity() * size_of::<u32>()
    }
}

/// A graph's tasks checked and lowered to integer ids, without the
/// priorities of a [`Plan`]: the dependencies an optimization needs (Dask's
/// `dependencies` from `cull`), computed once. Making one checks the graph:
/// every requested key and every dependency exists, and there is no cycle
/// (reported with the keys as written, before any optimization rewrote
/// them).
///
/// ```
/// use barrow_core::arg::key;
/// use barrow_core::plan::Dependencies;
/// use barrow_core::{ErrorKind, Func, Graph, Key, Task};
///
/// let inc = Func::new("inc", |x: &i64| x + 1);
/// let graph = Graph::from_tasks([
///     ("x", Task::literal(1i64)),
///     ("y", Task::call(&inc, [key("x")])),
///     ("unused", Task::literal(0i64)),
/// ])?;
/// let deps = Dependencies::of(&graph, Some(&[Key::new("y")]))?;
/// assert_eq!(deps.len(), 2); // culled to what "y" needs
/// let y = deps.id_of(&Key::new("y")).unwrap();
/// assert_eq!(deps.key(deps.dependencies(y)[0]), &Key::new("x"));
///
/// let cyclic = Graph::from_tasks([
///     ("a", Task::call(&inc, [key("b")])),
///     ("b", Task::call(&inc, [key("a")])),
/// ])?;
/// let err = Dependencies::of(&cyclic, None).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Cycle);
/// assert_eq!(err.cycle().len(), 3); // a -> b -> a, or b -> a -> b
/// # Ok::<(), barrow_core::Error>(())
/// ```
#[derive(Debug)]
pub struct Dependencies<'g> {
    lowered: Lowered<'g>,
}

impl<'g> Dependencies<'g> {
    /// Checks and lowers the tasks needed for `outputs` (culling the rest),
    /// or every task for `None`.
    pub fn of(graph: &'g Graph, outputs: Option<&[Key]>) -> Result<Dependencies<'g>> {
        let lowered = Lowered::new(graph, outputs)?;
        check_acyclic(&lowered.keys, &lowered.dependencies)?;
        Ok(Dependencies { lowered })
    }

    /// The graph the tasks come from.
    pub fn graph(&self) -> &'g Graph {
        self.lowered.graph
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.lowered.keys.len()
    }

    /// Whether there is no task.
    pub fn is_empty(&self) -> bool {
        self.lowered.keys.is_empty()
    }

    /// The key of task `id`.
    pub fn key(&self, id: u32) -> &Key {
        self.lowered.keys[id as usize]
    }

    /// All keys, by id.
    pub fn keys(&self) -> &[&'g Key] {
        &self.lowered.keys
    }

    /// The task `id`.
    pub fn task(&self, id: u32) -> &'g Task {
        self.lowered.tasks[id as usize]
    }

    /// The id of `key`, if it is among the tasks.
    pub fn id_of(&self, key: &Key) -> Option<u32> {
        self.lowered.id_of(key)
    }

    /// The ids task `id` reads, in argument order (repeated when read twice).
    pub fn dependencies(&self, id: u32) -> &[u32] {
        self.lowered.dependencies.row(id)
    }

    /// All dependency lists.
    pub fn dependency_lists(&self) -> &Csr {
        &self.lowered.dependencies
    }

    /// The ids of the requested keys, in request order (empty when every
    /// task was lowered).
    pub fn outputs(&self) -> &[u32] {
        &self.lowered.outputs
    }
}

pub(crate) fn missing_key(graph: &Graph, key: &Key) -> Error {
    let message = if graph.is_empty() {
        format!("requested key {key} is not in the graph: the graph is empty")
    } else {
        let names: Vec<String> = graph.keys().map(Key::to_string).collect();
        let hint = did_you_mean(&key.to_string(), names.iter().map(String::as_str));
        format!(
            "requested key {key} is not in the graph of {} tasks{hint}",
            graph.len()
        )
    };
    Error::new(ErrorKind::MissingKey, message).with_key(key.clone())
}

/// Whether every task comes after all its dependencies.
fn is_topological(dependencies: &Csr, priorities: &[u32]) -> bool {
    priorities.len() == dependencies.len()
        && dependencies.rows().zip(priorities).all(|(deps, &p)| {
            deps.iter()
                .all(|&d| priorities.get(d as usize).is_some_and(|&dp| dp < p))
        })
}

/// A depth-first walk along dependencies with an explicit stack (no
/// recursion, no reverse lists); on failure, reports one cycle by its keys:
/// the walk's current path from the task met again.
fn check_acyclic(keys: &[&Key], dependencies: &Csr) -> Result<()> {
    const NEW: u8 = 0;
    const ON_PATH: u8 = 1;
    const DONE: u8 = 2;
    let n = keys.len();
    let mut state = vec![NEW; n];
    // (task, how many of its dependencies were looked at)
    let mut path: Vec<(u32, u32)> = Vec::new();
    for root in 0..n as u32 {
        if state[root as usize] != NEW {
            continue;
        }
        state[root as usize] = ON_PATH;
        path.push((root, 0));
        while let Some(top) = path.last_mut() {
            let (id, seen) = *top;
            let deps = dependencies.row(id);
            match deps.get(seen as usize) {
                None => {
                    state[id as usize] = DONE;
                    path.pop();
                }
                Some(&dep) => {
                    top.1 += 1;
                    match state[dep as usize] {
                        NEW => {
                            state[dep as usize] = ON_PATH;
                            path.push((dep, 0));
                        }
                        ON_PATH => return Err(cycle_error(keys, &path, dep)),
                        _ => {}
                    }
                }
            }
        }
    }
    Ok(())
}

/// The cycle closed by reaching `again` from the end of `path`, shown in
/// the direction results flow.
fn cycle_error(keys: &[&Key], path: &[(u32, u32)], again: u32) -> Error {
    let start = path.iter().position(|&(id, _)| id == again).unwrap_or(0);
    let mut cycle: Vec<Key> = path[start..]
        .iter()
        .rev()
        .map(|&(id, _)| (*keys[id as usize]).clone())
        .collect();
    if let Some(first) = cycle.first().cloned() {
        cycle.push(first);
    }
    let shown: Vec<String> = cycle.iter().map(Key::to_string).collect();
    Error::new(
        ErrorKind::Cycle,
        format!(
            "the graph has a cycle: {}; a task cannot depend on its own result",
            shown.join(" -> ")
        ),
    )
    .with_cycle(cycle)
}
