//! Cumulative sums along an axis: each block's own running sum, plus the
//! totals of the blocks before it, carried along the axis.

use std::sync::Arc;

use barrow_core::arg::key;
use barrow_core::tokenize::token_name;
use barrow_core::{Func, Result, Task};
use ndarray::{ArrayD, Axis};

use crate::array::{Array, block_key};
use crate::block::Block;
use crate::dtype::{DType, Number};
use crate::kernel::zip_blocks;
use crate::shape::resolve_axis;
use crate::ship::{arg, kernel};
#[cfg(feature = "ship")]
use crate::ship::{dispatch, factory};

/// The running sum of `block` along `axis`, in the accumulator type.
fn running_sum<T: Number>(block: &Block<T>, axis: usize) -> Block<T::Acc> {
    let mut out: ArrayD<T::Acc> = block.view().mapv(|x| x.to_acc());
    out.accumulate_axis_inplace(Axis(axis), |&prev, cur| *cur = *cur + prev);
    Block::Dense(out)
}

/// The last slice along `axis` (kept, with length 1), plus `carry`.
fn last_plus<A: Number>(
    block: &Block<A>,
    axis: usize,
    carry: Option<&Block<A>>,
) -> Result<Block<A>> {
    let view = block.view();
    let n = view.len_of(Axis(axis));
    let last = Block::Dense(
        view.slice_axis(Axis(axis), ndarray::Slice::from(n.saturating_sub(1)..n))
            .to_owned(),
    );
    match carry {
        Some(c) => zip_blocks(&last, c, |a, b| a + b),
        None => Ok(last),
    }
}

/// Which task of a cumulative sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum CumsumStep {
    /// A block's own running sum.
    Local,
    /// The carry into the second block: the first block's last slice.
    FirstCarry,
    /// The carry into a later block: the previous block's last slice plus
    /// its carry.
    NextCarry,
    /// A block's running sum plus its carry.
    Add,
}

/// `barrow.array.cumsum`: one task of a cumulative sum along `axis` of
/// elements of `dtype`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct CumsumSpec {
    dtype: DType,
    axis: usize,
    step: CumsumStep,
}

const CUMSUM: &str = "barrow.array.cumsum";

fn cumsum_typed<T: Number>(spec: &CumsumSpec) -> Result<Func> {
    let axis = spec.axis;
    match spec.step {
        CumsumStep::Local => kernel(CUMSUM, spec, move |inputs| {
            Ok(running_sum(arg::<Block<T>>(inputs, 0)?, axis).into_value())
        }),
        CumsumStep::FirstCarry => kernel(CUMSUM, spec, move |inputs| {
            Ok(last_plus(arg::<Block<T::Acc>>(inputs, 0)?, axis, None)?.into_value())
        }),
        CumsumStep::NextCarry => kernel(CUMSUM, spec, move |inputs| {
            let carry = arg::<Block<T::Acc>>(inputs, 1)?;
            Ok(last_plus(arg::<Block<T::Acc>>(inputs, 0)?, axis, Some(carry))?.into_value())
        }),
        CumsumStep::Add => kernel(CUMSUM, spec, |inputs| {
            let (b, c) = (
                arg::<Block<T::Acc>>(inputs, 0)?,
                arg::<Block<T::Acc>>(inputs, 1)?,
            );
            Ok(zip_blocks(b, c, |x, y| x + y)?.into_value())
        }),
    }
}

#[cfg(feature = "ship")]
fn cumsum_kernel(spec: &CumsumSpec) -> Result<Func> {
    dispatch!(number CUMSUM, spec.dtype, |T| cumsum_typed::<T>(spec))
}
#[cfg(feature = "ship")]
factory!(CUMSUM, CumsumSpec, cumsum_kernel);

impl<T: Number> Array<T> {
    /// The cumulative sum along `axis` (NumPy's `cumsum`; integers add up
    /// in 64 bits). Blocks along the axis depend on the ones before them
    /// through one small carry per block.
    ///
    /// ```
    /// use barrow_array::Array;
    /// # barrow_local::link();
    ///
    /// let x = Array::<i32>::arange(1, 7, 1, 4)?;
    /// assert_eq!(x.cumsum(0)?.compute()?.into_raw_vec_and_offset().0, [1, 3, 6, 10, 15, 21]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn cumsum(&self, axis: isize) -> Result<Array<T::Acc>> {
        let axis = resolve_axis(axis, &self.shape())?;
        let name: Arc<str> = token_name("cumsum", &(self.name.as_ref(), axis)).into();
        let local = format!("{name}-local");
        let carry = format!("{name}-carry");
        let step = |step: CumsumStep| {
            cumsum_typed::<T>(&CumsumSpec {
                dtype: T::CODE,
                axis,
                step,
            })
        };
        let local_fn = step(CumsumStep::Local)?;
        let first_carry = step(CumsumStep::FirstCarry)?;
        let next_carry = step(CumsumStep::NextCarry)?;
        let add = step(CumsumStep::Add)?;
        let mut layer = barrow_core::Layer::try_with_capacity(
            name.as_ref(),
            self.chunks.nblocks().saturating_mul(3),
        )?;
        for index in self.chunks.block_indices() {
            layer.insert(
                block_key(&local, &index),
                Task::call(&local_fn, [key(block_key(&self.name, &index))]),
            )?;
            let k = index[axis];
            let out = block_key(&name, &index);
            if k == 0 {
                layer.insert(out, Task::alias(block_key(&local, &index)))?;
                continue;
            }
            let mut prev = index.clone();
            prev[axis] = k - 1;
            let carry_task = if k == 1 {
                Task::call(&first_carry, [key(block_key(&local, &prev))])
            } else {
                Task::call(
                    &next_carry,
                    [key(block_key(&local, &prev)), key(block_key(&carry, &prev))],
                )
            };
            layer.insert(block_key(&carry, &index), carry_task)?;
            layer.insert(
                out,
                Task::call(
                    &add,
                    [
                        key(block_key(&local, &index)),
                        key(block_key(&carry, &index)),
                    ],
                ),
            )?;
        }
        Ok(Array::from_layer(
            name,
            (*self.chunks).clone(),
            layer,
            &[&self.graph],
            [self.problem.clone()],
        ))
    }
}
