use crate::error::Result;
use crate::graph::Graph;
use crate::key::{Key, KeyMap, KeySet};
use crate::task::{Arg, Call, Task, TaskBody};

/// The most tasks fused into one. Longer chains become several fused tasks:
/// a fused task runs its steps as nested calls, and bounding their depth
/// bounds the stack it needs (Dask's `fuse` overflows Python's recursion
/// limit on long chains) while keeping tasks small enough to spread.
pub const MAX_FUSED_CHAIN: u32 = 64;

/// Fuses linear chains: a task whose only dependency is read by nothing
/// else absorbs that dependency as a nested call, so `x -> y -> z` runs as
/// one task `z = h(g(f(...)))`. The keys in `keys` are never fused away, and
/// tasks with different annotations are not fused together. Fused tasks keep
/// the key of the last task of their chain (Dask's `rename_keys=False`).
///
/// ```
/// use barrow_core::arg::key;
/// use barrow_core::optimize::fuse_linear;
/// use barrow_core::{Func, Graph, Key, Task};
///
/// let inc = Func::new("inc", |x: &i64| x + 1);
/// let graph = Graph::from_tasks([
///     ("x", Task::literal(1i64)),
///     ("y", Task::call(&inc, [key("x")])),
///     ("z", Task::call(&inc, [key("y")])),
/// ])?;
/// let fused = fuse_linear(&graph, &[Key::new("z")])?;
/// assert_eq!(fused.len(), 1);
/// assert_eq!(fused.get(&Key::new("z")).unwrap().to_string(), "inc(inc(1))");
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub fn fuse_linear(graph: &Graph, keys: &[Key]) -> Result<Graph> {
    let outputs: KeySet = keys.iter().cloned().collect();
    let mut reads: KeyMap<u32> = KeyMap::with_capacity_and_hasher(graph.len(), Default::default());
    for (_, task) in graph.iter() {
        task.for_each_dependency(&mut |dep| *reads.entry(dep.clone()).or_insert(0) += 1);
    }

    let mut fused: KeyMap<Task> = KeyMap::default();
    let mut chain_len: KeyMap<u32> = KeyMap::default();
    let mut removed = KeySet::default();
    for (key, original) in graph.iter() {
        if removed.contains(key) {
            continue;
        }
        loop {
            let current = fused.get(key).unwrap_or(original);
            let Some(dep) = single_dependency(current) else {
                break;
            };
            if outputs.contains(&dep) || reads.get(&dep).copied() != Some(1) {
                break;
            }
            let Some(dep_original) = graph.get(&dep) else {
                break;
            };
            let dep_task = fused.get(&dep).unwrap_or(dep_original);
            let total = chain_len.get(key).copied().unwrap_or(1)
                + chain_len.get(&dep).copied().unwrap_or(1);
            if total > MAX_FUSED_CHAIN || current.annotations() != dep_task.annotations() {
                break;
            }
            let merged = substitute(current, &dep, dep_task.body());
            fused.remove(&dep);
            chain_len.remove(&dep);
            removed.insert(dep);
            fused.insert(key.clone(), merged);
            chain_len.insert(key.clone(), total);
        }
    }
    if removed.is_empty() {
        return Ok(graph.clone());
    }
    let kept = graph.len() - removed.len();
    let mut tasks = Vec::with_capacity(kept);
    for (key, task) in graph.iter() {
        if !removed.contains(key) {
            let task = fused.remove(key).unwrap_or_else(|| task.clone());
            tasks.push((key.clone(), task));
        }
    }
    Graph::from_tasks(tasks)
}

/// The one key `task` reads, if it reads exactly one key exactly once.
fn single_dependency(task: &Task) -> Option<Key> {
    let mut only: Option<Key> = None;
    let mut count = 0;
    task.for_each_dependency(&mut |dep| {
        count += 1;
        if count == 1 {
            only = Some(dep.clone());
        }
    });
    if count == 1 { only } else { None }
}

/// `task` with every read of `key` replaced by `body` (a literal, an alias
/// target, or a nested call).
pub(super) fn substitute(task: &Task, key: &Key, body: &TaskBody) -> Task {
    let new_body = match task.body() {
        TaskBody::Literal(_) => return task.clone(),
        TaskBody::Alias(target) if target == key => body.clone(),
        TaskBody::Alias(_) => return task.clone(),
        TaskBody::Call(call) => TaskBody::Call(substitute_call(call, key, body)),
    };
    let out = Task::from_body(new_body);
    match task.shared_annotations() {
        Some(annotations) => out.with_annotations(annotations.clone()),
        None => out,
    }
}

fn substitute_call(call: &Call, key: &Key, body: &TaskBody) -> Call {
    Call::new(
        call.function(),
        call.args().iter().map(|arg| substitute_arg(arg, key, body)),
    )
}

fn substitute_arg(arg: &Arg, key: &Key, body: &TaskBody) -> Arg {
    match arg {
        Arg::Key(k) if k == key => match body {
            TaskBody::Literal(value) => Arg::Literal(value.clone()),
            TaskBody::Alias(target) => Arg::Key(target.clone()),
            TaskBody::Call(call) => Arg::Fused(Box::new((key.clone(), call.clone()))),
        },
        Arg::Literal(_) | Arg::Key(_) => arg.clone(),
        Arg::List(items) => Arg::List(items.iter().map(|a| substitute_arg(a, key, body)).collect()),
        Arg::Call(call) => Arg::Call(Box::new(substitute_call(call, key, body))),
        Arg::Fused(fused) => Arg::Fused(Box::new((
            fused.0.clone(),
            substitute_call(&fused.1, key, body),
        ))),
    }
}
