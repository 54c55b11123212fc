//! Bags (Dask's `dask.bag`): partitioned sequences of any Rust values, for
//! semi-structured data — log lines, records, words — processed in
//! parallel with `map`, `filter`, folds and grouping.
//!
//! ```
//! use barrow_bag::Bag;
//! use barrow_core::{Options, compute_with};
//! # barrow_local::link();
//!
//! let numbers = Bag::from_sequence(1..=10i64, 3)?;
//! assert_eq!(numbers.npartitions(), 3);
//!
//! let odd_squares = numbers.filter(|x| x % 2 == 1).map(|x| x * x);
//! let options = Options::new().scheduler("sync");
//! assert_eq!(compute_with(&odd_squares, &options)?, vec![1, 9, 25, 49, 81]);
//!
//! // Reductions give delayed values, computed alone or together.
//! let (total, count) = compute_with((odd_squares.sum(), odd_squares.count()), &options)?;
//! assert_eq!((total, count), (165, 5));
//! # Ok::<(), barrow_core::Error>(())
//! ```
//!
//! # Partitions and fusion
//!
//! A [`Bag<T>`] is a list of partitions, each a `Vec<T>` when stored. An
//! element-wise operation (`map`, `filter`, `flat_map`, …) adds no task: it
//! wraps the function that produces each partition's elements, so a chain
//! `read_text → flat_map → filter → frequencies` runs as one task per
//! partition that streams lines through every step, without building the
//! vectors in between. Tasks appear where whole partitions are needed: a
//! reduction, a shuffle, `compute`. Elements must be [`Element`]s
//! (`Clone + Send + Sync + 'static`): a stored partition is shared by the
//! tasks that read it, and each reads clones of its elements.
//!
//! # Reductions
//!
//! `count`, `sum`, `min`, `max`, `mean`, `var`, `std`, `any`, `all`, `fold`
//! and `reduction` give a [`Delayed`] value; `frequencies`, `topk`,
//! `distinct` and `foldby` give a bag of one partition. All combine
//! partition results in a tree, [`Bag::split_every`] (default 8) at a time,
//! as Dask does, so no task holds more than a few partial results.
//!
//! # Schedulers
//!
//! Bags compute on any scheduler; the default is `threads`. Dask's bags
//! default to processes because Python's global interpreter lock serializes
//! pure-Python functions; Rust has no such lock, so threads run bag
//! functions in parallel without copying partitions between processes. A
//! scheduler named in the call's options or in the configuration wins.
//!
//! # Worker processes
//!
//! Tasks reach a worker process as a registered function name with
//! serialized parameters; a closure cannot. A bag built only from
//! registered operations — its sources, the string steps
//! ([`Bag::split_whitespace`], [`Bag::split`], [`Bag::to_lowercase`], …),
//! `flatten` of strings, `random_sample`, functions registered with
//! `#[barrow::task]` through [`Bag::map_func`], [`Bag::filter_func`],
//! [`Bag::flat_map_func`] and [`Bag::map_partitions_func`], then `compute`, `count`, `sum`, `frequencies`,
//! `topk`, [`Bag::most_common`] and the other reductions without closures
//! — on elements of the common types (`String`, `i64`, `u64`, `f64`,
//! `bool`, …) keeps a serializable recipe of its pipeline, and its tasks
//! can cross (`barrow_wire::check_serializable` accepts its graph). The
//! crate's README lists exactly what is registered. Closures keep working
//! in this process, as fast as ever.
//!
//! # Errors
//!
//! Building a bag fails on bad arguments (zero partitions, a glob matching
//! no file) with an error saying which. A user function that fails or
//! panics on an element fails the computation with an error naming the
//! task, whose key carries the partition index.
#![deny(missing_docs, missing_debug_implementations)]

mod create;
mod elementwise;
pub mod error;
mod feed;
mod funcs;
mod group;
mod io;
mod numeric;
mod output;
mod recipe;
mod reduce;
mod reductions;
mod registered;
mod steps;
mod strings;
mod text;

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

use barrow_core::arg::{key, lit};
use barrow_core::collection::{Collection, Persist};
use barrow_core::{Arg, Error, ErrorKind, Graph, Key, Layer, Result, Task, Value};
use barrow_delayed::Delayed;

pub use crate::error::BagError;
pub use crate::feed::Element;
pub use crate::io::compression::Compression;
pub use crate::numeric::Numeric;
pub use crate::output::{BagIter, register_codecs};
pub use crate::text::{Patterns, ReadText, read_text};

use crate::feed::{Consume, Feed, Lent, partition_func, stored_feed, stored_lent};
use crate::recipe::{End, Recipe, Step};

/// How many partial results a reduction combines in one task, unless
/// [`Bag::split_every`] says otherwise (Dask's default for bags).
pub const DEFAULT_SPLIT_EVERY: usize = 8;

/// A lazy, partitioned sequence of `T`s.
///
/// Cheap to clone: a list of shared graph layers and the functions that
/// produce each partition. `T` is only a marker for the graph's values; a
/// bag is `Send` and `Sync` whatever `T` is.
pub struct Bag<T> {
    graph: Graph,
    /// The first problem met while merging graphs, reported by `compute`.
    problem: Option<Arc<str>>,
    /// Stored partitions are under keys `(name, i)`.
    name: Arc<str>,
    /// The operations in the feed, for task names (`map-filter`).
    label: Arc<str>,
    /// Per partition: the arguments (keys, literals) its feed reads.
    parts: Arc<[Vec<Arg>]>,
    feed: Feed<T>,
    /// The same elements lent as `&str`, for bags of strings whose source
    /// and steps can lend them (see [`feed::Lent`]).
    lent: Option<Lent>,
    /// The feed as a serializable description, when every operation in it
    /// is registered (see [`crate::recipe`]).
    recipe: Option<Arc<Recipe>>,
    source: Source,
    split_every: usize,
    /// The layer storing the partitions under `(name, i)`, built once.
    stored_layer: Arc<OnceLock<Arc<Layer>>>,
    marker: PhantomData<fn() -> T>,
}

/// Where a bag's partitions are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The graph has them under `(name, i)`; each partition's only argument
    /// is its key and the feed clones its elements.
    Stored,
    /// Each partition's only argument is a key of another name holding a
    /// `Vec<T>` (a delayed value), and the feed clones its elements: stored
    /// by aliases.
    Aliased,
    /// The feed makes the elements; storing them runs it.
    Fed,
}

impl<T> Bag<T> {
    /// The number of partitions.
    pub fn npartitions(&self) -> usize {
        self.parts.len()
    }

    /// The name of the bag: its stored partitions are the keys
    /// `(name, 0)`, `(name, 1)`, …
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The keys of the stored partitions.
    pub fn keys(&self) -> Vec<Key> {
        (0..self.npartitions())
            .map(|i| Key::from((self.name.clone(), i as u32)))
            .collect()
    }

    /// The graph built so far, without the tasks that store the partitions
    /// (those are added by [`Collection::graph`]).
    pub fn graph_ref(&self) -> &Graph {
        &self.graph
    }

    /// The same bag, combining `n` partial results per task in its later
    /// reductions (Dask's `split_every`; default [`DEFAULT_SPLIT_EVERY`]).
    /// Fewer, larger combining steps with a larger `n`; `n` below 2 is
    /// taken as 2.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::collection::Collection;
    ///
    /// let bag = Bag::range(100, 16)?;
    /// // 16 partial counts, combined 8 at a time: 2 combining tasks, then the total.
    /// assert_eq!(bag.count().graph()?.len(), 16 + 2 + 1);
    /// // Combined 4 at a time: 4 combining tasks, then the total of their 4.
    /// assert_eq!(bag.split_every(4).count().graph()?.len(), 16 + 4 + 1);
    /// // 2 at a time: 8, 4, 2, then the total.
    /// assert_eq!(bag.split_every(2).count().graph()?.len(), 16 + 8 + 4 + 2 + 1);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn split_every(&self, n: usize) -> Bag<T> {
        Bag {
            split_every: n.max(2),
            ..self.clone()
        }
    }

    fn problem_error(&self) -> Option<Error> {
        self.problem.as_ref().map(|problem| {
            Error::new(
                ErrorKind::KeyConflict,
                format!("the graph of bag {} is inconsistent: {problem}", self.name),
            )
        })
    }
}

impl<T: Element> Bag<T> {
    /// A bag whose partitions are stored in `graph` under `(name, i)` for
    /// `i < npartitions`.
    fn stored(graph: Graph, problem: Option<Arc<str>>, name: Arc<str>, npartitions: usize) -> Self {
        let parts: Vec<Vec<Arg>> = (0..npartitions)
            .map(|i| vec![key((name.clone(), i as u32))])
            .collect();
        Bag {
            graph,
            problem,
            name,
            label: Arc::from(""),
            parts: parts.into(),
            feed: stored_feed(0),
            lent: stored_lent::<T>(0),
            recipe: Recipe::stored::<T>(),
            source: Source::Stored,
            split_every: DEFAULT_SPLIT_EVERY,
            stored_layer: Arc::default(),
            marker: PhantomData,
        }
    }

    /// A bag whose partitions come from `feed` (described by `recipe`, if
    /// registered), reading `parts[i]`; [`Bag::lending`] adds a lent feed.
    fn fed(
        graph: Graph,
        problem: Option<Arc<str>>,
        name: Arc<str>,
        label: &str,
        parts: Vec<Vec<Arg>>,
        (feed, recipe): (Feed<T>, Option<Arc<Recipe>>),
    ) -> Self {
        Bag {
            graph,
            problem,
            name,
            label: Arc::from(label),
            parts: parts.into(),
            feed,
            lent: None,
            recipe,
            source: Source::Fed,
            split_every: DEFAULT_SPLIT_EVERY,
            stored_layer: Arc::default(),
            marker: PhantomData,
        }
    }

    /// A new bag over the same partitions with `feed` in place of this
    /// one's, after operation `op`: a closure's (unregistered).
    fn derive<U: Element>(&self, op: &str, name: Arc<str>, feed: Feed<U>) -> Bag<U> {
        self.derive_step(op, name, feed, None)
    }

    /// The same bag with `lent` as its elements lent (they must be the
    /// feed's elements, in order).
    fn lending(self, lent: Option<Lent>) -> Self {
        Bag { lent, ..self }
    }

    /// [`Bag::derive`] for an operation that a recipe `step` describes
    /// (when this bag has a recipe and `U` is a registered element type).
    fn derive_step<U: Element>(
        &self,
        op: &str,
        name: Arc<str>,
        feed: Feed<U>,
        step: Option<Step>,
    ) -> Bag<U> {
        let recipe = match (&self.recipe, step) {
            (Some(recipe), Some(step)) if recipe::ElemType::of::<U>().is_some() => {
                Some(recipe.then(step))
            }
            _ => None,
        };
        let label = if self.label.is_empty() {
            Arc::from(op)
        } else {
            Arc::from(format!("{}-{op}", self.label))
        };
        Bag {
            graph: self.graph.clone(),
            problem: self.problem.clone(),
            name,
            label,
            parts: self.parts.clone(),
            feed,
            lent: None,
            recipe,
            source: Source::Fed,
            split_every: self.split_every,
            stored_layer: Arc::default(),
            marker: PhantomData,
        }
    }

    /// The task name of a whole-partition step `what` after this bag's
    /// element-wise operations (`map-filter-count`).
    fn step_name(&self, what: &str) -> String {
        if self.label.is_empty() {
            what.to_string()
        } else {
            format!("{}-{what}", self.label)
        }
    }

    /// One task per partition under `(layer_name, i)`, each running the feed
    /// into `consume` (a closure: not registered).
    fn partition_layer<R: Send + Sync + 'static>(
        &self,
        layer_name: &Arc<str>,
        what: &str,
        consume: Consume<T, R>,
    ) -> Layer {
        self.partition_layer_with(layer_name, what, None, consume, Value::new)
    }

    /// [`Bag::partition_layer`], making each result a value with `to_value`
    /// (to tell the store its size). With an `end` that this bag's recipe
    /// and element type have registered, the tasks carry the registered
    /// name and parameters; otherwise a name made of the operations
    /// (`map-filter-count`).
    fn partition_layer_with<R: Send + Sync + 'static>(
        &self,
        layer_name: &Arc<str>,
        what: &str,
        end: Option<End>,
        consume: Consume<T, R>,
        to_value: fn(R) -> Value,
    ) -> Layer {
        let (name, params) =
            match registered::partition_naming::<T>(self.recipe.as_deref(), end.as_ref()) {
                Some((name, params)) => (name, Some(params)),
                None => (Arc::from(self.step_name(what)), None),
            };
        let feeds = (self.feed.clone(), self.lent.clone());
        let func = partition_func(name, params, feeds, consume, to_value);
        let mut layer = Layer::with_capacity(layer_name.clone(), self.npartitions());
        for (i, args) in self.parts.iter().enumerate() {
            let mut call_args = Vec::with_capacity(args.len() + 1);
            call_args.push(lit(i as u32));
            call_args.extend(args.iter().cloned());
            // Keys are unique by construction: `(layer_name, i)` for distinct i.
            let inserted = layer.insert(
                Key::from((layer_name.clone(), i as u32)),
                Task::call(&func, call_args),
            );
            debug_assert!(inserted.is_ok());
        }
        layer
    }

    /// The layer storing each partition's elements under `(name, i)`; none
    /// when the graph already has them.
    fn storing_layer(&self) -> Option<Arc<Layer>> {
        if self.source == Source::Stored {
            return None;
        }
        let layer = self.stored_layer.get_or_init(|| {
            let layer = match self.source {
                Source::Aliased => {
                    let mut layer = Layer::with_capacity(self.name.clone(), self.npartitions());
                    for (i, args) in self.parts.iter().enumerate() {
                        if let Some(Arg::Key(source)) = args.first() {
                            let inserted = layer.insert(
                                Key::from((self.name.clone(), i as u32)),
                                Task::alias(source.clone()),
                            );
                            debug_assert!(inserted.is_ok());
                        }
                    }
                    layer
                }
                _ => self.partition_layer_with(
                    &self.name,
                    "store",
                    Some(End::Store),
                    registered::store::<T>(),
                    |value| value,
                ),
            };
            Arc::new(layer)
        });
        Some(layer.clone())
    }

    /// The graph with the partitions stored under [`Bag::keys`], or the
    /// problem met while building it.
    fn stored_graph(&self) -> Result<Graph> {
        if let Some(error) = self.problem_error() {
            return Err(error);
        }
        let mut graph = self.graph.clone();
        if let Some(layer) = self.storing_layer() {
            graph.add_layer(layer)?;
        }
        Ok(graph)
    }

    /// The same bag, read from its stored partitions: what operations that
    /// need whole partitions (zip, repartition, shuffles) start from.
    fn to_stored(&self) -> Bag<T> {
        if self.source == Source::Stored {
            return self.clone();
        }
        match self.stored_graph() {
            Ok(graph) => Bag {
                split_every: self.split_every,
                ..Bag::stored(graph, None, self.name.clone(), self.npartitions())
            },
            Err(error) => Bag {
                split_every: self.split_every,
                ..Bag::stored(
                    self.graph.clone(),
                    Some(Arc::from(error.message())),
                    self.name.clone(),
                    self.npartitions(),
                )
            },
        }
    }

    /// One delayed value per partition (Dask's `to_delayed`), to hand
    /// partitions to functions of your own.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let parts = Bag::from_sequence(0..6u32, 2)?.map(|x| x + 1).to_delayed();
    /// let options = Options::new().scheduler("sync");
    /// assert_eq!(compute_with(parts, &options)?, vec![vec![1, 2, 3], vec![4, 5, 6]]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn to_delayed(&self) -> Vec<Delayed<Vec<T>>> {
        let stored = self.to_stored();
        stored
            .keys()
            .into_iter()
            .map(|key| Delayed::from_graph(stored.graph.clone(), key, stored.problem.clone()))
            .collect()
    }
}

impl<T> Clone for Bag<T> {
    fn clone(&self) -> Self {
        Bag {
            graph: self.graph.clone(),
            problem: self.problem.clone(),
            name: self.name.clone(),
            label: self.label.clone(),
            parts: self.parts.clone(),
            feed: self.feed.clone(),
            lent: self.lent.clone(),
            recipe: self.recipe.clone(),
            source: self.source,
            split_every: self.split_every,
            stored_layer: self.stored_layer.clone(),
            marker: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Bag<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Bag<{}>({}, {} partitions",
            std::any::type_name::<T>(),
            self.name,
            self.npartitions()
        )?;
        if !self.label.is_empty() {
            write!(f, ", pending {}", self.label)?;
        }
        write!(f, ", {} tasks)", self.graph.len())
    }
}

/// Computing a bag gives all its elements, partition after partition.
impl<T: Element> Collection for Bag<T> {
    type Output = Vec<T>;

    fn graph(&self) -> Result<Graph> {
        self.stored_graph()
    }

    fn output_keys(&self) -> Vec<Key> {
        self.keys()
    }

    fn finalize(&self, values: Vec<Value>) -> Result<Vec<T>> {
        let mut out = Vec::new();
        for (i, value) in values.into_iter().enumerate() {
            let part = value.take_or_clone::<Vec<T>>().map_err(|e| {
                Error::new(
                    e.kind(),
                    format!("partition {i} of bag {}: {}", self.name, e.message()),
                )
            })?;
            if out.is_empty() {
                out = part;
            } else {
                out.extend(part);
            }
        }
        Ok(out)
    }

    fn default_scheduler(&self) -> Option<&str> {
        Some("threads")
    }
}

/// [`barrow_core::persist`] gives a bag whose graph holds the computed
/// partitions themselves; operations on it start from them.
impl<T: Element> Persist for Bag<T> {
    fn with_results(&self, graph: Graph) -> Bag<T> {
        Bag {
            split_every: self.split_every,
            ..Bag::stored(graph, None, self.name.clone(), self.npartitions())
        }
    }
}

/// Makes sure this crate is linked into a program that names none of its
/// items (the generic `barrow worker`), so that its registered functions
/// and codecs reach the registry.
pub fn link() {}
