//! Collections, `compute` and `persist`.

use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::graph::{Graph, Layer};
use crate::key::Key;
use crate::optimize;
use crate::options::{Options, SchedulerChoice};
use crate::registry::Registry;
use crate::scheduler::{RunContext, Scheduler};
use crate::task::Task;
use crate::value::Value;

/// Anything that can hand over a task graph, the keys of its outputs, and a
/// finalizer that turns the output values into the user's result: arrays,
/// bags, delayed calls, or a plain graph ([`GraphKeys`]).
pub trait Collection {
    /// What computing the collection gives back.
    type Output;

    /// The graph that computes the collection.
    fn graph(&self) -> Result<Graph>;

    /// The keys whose values [`Collection::finalize`] needs, in order.
    fn output_keys(&self) -> Vec<Key>;

    /// Builds the result from the values of [`Collection::output_keys`].
    fn finalize(&self, values: Vec<Value>) -> Result<Self::Output>;

    /// The scheduler used when neither the call nor the configuration
    /// chooses one.
    fn default_scheduler(&self) -> Option<&str> {
        None
    }

    /// The memory [`Collection::finalize`]'s result will take, when known
    /// before computing (an array's elements times their size). `compute`
    /// refuses a result that cannot fit before anything runs (see
    /// [`memory::check_fits`](crate::memory::check_fits)); `None`, the
    /// default, when unknown.
    fn result_size(&self) -> Option<ResultSize> {
        None
    }
}

/// A collection that can be rebuilt on top of computed results (Dask's
/// `persist`).
pub trait Persist: Collection + Sized {
    /// The same collection, with `graph` (one literal task per output key)
    /// in place of the graph that computed it.
    fn with_results(&self, graph: Graph) -> Self;
}

/// A graph and the keys to compute from it: the simplest collection.
///
/// ```
/// use barrow_core::arg::key;
/// use barrow_core::{Func, Graph, Task};
/// use barrow_core::collection::GraphKeys;
///
/// let add = Func::new("add", |a: &i64, b: &i64| a + b);
/// let graph = Graph::from_tasks([
///     ("a", Task::literal(1i64)),
///     ("c", Task::call(&add, [key("a"), key("a")])),
/// ])?;
/// let target = GraphKeys::new(graph, ["c"]);
/// assert_eq!(target.keys().len(), 1);
/// # Ok::<(), barrow_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct GraphKeys {
    graph: Graph,
    keys: Vec<Key>,
}

impl GraphKeys {
    /// The values of `keys` in `graph`.
    pub fn new<K: Into<Key>>(graph: Graph, keys: impl IntoIterator<Item = K>) -> GraphKeys {
        GraphKeys {
            graph,
            keys: keys.into_iter().map(Into::into).collect(),
        }
    }

    /// The keys.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// The graph.
    pub fn graph_ref(&self) -> &Graph {
        &self.graph
    }
}

impl Collection for GraphKeys {
    type Output = Vec<Value>;

    fn graph(&self) -> Result<Graph> {
        Ok(self.graph.clone())
    }

    fn output_keys(&self) -> Vec<Key> {
        self.keys.clone()
    }

    fn finalize(&self, values: Vec<Value>) -> Result<Vec<Value>> {
        Ok(values)
    }
}

impl Persist for GraphKeys {
    fn with_results(&self, graph: Graph) -> GraphKeys {
        GraphKeys {
            graph,
            keys: self.keys.clone(),
        }
    }
}

impl<C: Collection + ?Sized> Collection for &C {
    type Output = C::Output;

    fn graph(&self) -> Result<Graph> {
        (**self).graph()
    }

    fn output_keys(&self) -> Vec<Key> {
        (**self).output_keys()
    }

    fn finalize(&self, values: Vec<Value>) -> Result<C::Output> {
        (**self).finalize(values)
    }

    fn default_scheduler(&self) -> Option<&str> {
        (**self).default_scheduler()
    }

    fn result_size(&self) -> Option<ResultSize> {
        (**self).result_size()
    }
}

/// Several collections of one type computed together (a list of delayed
/// values, say); the result is the list of their results.
impl<C: Collection> Collection for Vec<C> {
    type Output = Vec<C::Output>;

    fn graph(&self) -> Result<Graph> {
        let graphs = self
            .iter()
            .map(Collection::graph)
            .collect::<Result<Vec<_>>>()?;
        Graph::merge_all(&graphs)
    }

    fn output_keys(&self) -> Vec<Key> {
        self.iter().flat_map(Collection::output_keys).collect()
    }

    fn finalize(&self, values: Vec<Value>) -> Result<Vec<C::Output>> {
        let mut values = values.into_iter();
        self.iter()
            .map(|c| {
                let n = c.output_keys().len();
                c.finalize(values.by_ref().take(n).collect())
            })
            .collect()
    }

    fn default_scheduler(&self) -> Option<&str> {
        self.first().and_then(Collection::default_scheduler)
    }

    /// The sum of the known sizes.
    fn result_size(&self) -> Option<ResultSize> {
        ResultSize::sum(self.iter().map(Collection::result_size))
    }
}

/// What a collection's result will take in memory, known before it is
/// computed ([`Collection::result_size`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultSize {
    /// The bytes.
    pub bytes: u64,
    /// What the result is, for an error ("an array of shape [1000, 1000] of
    /// float64").
    pub what: String,
}

impl ResultSize {
    /// The sum of the sizes that are known, `None` if none is.
    pub fn sum(sizes: impl IntoIterator<Item = Option<ResultSize>>) -> Option<ResultSize> {
        sizes.into_iter().flatten().reduce(|a, b| ResultSize {
            bytes: a.bytes.saturating_add(b.bytes),
            what: format!("{} and {}", a.what, b.what),
        })
    }
}

macro_rules! tuple_collection {
    ($($name:ident $index:tt),+) => {
        /// Several collections computed together: their graphs are merged so
        /// shared intermediates run once.
        impl<$($name: Collection),+> Collection for ($($name,)+) {
            type Output = ($($name::Output,)+);

            fn graph(&self) -> Result<Graph> {
                let mut merged = Graph::new();
                $(merged.merge(&self.$index.graph()?)?;)+
                Ok(merged)
            }

            fn output_keys(&self) -> Vec<Key> {
                let mut keys = Vec::new();
                $(keys.extend(self.$index.output_keys());)+
                keys
            }

            fn finalize(&self, values: Vec<Value>) -> Result<Self::Output> {
                let mut values = values.into_iter();
                Ok(($({
                    let n = self.$index.output_keys().len();
                    self.$index.finalize(values.by_ref().take(n).collect())?
                },)+))
            }

            fn default_scheduler(&self) -> Option<&str> {
                None$(.or_else(|| self.$index.default_scheduler()))+
            }

            fn result_size(&self) -> Option<ResultSize> {
                ResultSize::sum([$(self.$index.result_size()),+])
            }
        }
    };
}
tuple_collection!(A 0);
tuple_collection!(A 0, B 1);
tuple_collection!(A 0, B 1, C 2);
tuple_collection!(A 0, B 1, C 2, D 3);
tuple_collection!(A 0, B 1, C 2, D 3, E 4);
tuple_collection!(A 0, B 1, C 2, D 3, E 4, F 5);

/// Computes a collection, or a tuple or `Vec` of collections, with default
/// options.
///
/// ```
/// use barrow_core::arg::key;
/// use barrow_core::collection::GraphKeys;
/// use barrow_core::reference::ReferenceScheduler;
/// use barrow_core::{Func, Graph, Options, Task, compute_with};
///
/// let inc = Func::new("inc", |x: &i64| x + 1);
/// let graph = Graph::from_tasks([
///     ("x", Task::literal(1i64)),
///     ("y", Task::call(&inc, [key("x")])),
///     ("z", Task::call(&inc, [key("y")])),
/// ])?;
/// let options = Options::new().scheduler_object(ReferenceScheduler::shared());
/// let (y, z) = compute_with(
///     (GraphKeys::new(graph.clone(), ["y"]), GraphKeys::new(graph, ["z"])),
///     &options,
/// )?;
/// assert_eq!(*y[0].downcast_ref::<i64>()?, 2);
/// assert_eq!(*z[0].downcast_ref::<i64>()?, 3);
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub fn compute<C: Collection>(collection: C) -> Result<C::Output> {
    compute_with(collection, &Options::new())
}

/// Computes with options (scheduler, workers, callbacks, store, …).
pub fn compute_with<C: Collection>(collection: C, options: &Options) -> Result<C::Output> {
    let keys = collection.output_keys();
    let graph = collection.graph()?;
    let result_size = collection.result_size();
    let values = run(
        &graph,
        &keys,
        collection.default_scheduler(),
        result_size,
        options,
    )?;
    collection.finalize(values)
}

/// Computes a collection and returns it rebuilt on the results, so later
/// computations start from them (Dask's `persist`).
///
/// ```
/// use barrow_core::arg::key;
/// use barrow_core::collection::GraphKeys;
/// use barrow_core::reference::ReferenceScheduler;
/// use barrow_core::{Func, Graph, Options, Task, persist_with};
///
/// let inc = Func::new("inc", |x: &i64| x + 1);
/// let graph = Graph::from_tasks([
///     ("x", Task::literal(1i64)),
///     ("y", Task::call(&inc, [key("x")])),
/// ])?;
/// let persisted = persist_with(&GraphKeys::new(graph, ["y"]), &Options::new().scheduler_object(ReferenceScheduler::shared()))?;
/// // The persisted graph holds the result itself, not the work.
/// assert_eq!(persisted.graph_ref().len(), 1);
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub fn persist<C: Persist>(collection: &C) -> Result<C> {
    persist_with(collection, &Options::new())
}

/// [`persist`] with options.
pub fn persist_with<C: Persist>(collection: &C, options: &Options) -> Result<C> {
    let keys = collection.output_keys();
    let graph = collection.graph()?;
    // Persisted results stay in their blocks: nothing is put together.
    let values = run(&graph, &keys, collection.default_scheduler(), None, options)?;
    let mut layer = Layer::with_capacity("persisted", keys.len());
    for (key, value) in keys.into_iter().zip(values) {
        layer.insert(key, Task::value(value))?;
    }
    Ok(collection.with_results(Graph::from_layer(Arc::new(layer))))
}

/// Checks that a result of `result_size` fits in memory, optimizes
/// `graph` for `keys` (unless the options turn it off), picks the
/// scheduler, and runs it.
fn run(
    graph: &Graph,
    keys: &[Key],
    collection_default: Option<&str>,
    result_size: Option<ResultSize>,
    options: &Options,
) -> Result<Vec<Value>> {
    let registry: &Registry = match options.registry_option() {
        Some(registry) => registry,
        None => Registry::global(),
    };
    let mut config = match options.resolve_config() {
        Ok(config) => config,
        // The call may set keys that a plugin declares, unknown until the
        // hooks have loaded it: they run first on the settings accepted now.
        Err(error) if !options.settings().is_empty() => {
            let accepted = options.resolve_accepted_config()?;
            crate::hooks::before_run(registry, &accepted)?;
            // Declared now (by these hooks, or by another computation's
            // meanwhile), or refused with the first error.
            options.resolve_config().map_err(|_| error)?
        }
        Err(error) => return Err(error),
    };
    if crate::hooks::before_run(registry, &config)? {
        // Keys a plugin declared were unknown when first read.
        config = options.resolve_config()?;
        crate::hooks::before_run(registry, &config)?;
    }
    if let Some(result) = result_size {
        crate::memory::check_fits(result.bytes, format!("computing {}", result.what), &config)?;
    }
    let scheduler = choose_scheduler(registry, options, &config, collection_default)?;
    let fuse = optimize::FuseOptions::from_config(&config)?;
    let optimize = options.optimize_graph_option().unwrap_or(fuse.active);
    let optimized;
    let graph = if optimize {
        // Checked before anything rewrites it, so errors name the keys as
        // written; then culled and fused.
        optimized = optimize::optimize_with(graph, keys, &fuse.active(true))?;
        &optimized
    } else {
        graph
    };
    let mut ctx = RunContext::with_config(registry, options, config);
    scheduler.get(graph, keys, &mut ctx)
}

/// The scheduler for one call: the call's choice, else a scheduler object
/// chosen for this thread with [`use_scheduler`](crate::use_scheduler), else
/// `scheduler` from the configuration (scoped override, global override,
/// `BARROW_SCHEDULER`, files, in that order), else the collection's default,
/// else `threads` when registered, else `sync`.
pub fn choose_scheduler(
    registry: &Registry,
    options: &Options,
    config: &barrow_config::Snapshot,
    collection_default: Option<&str>,
) -> Result<Arc<dyn Scheduler>> {
    let schedulers = registry.schedulers();
    match options.scheduler_choice() {
        Some(SchedulerChoice::Object(scheduler)) => Ok(scheduler.clone()),
        Some(SchedulerChoice::Named(name)) => schedulers.get(name, options),
        None => {
            if let Some(scheduler) = crate::scoped_scheduler() {
                return Ok(scheduler);
            }
            if let Some(name) = config.get::<String>("scheduler")? {
                return schedulers.get(&name, options);
            }
            let name = collection_default
                .or_else(|| {
                    ["threads", "sync"]
                        .into_iter()
                        .find(|n| schedulers.contains(n))
                })
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::UnknownScheduler,
                        "no scheduler is registered: add barrow-local (or the barrow crate \
                         with its default features) to your dependencies",
                    )
                })?;
            schedulers.get(name, options)
        }
    }
}
