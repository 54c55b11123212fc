//! Functions of whole blocks: `map_blocks`.

use std::marker::PhantomData;

use barrow_core::{Func, Result};
use barrow_delayed::unique_name;
use ndarray::{ArrayD, ArrayViewD};

use crate::array::Array;
use crate::chunks::Chunks;
use crate::dtype::Element;
use crate::elementwise::elementwise;
use crate::kernel::{BlockFn, Signature};

impl<T: Element> Array<T> {
    /// `f` applied to every block (Dask's `map_blocks`); `f` must return a
    /// block of the same shape as its input. Use
    /// [`Array::map_blocks_with_chunks`] when it returns another shape.
    ///
    /// ```
    /// use barrow_array::Array;
    /// # barrow_local::link();
    ///
    /// let x = Array::<f64>::ones(&[4, 4], 2)?;
    /// // A contiguous copy of every block (no closed-form shortcut left).
    /// let dense = x.map_blocks(|block| Ok(block.as_standard_layout().into_owned()));
    /// assert_eq!(dense.sum().compute()?, 16.0);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn map_blocks<U: Element, F>(&self, f: F) -> Array<U>
    where
        F: Fn(ArrayViewD<'_, T>) -> Result<ArrayD<U>> + Send + Sync + 'static,
    {
        self.map_blocks_with_chunks((*self.chunks).clone(), f)
    }

    /// `f` applied to every block, giving blocks shaped by `chunks` (which
    /// must have the same number of blocks along each axis as this array).
    pub fn map_blocks_with_chunks<U: Element, F>(&self, chunks: Chunks, f: F) -> Array<U>
    where
        F: Fn(ArrayViewD<'_, T>) -> Result<ArrayD<U>> + Send + Sync + 'static,
    {
        if chunks.numblocks() != self.chunks.numblocks() {
            return Array::failed(
                crate::error::invalid(format!(
                    "map_blocks: chunks {chunks} have {:?} blocks per axis but the array has {:?}; \
                     give one block size per input block",
                    chunks.numblocks(),
                    self.chunks.numblocks()
                )),
                chunks,
            );
        }
        let name = unique_name("map_blocks");
        let function = Func::from_function(BlockFn {
            sig: Signature {
                name: "map_blocks".into(),
                params: Some(name.clone().into_bytes()),
            },
            f,
            marker: PhantomData,
        });
        let mut out: Array<U> = elementwise(
            "map_blocks",
            None,
            &[self.side()],
            vec![self.problem.clone()],
            function,
        );
        out.chunks = std::sync::Arc::new(chunks);
        out
    }
}
