//! Indexing: basic slices (indices, ranges, steps, new axes) and integer
//! or boolean selection along one axis.

use std::marker::PhantomData;
use std::sync::Arc;

use barrow_core::arg::{key, lit};
use barrow_core::function::{Function, Input, encode_params};
use barrow_core::tokenize::token_name;
use barrow_core::{Func, Result, Task, Value};
use ndarray::{Axis, SliceInfoElem};

use crate::array::{Array, block_key};
use crate::block::{Block, block_ref};
use crate::chunks::Chunks;
#[cfg(feature = "ship")]
use crate::dtype::DType;
use crate::dtype::Element;
use crate::error::{ArrayError, invalid};
use crate::shape::resolve_axis;
#[cfg(feature = "ship")]
use crate::ship::{dispatch, factory};

/// `barrow.array.getitem`: cuts a block by a slice; the spec is the
/// element type.
const GETITEM: &str = "barrow.array.getitem";

fn getitem_typed<T: Element>() -> Result<Func> {
    Ok(Func::from_function(SliceBlock::<T> {
        params: encode_params(GETITEM, &T::CODE)?,
        marker: PhantomData,
    }))
}

#[cfg(feature = "ship")]
fn getitem_kernel(dtype: &DType) -> Result<Func> {
    dispatch!(element GETITEM, *dtype, |T| getitem_typed::<T>())
}
#[cfg(feature = "ship")]
factory!(GETITEM, DType, getitem_kernel);

/// `barrow.array.take`: gathers positions along an axis of a block; the
/// spec is the element type and the axis.
const TAKE: &str = "barrow.array.take";

fn take_typed<T: Element>(axis: usize) -> Result<Func> {
    Ok(Func::from_function(Take::<T> {
        axis,
        params: encode_params(TAKE, &(T::CODE, axis))?,
        marker: PhantomData,
    }))
}

#[cfg(feature = "ship")]
fn take_kernel(spec: &(DType, usize)) -> Result<Func> {
    dispatch!(element TAKE, spec.0, |T| take_typed::<T>(spec.1))
}
#[cfg(feature = "ship")]
factory!(TAKE, (DType, usize), take_kernel);

/// What one output block reads from one input axis.
#[derive(Clone, Copy, Debug)]
enum Pick {
    /// Elements `lo, lo + step, ...` below `hi` of input block `block`
    /// (step < 0: from `hi - 1` down to `lo`).
    Range {
        block: usize,
        lo: usize,
        hi: usize,
        step: isize,
    },
    /// One element of input block `block`; the axis goes away.
    Index { block: usize, at: usize },
}

fn out_of_range(what: String) -> barrow_core::Error {
    ArrayError::OutOfRange { message: what }.into()
}

/// For one input axis of `blocks` and one slice element: the output blocks'
/// sizes and what each reads.
fn plan_axis(
    axis: usize,
    blocks: &[usize],
    elem: &SliceInfoElem,
) -> Result<(Option<Vec<usize>>, Vec<Pick>)> {
    let len: usize = blocks.iter().sum();
    let resolve = |i: isize, what: &str| -> Result<usize> {
        let r = if i < 0 { i + len as isize } else { i };
        if r < 0 || r > len as isize {
            return Err(out_of_range(format!(
                "slice {what} {i} is out of range for axis {axis} of length {len}"
            )));
        }
        Ok(r as usize)
    };
    let mut starts = Vec::with_capacity(blocks.len());
    let mut acc = 0;
    for &b in blocks {
        starts.push(acc);
        acc += b;
    }
    match *elem {
        SliceInfoElem::Index(i) => {
            let r = if i < 0 { i + len as isize } else { i };
            if r < 0 || r >= len as isize {
                return Err(out_of_range(format!(
                    "index {i} is out of range for axis {axis} of length {len}"
                )));
            }
            let r = r as usize;
            let block = starts.iter().rposition(|&s| s <= r).unwrap_or(0);
            Ok((
                None,
                vec![Pick::Index {
                    block,
                    at: r - starts[block],
                }],
            ))
        }
        SliceInfoElem::Slice { start, end, step } => {
            if step == 0 {
                return Err(invalid(format!(
                    "slice step 0 on axis {axis}: a step must be nonzero"
                )));
            }
            let lo = resolve(start, "start")?;
            let hi = match end {
                Some(e) => resolve(e, "end")?,
                None => len,
            };
            let hi = hi.max(lo);
            let k = step.unsigned_abs();
            // The selected indices, as ndarray defines them: lo..hi by k
            // from the front, or from hi - 1 down by k when step < 0.
            let count = (hi - lo).div_ceil(k);
            let first = if step > 0 { lo } else { hi.saturating_sub(1) };
            let mut sizes = Vec::new();
            let mut picks = Vec::new();
            let order: Vec<usize> = if step > 0 {
                (0..blocks.len()).collect()
            } else {
                (0..blocks.len()).rev().collect()
            };
            for b in order {
                let (bs, be) = (starts[b], starts[b] + blocks[b]);
                // Selected indices in [bs, be): first + j*step for j in 0..count.
                let (j0, j1) = if step > 0 {
                    let j0 = if bs > first {
                        (bs - first).div_ceil(k)
                    } else {
                        0
                    };
                    let j1 = if be > first {
                        (be - first).div_ceil(k)
                    } else {
                        0
                    };
                    (j0, j1)
                } else {
                    // Indices first - j*k in [bs, be).
                    let j0 = if first >= be {
                        (first - be + 1).div_ceil(k)
                    } else {
                        0
                    };
                    let j1 = if first >= bs { (first - bs) / k + 1 } else { 0 };
                    (j0, j1)
                };
                let (j0, j1) = (j0.min(count), j1.min(count));
                if j1 <= j0 {
                    continue;
                }
                let n = j1 - j0;
                let (a, z) = if step > 0 {
                    (first + j0 * k, first + (j1 - 1) * k)
                } else {
                    (first - (j1 - 1) * k, first - j0 * k)
                };
                sizes.push(n);
                picks.push(Pick::Range {
                    block: b,
                    lo: a - bs,
                    hi: z - bs + 1,
                    step,
                });
            }
            if sizes.is_empty() {
                sizes.push(0);
                picks.push(Pick::Range {
                    block: 0,
                    lo: 0,
                    hi: 0,
                    step: 1,
                });
            }
            Ok((Some(sizes), picks))
        }
        SliceInfoElem::NewAxis => Err(invalid("internal: new axes are planned separately")),
    }
}

/// Cuts one block: per input axis (kind, a, b, step) with kind 0 = range
/// a..b by step, 1 = index a; then positions of new axes.
struct SliceBlock<T> {
    params: Vec<u8>,
    marker: PhantomData<fn() -> T>,
}

impl<T: Element> Function for SliceBlock<T> {
    crate::kernel::registered_methods!(GETITEM);
    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let (Some(block), Some(spec)) = (inputs.first(), inputs.get(1)) else {
            return Err(invalid("getitem takes a block and a slice"));
        };
        let block = block_ref::<T>(block)?;
        let spec = spec.as_value()?.downcast_ref::<Vec<isize>>()?;
        let ndim = block.shape().len();
        let (axes, new_axes) = spec.split_at((ndim * 4).min(spec.len()));
        let mut info: Vec<SliceInfoElem> = axes
            .chunks_exact(4)
            .map(|c| match c[0] {
                1 => SliceInfoElem::Index(c[1]),
                _ => SliceInfoElem::Slice {
                    start: c[1],
                    end: Some(c[2]),
                    step: c[3],
                },
            })
            .collect();
        // New axes go in at their output positions, counting the output
        // axes before them.
        for &pos in new_axes {
            let mut seen = 0;
            let mut at = info.len();
            for (i, e) in info.iter().enumerate() {
                if seen == pos as usize {
                    at = i;
                    break;
                }
                if !matches!(e, SliceInfoElem::Index(_)) {
                    seen += 1;
                }
            }
            info.insert(at, SliceInfoElem::NewAxis);
        }
        let view = block.view();
        let cut = view.slice(info.as_slice());
        match block.fill_value() {
            Some(v) => Ok(Block::filled(cut.shape(), v).into_value()),
            None => Ok(Block::Dense(cut.to_owned()).into_value()),
        }
    }
}

/// Gathers positions along one axis of one block.
struct Take<T> {
    axis: usize,
    params: Vec<u8>,
    marker: PhantomData<fn() -> T>,
}

impl<T: Element> Function for Take<T> {
    crate::kernel::registered_methods!(TAKE);
    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let (Some(block), Some(at)) = (inputs.first(), inputs.get(1)) else {
            return Err(invalid("take takes a block and positions"));
        };
        let block = block_ref::<T>(block)?;
        let at = at.as_value()?.downcast_ref::<Vec<usize>>()?;
        let view = block.view();
        Ok(Block::Dense(view.select(Axis(self.axis), at)).into_value())
    }
}

impl<T: Element> Array<T> {
    /// Basic indexing with ndarray's `s![]` syntax: integers (the axis
    /// goes away), ranges with steps (negative steps reverse, as in
    /// ndarray), and `NewAxis`. Each output block comes from one input
    /// block. Bounds past an axis are an error, as in ndarray.
    ///
    /// ```
    /// use barrow_array::Array;
    /// use ndarray::s;
    /// # barrow_local::link();
    ///
    /// let x = Array::<i64>::arange(0, 20, 1, 6)?.reshape(&[4, 5])?;
    /// let y = x.slice(s![1..3, ..;2])?;
    /// assert_eq!(y.shape(), [2, 3]);
    /// assert_eq!(y.compute()?.into_raw_vec_and_offset().0, [5, 7, 9, 10, 12, 14]);
    /// assert!(x.slice(s![7, ..]).is_err());
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn slice(&self, info: impl AsRef<[SliceInfoElem]>) -> Result<Array<T>> {
        let info = info.as_ref();
        let ndim = self.ndim();
        let given = info
            .iter()
            .filter(|e| !matches!(e, SliceInfoElem::NewAxis))
            .count();
        if given > ndim {
            return Err(out_of_range(format!(
                "{given} indices for an array of {ndim} dimensions (shape {:?})",
                self.shape()
            )));
        }
        let full = SliceInfoElem::Slice {
            start: 0,
            end: None,
            step: 1,
        };
        let mut per_axis = Vec::with_capacity(ndim);
        let mut out_chunks: Vec<Vec<usize>> = Vec::new();
        let mut out_axis_of: Vec<Option<usize>> = Vec::new();
        let mut new_axes: Vec<isize> = Vec::new();
        let mut axis = 0;
        for elem in info.iter().chain(std::iter::repeat_n(&full, ndim - given)) {
            if matches!(elem, SliceInfoElem::NewAxis) {
                new_axes.push(out_chunks.len() as isize);
                out_chunks.push(vec![1]);
                continue;
            }
            let (sizes, picks) = plan_axis(axis, self.chunks.axis(axis), elem)?;
            match sizes {
                Some(s) => {
                    out_axis_of.push(Some(out_chunks.len()));
                    out_chunks.push(s);
                }
                None => out_axis_of.push(None),
            }
            per_axis.push(picks);
            axis += 1;
        }
        let chunks = Chunks::from_vec_unchecked(out_chunks);
        let spec_token: Vec<String> = info.iter().map(|e| format!("{e:?}")).collect();
        let name: Arc<str> = token_name("getitem", &(self.name.as_ref(), spec_token)).into();
        let function = getitem_typed::<T>()?;
        let layer = Array::<T>::layer_for(&name, &chunks, |index| {
            let mut source = Vec::with_capacity(ndim);
            let mut spec: Vec<isize> = Vec::with_capacity(ndim * 4 + new_axes.len());
            for (a, picks) in per_axis.iter().enumerate() {
                let pick = match out_axis_of[a] {
                    Some(o) => picks[index[o]],
                    None => picks[0],
                };
                match pick {
                    Pick::Range {
                        block,
                        lo,
                        hi,
                        step,
                    } => {
                        source.push(block);
                        spec.extend([0, lo as isize, hi as isize, step]);
                    }
                    Pick::Index { block, at } => {
                        source.push(block);
                        spec.extend([1, at as isize, 0, 1]);
                    }
                }
            }
            spec.extend(&new_axes);
            Task::call(&function, [key(block_key(&self.name, &source)), lit(spec)])
        })?;
        Ok(Array::from_layer(
            name,
            chunks,
            layer,
            &[&self.graph],
            [self.problem.clone()],
        ))
    }

    /// The elements at `indices` along `axis`, in that order (NumPy's
    /// `take`); consecutive indices in one block make one output block.
    pub fn take(&self, indices: &[usize], axis: isize) -> Result<Array<T>> {
        let shape = self.shape();
        let axis = resolve_axis(axis, &shape)?;
        let len = shape[axis];
        let starts = self.chunks.offsets(axis);
        let mut runs: Vec<(usize, Vec<usize>)> = Vec::new();
        for &i in indices {
            if i >= len {
                return Err(out_of_range(format!(
                    "index {i} is out of range for axis {axis} of length {len}"
                )));
            }
            let block = starts
                .iter()
                .rposition(|&s| s <= i)
                .unwrap_or(0)
                .min(self.chunks.axis(axis).len() - 1);
            match runs.last_mut() {
                Some((b, at)) if *b == block => at.push(i - starts[block]),
                _ => runs.push((block, vec![i - starts[block]])),
            }
        }
        let mut chunks = self.chunks.as_slices().to_vec();
        chunks[axis] = if runs.is_empty() {
            vec![0]
        } else {
            runs.iter().map(|(_, at)| at.len()).collect()
        };
        if runs.is_empty() {
            runs.push((0, Vec::new()));
        }
        let chunks = Chunks::from_vec_unchecked(chunks);
        let name: Arc<str> =
            token_name("take", &(self.name.as_ref(), indices.to_vec(), axis)).into();
        let function = take_typed::<T>(axis)?;
        let layer = Array::<T>::layer_for(&name, &chunks, |index| {
            let mut source = index.to_vec();
            let (block, at) = &runs[index[axis]];
            source[axis] = *block;
            Task::call(
                &function,
                [key(block_key(&self.name, &source)), lit(at.clone())],
            )
        })?;
        Ok(Array::from_layer(
            name,
            chunks,
            layer,
            &[&self.graph],
            [self.problem.clone()],
        ))
    }

    /// The elements where `mask` is true along `axis` (boolean indexing;
    /// NumPy's `compress`). The mask must be as long as the axis.
    pub fn compress(&self, mask: &[bool], axis: isize) -> Result<Array<T>> {
        let shape = self.shape();
        let a = resolve_axis(axis, &shape)?;
        if mask.len() != shape[a] {
            return Err(ArrayError::ShapeMismatch {
                operation: "index with a boolean mask",
                left: shape.clone(),
                right: vec![mask.len()],
                hint: format!("the mask must be as long as axis {a} ({})", shape[a]),
            }
            .into());
        }
        let indices: Vec<usize> = mask
            .iter()
            .enumerate()
            .filter(|(_, m)| **m)
            .map(|(i, _)| i)
            .collect();
        self.take(&indices, axis)
    }
}
