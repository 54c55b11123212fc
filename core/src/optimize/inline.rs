use crate::error::{Error, ErrorKind, Result};
use crate::graph::Graph;
use crate::key::{Key, KeyMap, KeySet};
use crate::task::{Task, TaskBody};

use super::fuse::substitute::substitute;

/// Replaces reads of `keys` (and, with `inline_constants`, of every task
/// that computes nothing: literals and aliases) by their tasks' bodies,
/// recursively (Dask's `inline`). The inlined
/// keys stay in the graph; follow with [`cull`](super::cull) to drop them.
///
/// ```
/// use barrow_core::arg::key;
/// use barrow_core::optimize::inline;
/// use barrow_core::{Func, Graph, Key, Task};
///
/// let inc = Func::new("inc", |x: &i64| x + 1);
/// let add = Func::new("add", |a: &i64, b: &i64| a + b);
/// let graph = Graph::from_tasks([
///     ("x", Task::literal(1i64)),
///     ("y", Task::call(&inc, [key("x")])),
///     ("z", Task::call(&add, [key("x"), key("y")])),
/// ])?;
/// let inlined = inline(&graph, &[Key::new("y")], true)?;
/// assert_eq!(inlined.get(&Key::new("z")).unwrap().to_string(), "add(1, inc(1))");
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub fn inline(graph: &Graph, keys: &[Key], inline_constants: bool) -> Result<Graph> {
    let mut targets: KeySet = keys.iter().cloned().collect();
    if inline_constants {
        for (key, task) in graph.iter() {
            if matches!(task.body(), TaskBody::Literal(_) | TaskBody::Alias(_)) {
                targets.insert(key.clone());
            }
        }
    }
    for key in &targets {
        if !graph.contains_key(key) {
            return Err(Error::new(
                ErrorKind::MissingKey,
                format!("cannot inline {key}: it is not in the graph"),
            )
            .with_key(key.clone()));
        }
    }
    let replacements = Replacements::new(graph, &targets);
    let mut memo = KeyMap::default();
    let mut tasks = Vec::with_capacity(graph.len());
    for (key, task) in graph.iter() {
        tasks.push((key.clone(), replacements.apply(task, &mut memo)?));
    }
    Graph::from_tasks(tasks)
}

/// Inlines tasks that call only `fast_functions` into the tasks that read
/// them, and drops them (Dask's `inline_functions`): cheap steps such as
/// indexing then run inside their consumers instead of as tasks of their
/// own. Tasks in `outputs` and tasks nothing reads are kept.
///
/// ```
/// use barrow_core::arg::key;
/// use barrow_core::optimize::inline_functions;
/// use barrow_core::{Func, Graph, Task};
///
/// let inc = Func::new("inc", |x: &i64| x + 1);
/// let double = Func::new("double", |x: &i64| 2 * x);
/// let graph = Graph::from_tasks([
///     ("x", Task::literal(1i64)),
///     ("i", Task::call(&inc, [key("x")])),
///     ("out", Task::call(&double, [key("i")])),
/// ])?;
/// let inlined = inline_functions(&graph, &[], &["inc"])?;
/// assert_eq!(inlined.len(), 2);
/// assert_eq!(inlined.get(&"out".into()).unwrap().to_string(), "double(inc(x))");
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub fn inline_functions(graph: &Graph, outputs: &[Key], fast_functions: &[&str]) -> Result<Graph> {
    let outputs: KeySet = outputs.iter().cloned().collect();
    let mut read = KeySet::default();
    for (_, task) in graph.iter() {
        task.for_each_dependency(&mut |dep| {
            read.insert(dep.clone());
        });
    }
    let targets: KeySet = graph
        .iter()
        .filter(|(key, task)| {
            !outputs.contains(*key)
                && read.contains(*key)
                && matches!(task.body(), TaskBody::Call(_))
                && calls_only(task, fast_functions)
        })
        .map(|(key, _)| key.clone())
        .collect();
    let replacements = Replacements::new(graph, &targets);
    let mut memo = KeyMap::default();
    let mut tasks = Vec::with_capacity(graph.len() - targets.len());
    for (key, task) in graph.iter() {
        if !targets.contains(key) {
            tasks.push((key.clone(), replacements.apply(task, &mut memo)?));
        }
    }
    Graph::from_tasks(tasks)
}

fn calls_only(task: &Task, functions: &[&str]) -> bool {
    fn call_ok(call: &crate::task::Call, functions: &[&str]) -> bool {
        functions.contains(&call.function().name())
            && call.args().iter().all(|a| arg_ok(a, functions))
    }
    fn arg_ok(arg: &crate::task::Arg, functions: &[&str]) -> bool {
        match arg {
            crate::task::Arg::Call(call) => call_ok(call, functions),
            crate::task::Arg::Fused(fused) => call_ok(&fused.1, functions),
            crate::task::Arg::List(items) => items.iter().all(|a| arg_ok(a, functions)),
            _ => true,
        }
    }
    match task.body() {
        TaskBody::Call(call) => call_ok(call, functions),
        _ => true,
    }
}

/// The bodies that replace reads of the inlined keys, themselves with the
/// inlined keys they read replaced.
struct Replacements<'g> {
    graph: &'g Graph,
    targets: &'g KeySet,
}

impl<'g> Replacements<'g> {
    fn new(graph: &'g Graph, targets: &'g KeySet) -> Replacements<'g> {
        Replacements { graph, targets }
    }

    /// `task` with every read of a target replaced by the target's fully
    /// inlined body. Resolves bodies depth first with an explicit stack and
    /// memoizes them, so shared targets are expanded once.
    fn apply(&self, task: &Task, memo: &mut KeyMap<Task>) -> Result<Task> {
        let mut out = task.clone();
        for dep in task.dependencies() {
            if !self.targets.contains(&dep) {
                continue;
            }
            let resolved = self.resolve(&dep, memo)?;
            out = substitute(&out, &dep, resolved.body());
        }
        Ok(out)
    }

    fn resolve(&self, key: &Key, memo: &mut KeyMap<Task>) -> Result<Task> {
        // Explicit stack: (key, whether its dependencies were pushed).
        let mut stack = vec![(key.clone(), false)];
        let mut on_stack = KeySet::default();
        while let Some((current, expanded)) = stack.pop() {
            if memo.contains_key(&current) {
                continue;
            }
            let Some(task) = self.graph.get(&current) else {
                return Err(Error::internal("an inlined key vanished from the graph"));
            };
            if expanded {
                let mut out = task.clone();
                for dep in task.dependencies() {
                    if let Some(body) = memo.get(&dep).filter(|_| self.targets.contains(&dep)) {
                        out = substitute(&out, &dep, body.body());
                    }
                }
                on_stack.remove(&current);
                memo.insert(current, out);
                continue;
            }
            if !on_stack.insert(current.clone()) {
                return Err(Error::new(
                    ErrorKind::Cycle,
                    format!("cannot inline {current}: it depends on itself"),
                )
                .with_key(current));
            }
            stack.push((current.clone(), true));
            for dep in task.dependencies() {
                if self.targets.contains(&dep) && !memo.contains_key(&dep) {
                    stack.push((dep, false));
                }
            }
        }
        memo.get(key)
            .cloned()
            .ok_or_else(|| Error::internal("inlining did not resolve a key"))
    }
}
