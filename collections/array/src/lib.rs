//! Chunked n-dimensional arrays (Dask's `dask.array`) on [`ndarray`]:
//! arrays larger than memory cut into chunks, each chunk a task.
//!
//! ```
//! use barrow_array::Array;
//! use barrow_core::compute;
//! # barrow_local::link();
//!
//! let x = Array::<i64>::arange(0, 100, 1, 10)?;
//! assert_eq!(x.chunks().to_string(), "((10, 10, 10, 10, 10, 10, 10, 10, 10, 10),)");
//! assert_eq!(x.sum().compute()?, 4950);
//!
//! // Two results from one graph: `y`'s blocks run once for both.
//! let y = &x + 1;
//! assert_eq!(compute((y.sum(), y.mean()))?, (5050, 50.5));
//! # Ok::<(), barrow_core::Error>(())
//! ```
//!
//! # Chunks
//!
//! An array's [`Chunks`] are its block sizes along each axis, Dask's tuple
//! of tuples. Creation functions take a [`ChunkSpec`]: one size for every
//! axis (`1000`), one per axis (`[1000, 500]`), the whole axis
//! ([`AxisChunks::Full`], Dask's `-1`), explicit sizes, or
//! [`ChunkSpec::Auto`], which picks chunks near `array.chunk-size` (default
//! 128 MiB, from the configuration) as Dask's `"auto"` does. Chunks of
//! 10–500 MB and no more than a few hundred thousand tasks keep the
//! scheduler's overhead small; `array.info()` shows the figures.
//!
//! # Blocks and fusion
//!
//! Each block is a [`Block`]: dense data, or one value repeated (`ones`,
//! `zeros`, `full`), which costs one element of memory and reduces in
//! closed form. Element-wise operations run one task per block; before a
//! graph runs, chains of them are fused into one task per block (`(x + 1) *
//! 2` is one task), and a fused step writes into the block the previous
//! step made instead of allocating another.
//!
//! # Schedulers
//!
//! Arrays compute on any scheduler; the default is `threads`.
#![deny(missing_docs, missing_debug_implementations)]

mod array;
mod block;
mod blockwise;
mod chunks;
mod create;
mod display;
mod dtype;
mod elementwise;
pub mod error;
pub mod io;
mod kernel;
#[cfg(feature = "linalg")]
#[cfg_attr(docsrs, doc(cfg(feature = "linalg")))]
pub mod linalg;
mod math;
mod ops;
pub mod random;
mod rechunk;
mod reduce;
mod shape;
mod ship;
mod size;
mod slice;
mod warn;

pub use crate::array::Array;
pub use crate::block::Block;
pub use crate::blockwise::blockwise;
pub use crate::chunks::{
    AxisChunks, ChunkSpec, Chunks, DEFAULT_CHUNK_SIZE_BYTES, DEFAULT_CHUNK_SIZE_TOLERANCE,
    auto_chunks, blockdims_from_blockshape, normalize_chunks,
};
pub use crate::display::ArrayInfo;
pub use crate::dtype::{CastTo, DType, Element, Float, Number, Scalar};
pub use crate::elementwise::{Operand, where_};
pub use crate::error::ArrayError;
pub use crate::rechunk::{
    DEFAULT_RECHUNK_THRESHOLD, Piece, balance_axis, balance_chunks, intersect_chunks,
    normalize_rechunk_target, old_to_new, plan_rechunk,
};
pub use crate::reduce::{Axes, DEFAULT_SPLIT_EVERY};
pub use crate::shape::{concatenate, stack};

impl<T: Element> Array<T> {
    /// Computes the array on the scheduler the configuration names
    /// (`threads` by default).
    pub fn compute(&self) -> barrow_core::Result<ndarray::ArrayD<T>> {
        barrow_core::compute(self)
    }
}

/// Makes sure this crate is linked into a program that names none of its
/// items (the generic `barrow worker`), so that its registered functions
/// and codecs reach the registry.
pub fn link() {}
