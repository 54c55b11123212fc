//! Graph optimizations: `cull`, Dask's width-aware `fuse` (and `fuse` of
//! linear chains), `inline` of constants and of cheap functions. Ordering
//! lives in [`crate::order`].

mod cull;
mod fuse;
mod inline;

pub use cull::cull;
pub use fuse::{
    FuseOptions, KeyRenamer, MAX_FUSED_CHAIN, MAX_FUSED_KEY_LENGTH, SUBGRAPH_FUNCTION, Subgraph,
    default_fused_keys_renamer, fuse, fuse_linear, fuse_linear_with, fuse_with,
};
pub use inline::{inline, inline_functions};

use crate::error::Result;
use crate::graph::Graph;
use crate::key::Key;
use crate::plan::Dependencies;

/// The default optimizations before a run, with the default
/// [`FuseOptions`]: see [`optimize_with`].
pub fn optimize(graph: &Graph, keys: &[Key]) -> Result<Graph> {
    optimize_with(graph, keys, &FuseOptions::default())
}

/// The optimizations [`compute`](crate::compute) makes before a run (Dask's
/// `cull` then `fuse`, as its `processes` scheduler does): checks the graph
/// first — every key and dependency exists, no cycle — so errors name the
/// keys as written; keeps only what `keys` need; then fuses as `options`
/// say (nothing when [`FuseOptions::active`] is false).
///
/// ```
/// use barrow_core::arg::key;
/// use barrow_core::optimize::{FuseOptions, optimize_with};
/// use barrow_core::{ErrorKind, Func, Graph, Key, Task};
///
/// let inc = Func::new("inc", |x: &i64| x + 1);
/// // a needs b and b needs a: fusing first would hide b.
/// let graph = Graph::from_tasks([
///     ("a", Task::call(&inc, [key("b")])),
///     ("b", Task::call(&inc, [key("a")])),
/// ])?;
/// let err = optimize_with(&graph, &[Key::new("a")], &FuseOptions::new()).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Cycle);
/// // Shown the way results flow: b feeds a, which feeds b.
/// assert!(err.to_string().contains("b -> a -> b"), "{err}");
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub fn optimize_with(graph: &Graph, keys: &[Key], options: &FuseOptions) -> Result<Graph> {
    let dependencies = Dependencies::of(graph, Some(keys))?;
    fuse_with(&dependencies, keys, options)
}
