//! Building the graph of one delayed call: merging the graphs of its
//! arguments and naming its output.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use barrow_core::tokenize::token_name;
use barrow_core::{Graph, Key, KeySet, Layer, Task};

/// A graph under construction, plus the first problem met while building it.
///
/// Building a delayed call never fails on the spot (so `f.call(&x)` returns a
/// handle, not a `Result`); a problem is kept here and reported by
/// [`Collection::graph`](barrow_core::Collection::graph) when the handle is
/// computed.
#[derive(Clone, Default)]
pub(crate) struct Built {
    pub(crate) graph: Graph,
    pub(crate) problem: Option<Arc<str>>,
}

impl Built {
    /// The union of `parts`, each layer once.
    ///
    /// The largest graph is cloned (a vector of shared layer pointers) and
    /// the others are added to it. A key already present keeps its first
    /// task: keys are tokens of what produced them, so a second task under
    /// the same key computes the same thing (two equal literals wrapped
    /// twice, say), and Dask's dictionary merge does the same.
    pub(crate) fn merge<'a>(parts: impl IntoIterator<Item = &'a Built>) -> Built {
        let parts: Vec<&Built> = parts.into_iter().collect();
        let problem = parts.iter().find_map(|p| p.problem.clone());
        let Some(largest) = (0..parts.len()).max_by_key(|&i| parts[i].graph.layers().len()) else {
            return Built::default();
        };
        let mut merged = Built {
            graph: parts[largest].graph.clone(),
            problem,
        };
        let others: Vec<&Built> = parts
            .iter()
            .enumerate()
            .filter(|&(i, p)| i != largest && !p.graph.is_empty())
            .map(|(_, p)| *p)
            .collect();
        if others.is_empty() {
            return merged;
        }
        let mut seen_layers: HashSet<*const Layer> =
            merged.graph.layers().iter().map(Arc::as_ptr).collect();
        let mut seen_keys: KeySet = merged.graph.keys().cloned().collect();
        for part in others {
            for layer in part.graph.layers() {
                if !seen_layers.insert(Arc::as_ptr(layer)) {
                    continue;
                }
                merged.add_new_tasks(layer, &mut seen_keys);
            }
        }
        merged
    }

    /// Adds the tasks of `layer` whose keys are not in `seen_keys` yet.
    fn add_new_tasks(&mut self, layer: &Arc<Layer>, seen_keys: &mut KeySet) {
        let fresh = layer
            .iter()
            .filter(|(key, _)| !seen_keys.contains(*key))
            .count();
        let result = if fresh == layer.len() {
            seen_keys.extend(layer.iter().map(|(key, _)| key.clone()));
            self.graph.add_layer(layer.clone())
        } else if fresh == 0 {
            Ok(())
        } else {
            let mut copy = Layer::with_capacity(layer.name(), fresh);
            let mut result = Ok(());
            for (key, task) in layer.iter() {
                if seen_keys.insert(key.clone()) {
                    result = result.and_then(|()| copy.insert(key.clone(), task.clone()));
                }
            }
            result.and_then(|()| self.graph.add_layer(Arc::new(copy)))
        };
        if let Err(error) = result {
            self.note(&error.to_string());
        }
    }

    /// Adds one task in a layer of its own, named after its key's prefix.
    pub(crate) fn push(&mut self, layer_name: &str, key: Key, task: Task) {
        let mut layer = Layer::with_capacity(layer_name, 1);
        let result = layer
            .insert(key, task)
            .and_then(|()| self.graph.add_layer(Arc::new(layer)));
        if let Err(error) = result {
            self.note(&error.to_string());
        }
    }

    /// Keeps the first problem.
    fn note(&mut self, message: &str) {
        if self.problem.is_none() {
            self.problem = Some(Arc::from(message));
        }
    }
}

/// A key `prefix-token` that no other call in this or any other process
/// produces (Dask's `pure=False`): a process-wide counter, salted with a
/// number drawn once per process.
pub(crate) fn unique_key(prefix: &str) -> Key {
    Key::new(unique_name(prefix))
}

/// A name `prefix-token` that no other call, in this or any other process,
/// gives: for results of impure functions and of closures, which have no
/// content to hash (Dask's `pure=False`). A process-wide counter, salted with
/// a number drawn once per process.
///
/// ```
/// let a = barrow_delayed::unique_name("map");
/// let b = barrow_delayed::unique_name("map");
/// assert!(a.starts_with("map-"));
/// assert_ne!(a, b);
/// ```
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    token_name(prefix, &(process_salt(), count))
}

/// A random number drawn once per process: std's randomly seeded hasher,
/// mixed with the clock and the process id.
fn process_salt() -> u64 {
    static SALT: OnceLock<u64> = OnceLock::new();
    *SALT.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        RandomState::new().hash_one((nanos, std::process::id()))
    })
}
