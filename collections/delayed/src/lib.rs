//! Lazy function calls (Dask's `dask.delayed`): call functions on lazy
//! handles to build a task graph, then compute it on any scheduler.
//!
//! ```
//! use barrow_core::{Options, compute_with};
//! use barrow_delayed::{Delayed, delayed};
//! # barrow_local::link();
//!
//! let inc = delayed("inc", |x: &i64| x + 1);
//! let add = delayed("add", |a: &i64, b: &i64| a + b);
//!
//! let x = Delayed::value(1i64);
//! let y = inc.call(&x); // nothing runs yet
//! let z = add.call(&y, 10); // plain values and handles mix
//! assert!(z.key().name().starts_with("add-"));
//!
//! // The same call again names the same task (Dask's `pure=True`) ...
//! assert_eq!(inc.call(&x).key(), y.key());
//!
//! // ... so computing several handles together runs shared work once.
//! let options = Options::new().scheduler("sync");
//! let (y, z) = compute_with((&y, &z), &options)?;
//! assert_eq!((y, z), (2, 12));
//! # Ok::<(), barrow_core::Error>(())
//! ```
//!
//! # Handles and keys
//!
//! A [`Delayed<T>`] is a graph plus the key of one output of type `T`. Its
//! graph is a list of shared layers ([`barrow_core::Layer`], one per call),
//! so building a call clones pointers, not tasks, and an intermediate shared
//! by several handles appears once in their merged graph.
//!
//! Keys are deterministic by default (Dask's `pure=True`):
//! `name-token`, where the token hashes the function's name (and partial
//! parameters) with the arguments' tokens: a plain argument's content (it
//! must implement [`Tokenize`](barrow_core::tokenize::Tokenize)) and a
//! delayed argument's key. The same function on the same arguments gives the
//! same key in every run and every process, so repeated calls share their
//! work. [`DelayedFn::pure`]`(false)` and [`Delayed::unique_value`] give
//! unique keys instead (a process-wide counter salted with a random number
//! drawn once per process), for impure functions and for values that cannot
//! be tokenized. The function's name identifies it in keys: give different
//! functions different names.
//!
//! # Computing
//!
//! `Delayed<T>` is a [`Collection`] with `Output = T` (for `T: Clone`): pass
//! it, a reference to it, a tuple or a `Vec` of them to
//! [`barrow_core::compute`]. The result is moved out of the scheduler's
//! value when no one else holds it and cloned otherwise (a persisted
//! handle keeps its value). For outputs that are not `Clone`,
//! [`Delayed::to_graph_keys`] gives the raw [`Value`].
//!
//! The default scheduler is `threads`. Dask's delayed also defaults to
//! threads, while its bags default to processes because Python's global
//! interpreter lock serializes pure-Python tasks. Rust has no such lock:
//! threads run Rust tasks in parallel, without serializing values, so a
//! process pool buys nothing on one machine but isolation. A scheduler named
//! in the call's [`Options`](barrow_core::Options) or in the configuration
//! wins over this default.
//!
//! # Errors
//!
//! Building a call never fails: a problem met while merging graphs (two
//! different tasks under one key) is kept and reported when the handle is
//! computed. A task that fails or panics fails the computation with an
//! [`Error`] naming its key and function.
#![deny(missing_docs, missing_debug_implementations)]

mod call;
mod graph;

use std::fmt;
use std::marker::PhantomData;

use barrow_core::collection::{Collection, GraphKeys, Persist};
use barrow_core::function::List;
use barrow_core::tokenize::{Tokenize, token_name};
use barrow_core::{Error, ErrorKind, Func, Graph, Key, Result, Task, Value};

pub use call::{
    DelayedArg, DelayedFn, IntoArg, IntoDelayed, IntoDelayedTry, Many, Param, delayed, delayed_try,
};

pub use crate::graph::unique_name;
use crate::graph::{Built, unique_key};

/// A lazy value of type `T`: the graph that computes it and its key.
///
/// Cheap to clone (a key and a list of shared layers). `T` is only a marker:
/// a handle is `Send` and `Sync` whatever `T` is.
pub struct Delayed<T> {
    built: Built,
    key: Key,
    marker: PhantomData<fn() -> T>,
}

impl<T> Delayed<T> {
    fn from_parts(built: Built, key: Key) -> Delayed<T> {
        Delayed {
            built,
            key,
            marker: PhantomData,
        }
    }

    /// A handle to the value of `key` in `graph`, for collections that build
    /// their own graphs (a bag's `count()`, say) and hand out their results
    /// as delayed values. `problem` is a graph-building error to report when
    /// the handle is computed, as calls do.
    ///
    /// The caller promises that the value under `key` is a `T`; if it is
    /// not, computing the handle fails with a wrong-type error.
    ///
    /// ```
    /// use barrow_core::{Graph, Key, Options, Task, compute_with};
    /// use barrow_delayed::Delayed;
    /// # barrow_local::link();
    ///
    /// let graph = Graph::from_tasks([("answer", Task::literal(42u8))])?;
    /// let answer = Delayed::<u8>::from_graph(graph, Key::new("answer"), None);
    /// assert_eq!(compute_with(&answer, &Options::new().scheduler("sync"))?, 42);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn from_graph(graph: Graph, key: Key, problem: Option<std::sync::Arc<str>>) -> Delayed<T> {
        Delayed::from_parts(Built { graph, problem }, key)
    }

    /// The key of the output.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The graph that computes the output. A problem met while building it
    /// is reported by `compute`, not here.
    pub fn graph_ref(&self) -> &Graph {
        &self.built.graph
    }

    fn built(&self) -> &Built {
        &self.built
    }

    /// The graph and the output key as a [`GraphKeys`], whose result is the
    /// raw [`Value`]: the way to compute a handle whose `T` is not `Clone`.
    ///
    /// ```
    /// use barrow_core::{Options, compute_with};
    /// use barrow_delayed::Delayed;
    /// # barrow_local::link();
    ///
    /// struct Opaque(u8);
    /// let x = Delayed::unique_value(Opaque(7));
    /// let values = compute_with(x.to_graph_keys()?, &Options::new().scheduler("sync"))?;
    /// assert_eq!(values[0].downcast_ref::<Opaque>()?.0, 7);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn to_graph_keys(&self) -> Result<GraphKeys> {
        Ok(GraphKeys::new(self.checked_graph()?, [self.key.clone()]))
    }

    /// The graph, or the problem met while building it.
    fn checked_graph(&self) -> Result<Graph> {
        match &self.built.problem {
            None => Ok(self.built.graph.clone()),
            Some(problem) => Err(Error::new(
                ErrorKind::KeyConflict,
                format!(
                    "the graph of delayed value {} is inconsistent: {problem}",
                    self.key
                ),
            )),
        }
    }

    /// A handle to the value of `self`'s key under a new, unique key
    /// (an alias task), as Dask does when a delayed call is given a fresh
    /// name.
    fn alias_unique(&self, prefix: &str) -> Delayed<T> {
        let key = unique_key(prefix);
        let mut built = self.built.clone();
        built.push(prefix, key.clone(), Task::alias(self.key.clone()));
        Delayed::from_parts(built, key)
    }
}

impl<T: Send + Sync + 'static> Delayed<T> {
    /// Wraps a plain value (Dask's `delayed(1)`). Its key is
    /// `literal-<token of the value>`, so equal values share a key.
    pub fn value(data: T) -> Delayed<T>
    where
        T: Tokenize,
    {
        let key = Key::new(token_name("literal", &data));
        let mut built = Built::default();
        built.push("literal", key.clone(), Task::literal(data));
        Delayed::from_parts(built, key)
    }

    /// Wraps a plain value under a unique key, for values that do not
    /// implement [`Tokenize`] (Dask falls back to a random token for
    /// objects it cannot hash).
    pub fn unique_value(data: T) -> Delayed<T> {
        let key = unique_key("literal");
        let mut built = Built::default();
        built.push("literal", key.clone(), Task::literal(data));
        Delayed::from_parts(built, key)
    }

    /// The same value under a unique key: later calls on the result get
    /// keys of their own, so they are not shared with calls on `self`
    /// (Dask's `pure=False` for one value).
    pub fn unique(&self) -> Delayed<T> {
        self.alias_unique("alias")
    }
}

impl<T: Clone + Send + Sync + 'static> Delayed<Vec<T>> {
    /// One handle to the list of several handles' values (Dask's
    /// `delayed(list_of_delayed)`). Elements are cloned into the list.
    ///
    /// ```
    /// use barrow_core::{Options, compute_with};
    /// use barrow_delayed::{Delayed, delayed};
    /// # barrow_local::link();
    ///
    /// let square = delayed("square", |x: &i64| x * x);
    /// let squares: Vec<_> = (1..=3i64).map(|i| square.call(i)).collect();
    /// let all = Delayed::list(squares);
    /// assert_eq!(compute_with(&all, &Options::new().scheduler("sync"))?, vec![1, 4, 9]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn list(items: impl IntoIterator<Item = Delayed<T>>) -> Delayed<Vec<T>> {
        let items: Vec<Delayed<T>> = items.into_iter().collect();
        let collect = Func::new("list", |xs: List<T>| xs.iter().cloned().collect::<Vec<T>>());
        DelayedFn::<(Many<T>,), Vec<T>>::from_func(collect).call(items)
    }
}

macro_rules! impl_split {
    ($tuple:ty; $($name:ident $index:tt),+) => {
        impl<$($name: Clone + Send + Sync + 'static),+> Delayed<$tuple> {
            /// One handle per element of the tuple (Dask's `nout`): each is a
            /// task picking (cloning) its element, keyed
            /// `getitem-<token of the tuple's key and the index>`.
            pub fn split(&self) -> ($(Delayed<$name>,)+) {
                ($({
                    let pick = Func::new("getitem", |t: &$tuple| t.$index.clone());
                    let key = Key::new(token_name("getitem", &(self.key(), $index as u32)));
                    let mut built = self.built.clone();
                    let task = Task::call(&pick, [barrow_core::arg::key(self.key.clone())]);
                    built.push("getitem", key.clone(), task);
                    Delayed::<$name>::from_parts(built, key)
                },)+)
            }
        }
    };
}
impl_split!((A, B); A 0, B 1);
impl_split!((A, B, C); A 0, B 1, C 2);
impl_split!((A, B, C, D); A 0, B 1, C 2, D 3);

impl<T> Clone for Delayed<T> {
    fn clone(&self) -> Self {
        Delayed::from_parts(self.built.clone(), self.key.clone())
    }
}

impl<T> fmt::Debug for Delayed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Delayed<{}>({}, {} tasks)",
            std::any::type_name::<T>(),
            self.key,
            self.built.graph.len()
        )
    }
}

/// Computing a handle gives its value: moved out when the scheduler's value
/// is not shared, cloned when it is.
impl<T: Clone + Send + Sync + 'static> Delayed<T> {
    /// Computes the value on the scheduler the configuration names (the
    /// same as [`barrow_core::compute`]`(&self)`).
    ///
    /// ```
    /// use barrow_delayed::{Delayed, delayed};
    /// # barrow_local::link();
    ///
    /// let double = delayed("double", |x: &i64| x * 2);
    /// assert_eq!(double.call(Delayed::value(21i64)).compute()?, 42);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn compute(&self) -> Result<T> {
        barrow_core::compute(self)
    }
}

impl<T: Clone + Send + Sync + 'static> Collection for Delayed<T> {
    type Output = T;

    fn graph(&self) -> Result<Graph> {
        self.checked_graph()
    }

    fn output_keys(&self) -> Vec<Key> {
        vec![self.key.clone()]
    }

    fn finalize(&self, values: Vec<Value>) -> Result<T> {
        let [value] = <[Value; 1]>::try_from(values).map_err(|values| {
            Error::internal(format!(
                "delayed value {} expected one result, got {}",
                self.key,
                values.len()
            ))
        })?;
        value.take_or_clone::<T>().map_err(|e| {
            Error::new(
                e.kind(),
                format!("delayed value {}: {}", self.key, e.message()),
            )
            .with_key(self.key.clone())
        })
    }

    fn default_scheduler(&self) -> Option<&str> {
        Some("threads")
    }
}

/// [`barrow_core::persist`] gives a handle whose graph holds the computed
/// value itself under the same key; calls on it start from that value.
impl<T: Clone + Send + Sync + 'static> Persist for Delayed<T> {
    fn with_results(&self, graph: Graph) -> Delayed<T> {
        Delayed::from_parts(
            Built {
                graph,
                problem: None,
            },
            self.key.clone(),
        )
    }
}

/// Makes sure this crate is linked into a program that names none of its
/// items (the generic `barrow worker`), so that its registered functions
/// and codecs reach the registry.
pub fn link() {}
