//! Task graphs: keys to tasks, built from shared layers.

use std::fmt;
use std::sync::Arc;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use crate::error::{Error, ErrorKind, Result};
use crate::key::Key;
use crate::plan::{Dependencies, Plan};
use crate::task::Task;

/// What one task takes in memory to build, lower and schedule, for
/// [`Layer::try_with_capacity`]'s estimate: measured on array graphs run
/// on threads (about 350 bytes for a key and task in its layer, 340 for
/// its share of the plan, the rest the engine's state while it runs).
pub const BYTES_PER_TASK: u64 = 1024;

/// A named group of tasks, usually the output of one operation on a
/// collection (Dask's HighLevelGraph layer). Layers are shared between graphs
/// by reference, so merging the graphs of several collections copies no task.
///
/// Tasks are kept in insertion order, with an index of 4-byte positions
/// beside them (a map of keys to tasks would hold a whole entry per slot).
#[derive(Clone)]
pub struct Layer {
    name: Arc<str>,
    tasks: Vec<(Key, Task)>,
    index: HashTable<u32>,
}

impl Layer {
    /// An empty layer.
    pub fn new(name: impl Into<Arc<str>>) -> Layer {
        Layer::with_capacity(name, 0)
    }

    /// An empty layer with room for `capacity` tasks.
    pub fn with_capacity(name: impl Into<Arc<str>>, capacity: usize) -> Layer {
        Layer {
            name: name.into(),
            tasks: Vec::with_capacity(capacity),
            index: HashTable::with_capacity(capacity),
        }
    }

    /// An empty layer with room for `capacity` tasks, once it is clear that
    /// so many tasks fit: their estimated memory ([`BYTES_PER_TASK`] each,
    /// to build, lower and schedule them) must be within the budget of
    /// [`memory`](crate::memory) (`local.memory-limit`, else the memory
    /// available), and one layer holds at most `u32::MAX` tasks. Builders
    /// whose task count comes from a user's sizes (chunks, partitions) use
    /// this, so that tens of millions of tasks are refused at once instead
    /// of aborting in an allocation.
    ///
    /// ```
    /// use barrow_core::{ErrorKind, Layer};
    ///
    /// let _limit = barrow_core::config::scoped([("local.memory-limit", "1GiB")])?;
    /// let err = Layer::try_with_capacity("ones-1f2e", 20_000_000).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TooLarge);
    /// assert!(err.to_string().contains("20000000 tasks"), "{err}");
    /// assert!(err.to_string().contains("bigger chunks"), "{err}");
    /// assert!(Layer::try_with_capacity("ones-1f2e", 1000).is_ok());
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::TooLarge`], naming the layer, the task count, the
    /// estimate and the budget.
    pub fn try_with_capacity(name: impl Into<Arc<str>>, capacity: usize) -> Result<Layer> {
        let name = name.into();
        check_task_count(&format!("layer '{name}'"), capacity)?;
        Ok(Layer::with_capacity(name, capacity))
    }

    /// Where `key` sits among the layer's tasks.
    pub(crate) fn position(&self, key: &Key) -> Option<usize> {
        let tasks = &self.tasks;
        self.index
            .find(key.stable_hash(), |&i| tasks[i as usize].0 == *key)
            .map(|&i| i as usize)
    }

    /// The key and task at `position` (from [`Layer::position`]).
    pub(crate) fn at(&self, position: usize) -> (&Key, &Task) {
        let (key, task) = &self.tasks[position];
        (key, task)
    }

    /// Adds a task. Giving a key a second, different task is an error; the
    /// same task again is accepted.
    pub fn insert(&mut self, key: impl Into<Key>, task: Task) -> Result<()> {
        let key = key.into();
        let position = self.tasks.len() as u32;
        let tasks = &self.tasks;
        // One probe finds the key or the slot for it.
        let entry = self.index.entry(
            key.stable_hash(),
            |&i| tasks[i as usize].0 == key,
            |&i| tasks[i as usize].0.stable_hash(),
        );
        match entry {
            Entry::Occupied(found) => {
                let existing = &self.tasks[*found.get() as usize].1;
                if existing.same_as(&task) {
                    Ok(())
                } else {
                    Err(conflict(&key, existing, &task))
                }
            }
            Entry::Vacant(slot) => {
                slot.insert(position);
                self.tasks.push((key, task));
                Ok(())
            }
        }
    }

    /// Appends a task whose key is not in the layer yet.
    fn push_new(&mut self, key: Key, task: Task) {
        let position = self.tasks.len() as u32;
        let hash = key.stable_hash();
        self.tasks.push((key, task));
        let tasks = &self.tasks;
        self.index
            .insert_unique(hash, position, |&i| tasks[i as usize].0.stable_hash());
    }

    /// Replaces the task of a key already present, or appends it.
    fn replace(&mut self, key: Key, task: Task) {
        match self.position(&key) {
            Some(i) => self.tasks[i].1 = task,
            None => self.push_new(key, task),
        }
    }

    /// The layer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The task of `key`.
    pub fn get(&self, key: &Key) -> Option<&Task> {
        self.position(key).map(|i| &self.tasks[i].1)
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the layer has no task.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The tasks, in the order they were inserted.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Key, &Task)> {
        self.tasks.iter().map(|(k, t)| (k, t))
    }
}

/// Refuses `what` (a layer, a collection) of `tasks` tasks when their estimated memory
/// ([`BYTES_PER_TASK`] each) passes the budget of
/// [`memory`](crate::memory), or when one layer cannot index so many (see
/// [`Layer::try_with_capacity`]); builders that know a count before they
/// make any layer (a shuffle's pieces) call it first.
///
/// # Errors
/// [`ErrorKind::TooLarge`], naming `what`, the count, the estimate and the
/// budget.
pub fn check_task_count(what: &str, tasks: usize) -> Result<()> {
    if u32::try_from(tasks).is_err() {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "{what} would have {tasks} tasks, more than the {} one layer can \
                 hold: use bigger chunks or partitions (fewer, larger tasks)",
                u32::MAX
            ),
        ));
    }
    let estimate = (tasks as u64).saturating_mul(BYTES_PER_TASK);
    if let Some(budget) = crate::memory::budget_for(estimate)?
        && estimate > budget.bytes()
    {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "{what} would have {tasks} tasks, about {} to build and schedule \
                 ({BYTES_PER_TASK} bytes a task), more than the {budget}: use bigger chunks \
                 or partitions (fewer, larger tasks; chunks of 10-500 MB suit most work)",
                crate::memory::human_bytes(estimate)
            ),
        ));
    }
    Ok(())
}

impl fmt::Debug for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Layer({}, {} tasks)", self.name, self.tasks.len())
    }
}

fn conflict(key: &Key, existing: &Task, new: &Task) -> Error {
    Error::new(
        ErrorKind::KeyConflict,
        format!(
            "two different tasks under one key: {existing} and {new}; keys must name what \
             produced them (use tokenize) so that different tasks get different keys"
        ),
    )
    .with_key(key.clone())
}

/// A task graph: a mapping from keys to tasks, held as a list of shared
/// layers in which every key appears once.
///
/// ```
/// use barrow_core::arg::key;
/// use barrow_core::{ErrorKind, Func, Graph, Task};
///
/// let add = Func::new("add", |a: &i64, b: &i64| a + b);
/// let graph = Graph::from_tasks([
///     ("a", Task::literal(1i64)),
///     ("b", Task::literal(2i64)),
///     ("c", Task::call(&add, [key("a"), key("b")])),
/// ])?;
/// assert_eq!(graph.len(), 3);
/// graph.validate()?;
///
/// // A dependency on a key that nothing produces is refused, naming both keys.
/// let broken = Graph::from_tasks([("c", Task::call(&add, [key("zz"), key("zz")]))])?;
/// let err = broken.validate().unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::MissingDependency);
/// assert!(err.to_string().contains("zz"));
/// # Ok::<(), barrow_core::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Graph {
    layers: Vec<Arc<Layer>>,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Graph {
        Graph::default()
    }

    /// A graph of one layer holding `tasks`.
    pub fn from_tasks<K: Into<Key>>(tasks: impl IntoIterator<Item = (K, Task)>) -> Result<Graph> {
        let tasks = tasks.into_iter();
        let mut layer = Layer::with_capacity("graph", tasks.size_hint().0);
        for (key, task) in tasks {
            layer.insert(key, task)?;
        }
        Ok(Graph::from_layer(layer))
    }

    /// A graph of one layer.
    pub fn from_layer(layer: impl Into<Arc<Layer>>) -> Graph {
        Graph {
            layers: vec![layer.into()],
        }
    }

    /// Adds one task. A key already in the graph with a different task is an
    /// error.
    pub fn insert(&mut self, key: impl Into<Key>, task: Task) -> Result<()> {
        let key = key.into();
        if let Some(existing) = self.get(&key) {
            return if existing.same_as(&task) {
                Ok(())
            } else {
                Err(conflict(&key, existing, &task))
            };
        }
        match self.layers.last_mut().and_then(Arc::get_mut) {
            Some(layer) => layer.insert(key, task),
            None => {
                let mut layer = Layer::new("graph");
                layer.insert(key, task)?;
                self.layers.push(Arc::new(layer));
                Ok(())
            }
        }
    }

    /// Adds a layer. A layer already present (the same shared object) is
    /// skipped, so intermediates shared by several collections appear once;
    /// keys already in the graph with the same task are dropped from the new
    /// layer, and with a different task are an error.
    pub fn add_layer(&mut self, layer: Arc<Layer>) -> Result<()> {
        if self.layers.iter().any(|l| Arc::ptr_eq(l, &layer)) {
            return Ok(());
        }
        let mut duplicates = Vec::new();
        for (key, task) in layer.iter() {
            if let Some(existing) = self.get(key) {
                if !existing.same_as(task) {
                    return Err(conflict(key, existing, task));
                }
                duplicates.push(key.clone());
            }
        }
        let layer = if duplicates.is_empty() {
            layer
        } else {
            let mut copy = Layer::with_capacity(layer.name.clone(), layer.len() - duplicates.len());
            let duplicates: crate::key::KeySet = duplicates.into_iter().collect();
            for (key, task) in layer.iter().filter(|(k, _)| !duplicates.contains(*k)) {
                copy.push_new(key.clone(), task.clone());
            }
            Arc::new(copy)
        };
        if !layer.is_empty() {
            self.layers.push(layer);
        }
        Ok(())
    }

    /// Merges another graph into this one (see [`Graph::add_layer`]).
    pub fn merge(&mut self, other: &Graph) -> Result<()> {
        for layer in &other.layers {
            self.add_layer(layer.clone())?;
        }
        Ok(())
    }

    /// The union of several graphs.
    pub fn merge_all<'a>(graphs: impl IntoIterator<Item = &'a Graph>) -> Result<Graph> {
        let mut merged = Graph::new();
        for graph in graphs {
            merged.merge(graph)?;
        }
        Ok(merged)
    }

    /// The task of `key`.
    pub fn get(&self, key: &Key) -> Option<&Task> {
        // Later layers usually depend on earlier ones, and lookups come from
        // the newest tasks, so search from the end.
        self.layers.iter().rev().find_map(|layer| layer.get(key))
    }

    /// Whether `key` has a task.
    pub fn contains_key(&self, key: &Key) -> bool {
        self.get(key).is_some()
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.layers.iter().map(|l| l.len()).sum()
    }

    /// Whether the graph has no task.
    pub fn is_empty(&self) -> bool {
        self.layers.iter().all(|l| l.is_empty())
    }

    /// All tasks, layer by layer.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Task)> {
        self.layers.iter().flat_map(|l| l.iter())
    }

    /// All keys, layer by layer.
    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        self.iter().map(|(k, _)| k)
    }

    /// The layers.
    pub fn layers(&self) -> &[Arc<Layer>] {
        &self.layers
    }

    /// Checks that every dependency exists and that there is no cycle.
    /// (Use [`Dependencies::of`] to check only what some keys need.)
    pub fn validate(&self) -> Result<()> {
        Dependencies::of(self, None).map(drop)
    }

    /// Lowers the graph to the dense plan that executors run: the tasks
    /// needed for `outputs` (all tasks for an empty slice would be
    /// surprising, so pass the keys you want), with integer ids, dependency
    /// lists and priorities.
    pub fn lower(&self, outputs: &[Key]) -> Result<Plan<'_>> {
        Plan::lower(self, Some(outputs))
    }
}

impl fmt::Debug for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Graph")
            .field("tasks", &self.len())
            .field("layers", &self.layers)
            .finish()
    }
}

impl<K: Into<Key>> FromIterator<(K, Task)> for Graph {
    /// Collects tasks into a graph; a key given twice keeps the last task.
    /// Use [`Graph::from_tasks`] to have conflicts reported instead.
    fn from_iter<I: IntoIterator<Item = (K, Task)>>(iter: I) -> Graph {
        let mut layer = Layer::new("graph");
        for (key, task) in iter {
            layer.replace(key.into(), task);
        }
        Graph::from_layer(layer)
    }
}
