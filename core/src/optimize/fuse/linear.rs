use crate::error::Result;
use crate::graph::Graph;
use crate::key::{Key, KeyMap, KeySet, key_split};
use crate::task::{Task, TaskBody};

use super::substitute::{substitute, substitute_all};

/// The most tasks fused into one chain, and the deepest nesting of calls a
/// fusion makes. Longer chains become several fused tasks: a fused task
/// runs its steps as nested calls, and bounding their depth bounds the
/// stack it needs (Dask's `fuse` overflows Python's recursion limit on long
/// chains) while keeping tasks small enough to spread.
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
    fuse_linear_with(graph, Some(keys), false)
}

/// [`fuse_linear`] with Dask's other choices: `keys` may be `None` (nothing
/// is protected), and with `rename_keys` a fused chain takes the joined
/// names of its tasks, bottom up (Dask's `default_fused_linear_keys_renamer`:
/// `z -> y -> x -> w` becomes `"z-y-x-w"`), its last key becoming an alias
/// of it. Readers of the chain read the new key; an alias nobody asked for
/// (not in `keys`) is dropped, unless `keys` is `None`.
///
/// ```
/// use barrow_core::arg::key;
/// use barrow_core::optimize::fuse_linear_with;
/// use barrow_core::{Func, Graph, Key, Task};
///
/// let inc = Func::new("inc", |x: &i64| x + 1);
/// let graph = Graph::from_tasks([
///     ("a", Task::literal(1i64)),
///     ("b", Task::call(&inc, [key("a")])),
///     ("c", Task::call(&inc, [key("b")])),
/// ])?;
/// let fused = fuse_linear_with(&graph, Some(&[Key::new("c")]), true)?;
/// assert_eq!(fused.get(&Key::new("a-b-c")).unwrap().to_string(), "inc(inc(1))");
/// assert_eq!(fused.get(&Key::new("c")).unwrap().to_string(), "alias of a-b-c");
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub fn fuse_linear_with(graph: &Graph, keys: Option<&[Key]>, rename_keys: bool) -> Result<Graph> {
    let outputs: KeySet = keys.unwrap_or_default().iter().cloned().collect();
    let mut reads: KeyMap<u32> = KeyMap::with_capacity_and_hasher(graph.len(), Default::default());
    for (_, task) in graph.iter() {
        task.for_each_dependency(&mut |dep| *reads.entry(dep.clone()).or_insert(0) += 1);
    }

    let mut fused: KeyMap<Task> = KeyMap::default();
    let mut chain_len: KeyMap<u32> = KeyMap::default();
    // With renaming: the keys of each fused chain, bottom up.
    let mut members: KeyMap<Vec<Key>> = KeyMap::default();
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
            if rename_keys {
                let mut chain = members.remove(&dep).unwrap_or_else(|| vec![dep.clone()]);
                chain.extend(members.remove(key).unwrap_or_else(|| vec![key.clone()]));
                members.insert(key.clone(), chain);
            }
            removed.insert(dep);
            fused.insert(key.clone(), merged);
            chain_len.insert(key.clone(), total);
        }
    }
    if removed.is_empty() {
        return Ok(graph.clone());
    }
    // The new name of each renamed chain, by its last key.
    let mut renamed: KeyMap<Key> = KeyMap::default();
    for (root, chain) in graph.keys().filter_map(|k| Some((k, members.get(k)?))) {
        let new_key = linear_name(chain);
        let taken = graph.contains_key(&new_key) || renamed.values().any(|k| *k == new_key);
        if !taken {
            renamed.insert(root.clone(), new_key);
        }
    }
    let aliases: Vec<(Key, TaskBody)> = renamed
        .iter()
        .map(|(root, new_key)| (root.clone(), TaskBody::Alias(new_key.clone())))
        .collect();
    let rewrites: Vec<(&Key, &TaskBody)> = aliases.iter().map(|(k, b)| (k, b)).collect();
    let reads_renamed = |task: &Task| {
        let mut reads = false;
        task.for_each_dependency(&mut |dep| reads |= renamed.contains_key(dep));
        reads
    };
    let kept = graph.len() - removed.len();
    let mut tasks = Vec::with_capacity(kept + renamed.len());
    for (key, task) in graph.iter() {
        if removed.contains(key) {
            continue;
        }
        let mut task = fused.remove(key).unwrap_or_else(|| task.clone());
        if reads_renamed(&task) {
            task = substitute_all(&task, &rewrites);
        }
        match renamed.get(key) {
            Some(new_key) => {
                tasks.push((new_key.clone(), task));
                if keys.is_none() || outputs.contains(key) {
                    tasks.push((key.clone(), Task::alias(new_key.clone())));
                }
            }
            None => tasks.push((key.clone(), task)),
        }
    }
    Graph::from_tasks(tasks)
}

/// Dask's `default_fused_linear_keys_renamer`: the kinds of a chain's
/// tasks bottom up, then the full name of its last; a tuple key keeps the
/// index of the last.
fn linear_name(chain: &[Key]) -> Key {
    let Some((last, below)) = chain.split_last() else {
        return Key::new("");
    };
    let mut name = String::new();
    for key in below {
        name.push_str(&key_split(key));
        name.push('-');
    }
    name.push_str(last.name());
    if last.is_indexed() {
        Key::with_index(name, last.index())
    } else {
        Key::new(name)
    }
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
