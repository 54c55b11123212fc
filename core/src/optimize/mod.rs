//! Graph optimizations: `cull`, `fuse` of linear chains, `inline` of
//! constants and of cheap functions. Ordering lives in [`crate::order`].

mod cull;
mod fuse;
mod inline;

pub use cull::cull;
pub use fuse::{MAX_FUSED_CHAIN, fuse_linear};
pub use inline::{inline, inline_functions};

use crate::error::Result;
use crate::graph::Graph;
use crate::key::Key;

/// The default optimizations before a run: keep only what `keys` need, then
/// fuse linear chains (one task per chain instead of one per step).
pub fn optimize(graph: &Graph, keys: &[Key]) -> Result<Graph> {
    let culled = cull(graph, keys)?;
    fuse_linear(&culled, keys)
}
