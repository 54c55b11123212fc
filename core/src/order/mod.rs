//! Static ordering of tasks: which task to run first when several are ready.
//!
//! [`order`] gives every node of the graph a priority, a permutation of
//! `0..n` that is a topological order (a task comes after all its
//! dependencies). Executors run, among the ready tasks, the one with the
//! smallest priority. The priorities are the order in which a sequential
//! run should go, and are chosen to keep few results in memory: finish one
//! branch of the graph before starting the next, so that reductions stream
//! through their inputs; run the task that lets a result be freed; go down
//! the branch with the most work first; break ties by key. It is Barrow's
//! counterpart of Dask's `dask.order.order`, with its own algorithm.
//!
//! How it works (the design note is `README.md` in this folder):
//!
//! 1. *Prepare* (`prepare.rs`). In topological order (Kahn's algorithm),
//!    estimate for each node the number of tasks needed to produce it, and
//!    sort its dependencies: most work first, ties by key.
//! 2. *Walk* (`walk.rs`). From each output (a node nothing depends on), most
//!    work first, descend with an explicit stack into the first dependency
//!    not yet emitted; a node is emitted (gets the next priority) as soon as
//!    all its dependencies are.
//! 3. *Eager steps*, after each emission. A dependent that became runnable
//!    and is the last one waiting for one of its inputs runs at once (it
//!    frees that input). When an input has a single dependent left that is
//!    not runnable yet, that dependent is computed next if little work is
//!    missing and its result is consumed right away. Runnable tasks that free
//!    nothing wait; those that lead straight to an output run before the
//!    walk loads its next input.
//!
//! Everything is iterative (no recursion: a chain of a million tasks is
//! fine), runs in `O((n + e) log n)` time for `n` nodes and `e` edges, and
//! holds about 30 bytes per task besides the result.

mod prepare;
mod walk;

#[cfg(test)]
mod test;

use crate::plan::Csr;

/// Returns one priority per node: a permutation of `0..n` where 0 runs first.
///
/// `dependencies.row(i)` lists the nodes task `i` needs (duplicates allowed)
/// and `dependents` must be `dependencies.transpose()`. `keys[i]` names node
/// `i`; keys only break ties between equal shapes, in ascending order, so
/// the result depends on the graph and its keys, not on the node numbering.
/// `K`'s ordering must be a total order, as `Ord` requires.
///
/// The result is a topological order of an acyclic graph: the priority of a
/// task is larger than the priorities of all its dependencies. On a graph
/// with a cycle the function still returns a permutation (the acyclic part
/// first, in topological order) without panicking. Malformed input (ids out
/// of range, `dependents` that is not the transpose, too few keys) is
/// tolerated: ids out of range are ignored, a wrong `dependents` is rebuilt,
/// and nodes without a key tie by id.
///
/// ```
/// use barrow_core::order::order;
/// use barrow_core::plan::Csr;
///
/// // Inputs a0, a1, b0, b1; sa = f(a0, a1); sb = f(b0, b1); total = g(sa, sb).
/// let keys = ["a0", "a1", "b0", "b1", "sa", "sb", "total"];
/// let dependencies = Csr::from_rows([
///     vec![],
///     vec![],
///     vec![],
///     vec![],
///     vec![0, 1],
///     vec![2, 3],
///     vec![4, 5],
/// ]);
/// let priority = order(&dependencies, &dependencies.transpose(), &keys);
/// // One reduction finishes before the other starts.
/// assert_eq!(priority, [0, 1, 3, 4, 2, 5, 6]);
/// ```
pub fn order<K: Ord>(dependencies: &Csr, dependents: &Csr, keys: &[K]) -> Vec<u32> {
    if dependencies.is_empty() {
        return Vec::new();
    }
    match prepare::prepare(dependencies, dependents, keys) {
        Ok(mut prepared) => {
            let rebuilt = prepared.rebuilt_dependents.take();
            let dependents = rebuilt.as_ref().unwrap_or(dependents);
            walk::Walk::new(prepared, dependents, keys).run()
        }
        Err(permutation) => permutation,
    }
}
