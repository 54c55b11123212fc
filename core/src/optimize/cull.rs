use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::graph::{Graph, Layer};
use crate::key::{Key, KeySet};

/// The graph restricted to the tasks `keys` need (Dask's `cull`). Layers
/// kept whole stay shared; a missing key or dependency is an error.
///
/// ```
/// use barrow_core::arg::key;
/// use barrow_core::optimize::cull;
/// use barrow_core::{Func, Graph, Key, Task};
///
/// let inc = Func::new("inc", |x: &i64| x + 1);
/// let graph = Graph::from_tasks([
///     ("x", Task::literal(1i64)),
///     ("y", Task::call(&inc, [key("x")])),
///     ("out", Task::call(&inc, [key("y")])),
///     ("unused", Task::call(&inc, [key("x")])),
/// ])?;
/// let culled = cull(&graph, &[Key::new("out")])?;
/// assert_eq!(culled.len(), 3);
/// assert!(!culled.contains_key(&Key::new("unused")));
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub fn cull(graph: &Graph, keys: &[Key]) -> Result<Graph> {
    let mut needed = KeySet::default();
    let mut stack: Vec<Key> = Vec::new();
    for key in keys {
        if !graph.contains_key(key) {
            // Lowering gives the full message with suggestions.
            return graph.lower(std::slice::from_ref(key)).map(|_| Graph::new());
        }
        if needed.insert(key.clone()) {
            stack.push(key.clone());
        }
    }
    while let Some(key) = stack.pop() {
        let Some(task) = graph.get(&key) else {
            return Err(Error::internal("culling lost a key it had found"));
        };
        let mut missing = None;
        task.for_each_dependency(&mut |dep| {
            if needed.contains(dep) {
                return;
            }
            if graph.contains_key(dep) {
                needed.insert(dep.clone());
                stack.push(dep.clone());
            } else if missing.is_none() {
                missing = Some(dep.clone());
            }
        });
        if let Some(dep) = missing {
            return Err(Error::new(
                ErrorKind::MissingDependency,
                format!("depends on {dep}, which is not in the graph"),
            )
            .with_key(key));
        }
    }
    keep(graph, &|key| needed.contains(key))
}

/// `graph` restricted to the keys `needed` accepts; layers kept whole stay
/// shared.
pub(crate) fn keep(graph: &Graph, needed: &dyn Fn(&Key) -> bool) -> Result<Graph> {
    let mut culled = Graph::new();
    for layer in graph.layers() {
        let kept = layer.iter().filter(|(k, _)| needed(k)).count();
        if kept == layer.len() {
            culled.add_layer(layer.clone())?;
        } else if kept > 0 {
            let mut part = Layer::with_capacity(layer.name(), kept);
            for (key, task) in layer.iter().filter(|(k, _)| needed(k)) {
                part.insert(key.clone(), task.clone())?;
            }
            culled.add_layer(Arc::new(part))?;
        }
    }
    Ok(culled)
}
