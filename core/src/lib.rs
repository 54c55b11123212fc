//! Barrow's core model: keys, tasks, graphs, values, functions, registries,
//! and the traits every scheduler and collection builds on.
//!
//! Dask's `{'a': 1, 'b': 2, 'c': (add, 'a', 'b'), 'd': (sum, ['a', 'b', 'c'])}`:
//!
//! ```
//! use barrow_core::arg::{key, keys};
//! use barrow_core::function::List;
//! use barrow_core::{Func, Graph, Key, Task, reference};
//!
//! let add = Func::new("add", |a: &i64, b: &i64| a + b);
//! let sum = Func::new("sum", |xs: List<i64>| xs.iter().sum::<i64>());
//! let graph = Graph::from_tasks([
//!     ("a", Task::literal(1i64)),
//!     ("b", Task::literal(2i64)),
//!     ("c", Task::call(&add, [key("a"), key("b")])),
//!     ("d", Task::call(&sum, [keys(["a", "b", "c"])])),
//! ])?;
//!
//! let out = reference::get(&graph, &[Key::new("c"), Key::new("d")])?;
//! assert_eq!(*out[0].downcast_ref::<i64>()?, 3);
//! assert_eq!(*out[1].downcast_ref::<i64>()?, 6);
//! # Ok::<(), barrow_core::Error>(())
//! ```
//!
//! `barrow-core` runs nothing in parallel itself: schedulers live in their
//! own crates (`barrow-local` for `sync` and `threads`) and register
//! themselves by name, and [`compute`] picks one. [`reference::get`] is the
//! plain, single-threaded yardstick used above and in tests.
//!
//! The pieces:
//! - [`Key`], [`Value`], [`Task`], [`Graph`]: the model; [`tokenize`] names
//!   what produced a result.
//! - [`Func`] and the [`function`] module: typed task functions and the
//!   registry that finds them by name.
//! - [`plan`] lowers a graph to integer ids; [`order`] gives priorities;
//!   [`optimize`] culls, fuses and inlines.
//! - [`Scheduler`], [`store::Store`], [`codec::Codec`],
//!   [`collection::Collection`], [`callback::Callback`]: the traits the
//!   other crates implement.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs, missing_debug_implementations)]

pub mod callback;
pub mod codec;
pub mod collection;
pub mod error;
pub mod execute;
pub mod function;
pub mod graph;
pub mod hooks;
pub mod inspect;
pub mod key;
pub mod memory;
pub mod optimize;
pub mod options;
pub mod order;
pub mod plan;
pub mod reference;
pub mod registry;
pub mod scheduler;
mod scoped_scheduler;
pub mod store;
mod suggest;
pub mod task;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
pub mod tokenize;
pub mod value;

/// Barrow's layered configuration (the `barrow-config` crate).
pub use barrow_config as config;
pub use collection::{Collection, Persist, compute, compute_with, persist, persist_with};
pub use error::{Error, ErrorKind, Result};
pub use function::Func;
pub use graph::{Graph, Layer};
pub use key::{Key, KeyMap, KeySet};
pub use options::Options;
pub use registry::Registry;
pub use scheduler::{RunContext, Scheduler};
pub use scoped_scheduler::{SchedulerGuard, scoped_scheduler, use_scheduler};
pub use task::{Annotations, Arg, Task, arg};
pub use value::Value;

/// Registers a function at compile time under `module::path::name`, so
/// that every process running this program finds it by that name.
///
/// The function keeps working as a plain Rust function; next to it, a
/// module of the same name holds `NAME` (the registered name) and `func()`
/// (a [`Func`] handle to put in tasks). A function returning `Result` fails
/// its task with the error. `#[task(name = "custom.name")]` picks the name.
///
/// Put it on functions at module level (not inside another function's body:
/// the generated module refers to the function through `super`).
///
/// ```
/// use barrow_core::arg::lit;
/// use barrow_core::{Graph, Key, Registry, Task, reference};
///
/// /// Adds one.
/// #[barrow_core::task]
/// pub fn inc(x: &i64) -> i64 {
///     x + 1
/// }
///
/// /// Parses a number.
/// #[barrow_core::task(name = "example.parse")]
/// fn parse(text: &String) -> Result<i64, std::num::ParseIntError> {
///     text.parse()
/// }
///
/// # fn main() -> barrow_core::Result<()> {
/// assert_eq!(inc(&1), 2);
/// assert!(inc::NAME.ends_with("::inc"));
/// assert_eq!(parse::NAME, "example.parse");
///
/// // Found by name in the process-wide registry.
/// let f = Registry::global().functions().get(inc::NAME)?;
/// let graph = Graph::from_tasks([("y", Task::call(&f, [lit(41i64)]))])?;
/// let y = reference::get(&graph, &[Key::new("y")])?;
/// assert_eq!(*y[0].downcast_ref::<i64>()?, 42);
/// # Ok(())
/// # }
/// ```
pub use barrow_macros::core_task as task;

/// Items the macros refer to; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::codec::StaticCodec;
    pub use crate::function::{Func, StaticFunction};
    pub use inventory;
}
