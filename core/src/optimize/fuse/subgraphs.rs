//! Dask's `fuse_subgraphs`: after fusing, linear chains of tasks that
//! could not be fused into one expression (a task read twice by the next)
//! become one task that runs the chain as a small graph (Dask's
//! `SubgraphCallable`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::execute::run_task;
use crate::function::{Func, Function, Input};
use crate::key::Key;
use crate::plan::Dependencies;
use crate::task::{Arg, Task, TaskBody};
use crate::value::Value;

use super::width::Outcome;

/// The name of the function of a subgraph task (Dask's
/// `subgraph_callable-…`). Such a task runs in the process that holds the
/// graph: the `sync` and `threads` schedulers run it; schedulers that send
/// tasks to other processes refuse it, naming `optimization.fuse.subgraphs`.
pub const SUBGRAPH_FUNCTION: &str = "barrow.subgraph";

/// A chain of tasks run as one: the function of a task that
/// [`fuse`](super::fuse) made with [`FuseOptions::subgraphs`](super::FuseOptions::subgraphs).
/// Its arguments are the values of [`Subgraph::inputs`]; it runs its tasks
/// in order and returns the value of [`Subgraph::output`].
///
/// ```
/// use barrow_core::arg::key;
/// use barrow_core::optimize::{FuseOptions, Subgraph, fuse};
/// use barrow_core::{Func, Graph, Key, Task, reference};
///
/// let add = Func::new("add", |a: &i64, b: &i64| a + b);
/// // Each step reads the one before twice: no expression fuses them.
/// let graph = Graph::from_tasks([
///     ("x", Task::literal(1i64)),
///     ("a", Task::call(&add, [key("x"), key("x")])),
///     ("b", Task::call(&add, [key("a"), key("a")])),
///     ("c", Task::call(&add, [key("b"), key("b")])),
/// ])?;
/// let fused = fuse(&graph, &[Key::new("c")], &FuseOptions::new().subgraphs(true))?;
/// assert_eq!(fused.len(), 1);
/// let task = fused.get(&Key::new("c")).unwrap();
/// let subgraph = Subgraph::of(task).unwrap();
/// assert_eq!(subgraph.tasks().len(), 4);
/// assert_eq!(subgraph.output(), &Key::new("c"));
/// let c = reference::get(&fused, &[Key::new("c")])?;
/// assert_eq!(*c[0].downcast_ref::<i64>()?, 8);
/// # Ok::<(), barrow_core::Error>(())
/// ```
#[derive(Debug)]
pub struct Subgraph {
    /// The tasks, each after those it reads.
    tasks: Arc<[(Key, Task)]>,
    inputs: Vec<Key>,
    output: Key,
    /// Tells subgraphs apart ([`Func::same_as`] compares parameters).
    id: [u8; 8],
}

impl Subgraph {
    /// The subgraph a task runs, if it is a subgraph task.
    pub fn of(task: &Task) -> Option<&Subgraph> {
        match task.body() {
            TaskBody::Call(call) => call.function().downcast_ref::<Subgraph>(),
            _ => None,
        }
    }

    /// Its tasks, each after those it reads.
    pub fn tasks(&self) -> &[(Key, Task)] {
        &self.tasks
    }

    /// The keys whose values it takes as arguments, in order.
    pub fn inputs(&self) -> &[Key] {
        &self.inputs
    }

    /// The key whose value it returns.
    pub fn output(&self) -> &Key {
        &self.output
    }

    fn value_of(&self, key: &Key, inputs: &[Input], done: &[(Key, Value)]) -> Result<Value> {
        if let Some((_, value)) = done.iter().rev().find(|(k, _)| k == key) {
            return Ok(value.clone());
        }
        match self.inputs.iter().position(|k| k == key) {
            Some(i) => Ok(inputs
                .get(i)
                .ok_or_else(|| Error::internal("a subgraph got fewer arguments than inputs"))?
                .as_value()?
                .clone()),
            None => Err(Error::internal(format!(
                "a subgraph task reads {key}, which is neither among its tasks nor its inputs"
            ))),
        }
    }
}

impl Function for Subgraph {
    fn name(&self) -> &str {
        SUBGRAPH_FUNCTION
    }

    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let mut done: Vec<(Key, Value)> = Vec::with_capacity(self.tasks.len());
        for (key, task) in self.tasks.iter() {
            let value = run_task(task, &mut |k| self.value_of(k, inputs, &done))
                .map_err(|e| e.with_key(key.clone()))?;
            done.push((key.clone(), value));
        }
        done.pop()
            .map(|(_, value)| value)
            .ok_or_else(|| Error::internal("an empty subgraph ran"))
    }

    fn params(&self) -> Option<&[u8]> {
        Some(&self.id)
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// Replaces each linear chain of at least two calls among the tasks left
/// by fusion with one subgraph task (Dask's `_inplace_fuse_subgraphs`).
pub(super) fn fuse_subgraphs(
    dependencies: &Dependencies<'_>,
    protected: &[bool],
    outcome: &mut Outcome,
) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = dependencies.len();
    let task_of = |outcome: &Outcome, id: u32| -> Task {
        outcome
            .replaced
            .get(&id)
            .cloned()
            .unwrap_or_else(|| dependencies.task(id).clone())
    };
    // Distinct readers of each task left.
    let mut readers: Vec<Vec<u32>> = vec![Vec::new(); n];
    for parent in (0..n as u32).filter(|&id| !outcome.removed[id as usize]) {
        for &child in &outcome.dependencies[parent as usize] {
            readers[child as usize].push(parent);
        }
    }
    // A task joins its reader's chain when it is its only reader's only
    // dependency, is not requested, and has the same annotations.
    let mut below: Vec<Option<u32>> = vec![None; n];
    let mut in_chain = vec![false; n];
    for child in 0..n {
        if outcome.removed[child] || protected[child] {
            continue;
        }
        let [parent] = readers[child][..] else {
            continue;
        };
        if outcome.dependencies[parent as usize].len() == 1
            && dependencies.task(child as u32).annotations()
                == dependencies.task(parent).annotations()
        {
            below[parent as usize] = Some(child as u32);
            in_chain[child] = true;
        }
    }
    for top in 0..n as u32 {
        if in_chain[top as usize] || below[top as usize].is_none() {
            continue;
        }
        // Top down, as Dask lists a chain.
        let mut chain = vec![top];
        while let Some(next) = below[*chain.last().unwrap_or(&top) as usize] {
            chain.push(next);
        }
        let tasks: Vec<Task> = chain.iter().map(|&id| task_of(outcome, id)).collect();
        let calls = tasks
            .iter()
            .filter(|t| matches!(t.body(), TaskBody::Call(_)))
            .count();
        if calls < 2 {
            continue;
        }
        let Some(&bottom) = chain.last() else {
            continue;
        };
        let inputs = outcome.dependencies[bottom as usize].clone();
        let input_keys: Vec<Key> = inputs
            .iter()
            .map(|&id| dependencies.key(id).clone())
            .collect();
        let members: Vec<(Key, Task)> = chain
            .iter()
            .zip(tasks)
            .rev()
            .map(|(&id, task)| (dependencies.key(id).clone(), task))
            .collect();
        let subgraph = Subgraph {
            tasks: members.into(),
            inputs: input_keys.clone(),
            output: dependencies.key(top).clone(),
            id: NEXT.fetch_add(1, Ordering::Relaxed).to_le_bytes(),
        };
        let func = Func::from_function(subgraph);
        let mut task = Task::call(&func, input_keys.into_iter().map(Arg::Key));
        if let Some(annotations) = dependencies.task(top).shared_annotations() {
            task = task.with_annotations(annotations.clone());
        }
        outcome.replaced.insert(top, task);
        outcome.dependencies[top as usize] = inputs;
        // The fused groups of the chain's tasks, top down, join in one.
        let mut trees: Vec<u32> = Vec::new();
        for &id in &chain {
            match outcome.fused_trees.remove(&id) {
                Some(tree) => trees.extend(tree),
                None => trees.push(id),
            }
        }
        let renaming = outcome.renaming;
        if renaming {
            outcome.fused_trees.insert(top, trees);
        }
        for &id in &chain[1..] {
            outcome.removed[id as usize] = true;
            outcome.replaced.remove(&id);
            outcome.dependencies[id as usize].clear();
        }
    }
}
