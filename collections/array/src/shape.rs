//! Rearranging blocks: `transpose`, `concatenate`, `stack`.

use std::marker::PhantomData;
use std::sync::Arc;

use barrow_core::arg::key;
use barrow_core::function::{Function, Input, encode_params};
use barrow_core::tokenize::token_name;
use barrow_core::{Func, Graph, Layer, Result, Task, Value};
use ndarray::{Axis, IxDyn};

use crate::array::{Array, block_key};
use crate::block::{Block, block_ref, try_take_unique};
use crate::chunks::Chunks;
#[cfg(feature = "ship")]
use crate::dtype::DType;
use crate::dtype::Element;
use crate::error::{ArrayError, invalid};
#[cfg(feature = "ship")]
use crate::ship::{dispatch, factory};

/// `barrow.array.transpose`: permutes the axes of a block; the spec is
/// the element type and the permutation.
const TRANSPOSE: &str = "barrow.array.transpose";

fn transpose_typed<T: Element>(perm: &[usize]) -> Result<Func> {
    Ok(Func::from_function(Permute::<T> {
        perm: perm.to_vec(),
        params: encode_params(TRANSPOSE, &(T::CODE, perm.to_vec()))?,
        marker: PhantomData,
    }))
}

#[cfg(feature = "ship")]
fn transpose_kernel(spec: &(DType, Vec<usize>)) -> Result<Func> {
    dispatch!(element TRANSPOSE, spec.0, |T| transpose_typed::<T>(&spec.1))
}
#[cfg(feature = "ship")]
factory!(TRANSPOSE, (DType, Vec<usize>), transpose_kernel);

/// `barrow.array.stack`: adds an axis of length 1 to a block; the spec is
/// the element type and the axis.
const STACK: &str = "barrow.array.stack";

fn stack_typed<T: Element>(axis: usize) -> Result<Func> {
    Ok(Func::from_function(InsertAxis::<T> {
        axis,
        params: encode_params(STACK, &(T::CODE, axis))?,
        marker: PhantomData,
    }))
}

#[cfg(feature = "ship")]
fn stack_kernel(spec: &(DType, usize)) -> Result<Func> {
    dispatch!(element STACK, spec.0, |T| stack_typed::<T>(spec.1))
}
#[cfg(feature = "ship")]
factory!(STACK, (DType, usize), stack_kernel);

/// `barrow.array.reshape`: reshapes a block; the spec is the element
/// type.
const RESHAPE: &str = "barrow.array.reshape";

fn reshape_typed<T: Element>() -> Result<Func> {
    Ok(Func::from_function(ReshapeBlock::<T> {
        params: encode_params(RESHAPE, &T::CODE)?,
        marker: PhantomData,
    }))
}

#[cfg(feature = "ship")]
fn reshape_kernel(dtype: &DType) -> Result<Func> {
    dispatch!(element RESHAPE, *dtype, |T| reshape_typed::<T>())
}
#[cfg(feature = "ship")]
factory!(RESHAPE, DType, reshape_kernel);

/// Permutes the axes of one block (free for an unshared block: only the
/// strides change).
struct Permute<T> {
    perm: Vec<usize>,
    params: Vec<u8>,
    marker: PhantomData<fn() -> T>,
}

fn permute<T: Element>(block: Block<T>, perm: &[usize]) -> Block<T> {
    match block {
        Block::Dense(data) => Block::Dense(data.permuted_axes(IxDyn(perm))),
        Block::Fill { shape, value } => {
            let shape: Vec<usize> = perm.iter().map(|&a| shape[a]).collect();
            Block::Fill { shape, value }
        }
    }
}

impl<T: Element> Function for Permute<T> {
    crate::kernel::registered_methods!(TRANSPOSE);
    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let block = block_ref::<T>(
            inputs
                .first()
                .ok_or_else(|| invalid("transpose takes a block"))?,
        )?;
        let view = block.view().permuted_axes(IxDyn(&self.perm));
        match block.fill_value() {
            Some(v) => Ok(Block::filled(view.shape(), v).into_value()),
            None => Ok(Block::Dense(view.to_owned()).into_value()),
        }
    }
    fn call_taking(&self, inputs: &mut [Input]) -> Result<Value> {
        let first = inputs
            .first_mut()
            .ok_or_else(|| invalid("transpose takes a block"))?;
        match try_take_unique::<T>(first) {
            Some(block) => Ok(permute(block, &self.perm).into_value()),
            None => self.call(inputs),
        }
    }
}

/// Adds a length-1 axis to one block.
struct InsertAxis<T> {
    axis: usize,
    params: Vec<u8>,
    marker: PhantomData<fn() -> T>,
}

impl<T: Element> Function for InsertAxis<T> {
    crate::kernel::registered_methods!(STACK);
    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let block = block_ref::<T>(
            inputs
                .first()
                .ok_or_else(|| invalid("stack takes a block"))?,
        )?;
        let mut shape = block.shape().to_vec();
        shape.insert(self.axis, 1);
        match block.fill_value() {
            Some(v) => Ok(Block::filled(&shape, v).into_value()),
            None => {
                Ok(Block::Dense(block.view().insert_axis(Axis(self.axis)).to_owned()).into_value())
            }
        }
    }
}

/// `axis` checked against `ndim`, negative counting from the end.
pub(crate) fn resolve_axis(axis: isize, shape: &[usize]) -> Result<usize> {
    let ndim = shape.len() as isize;
    let a = if axis < 0 { axis + ndim } else { axis };
    if a < 0 || a >= ndim {
        return Err(ArrayError::AxisOutOfRange {
            axis,
            ndim: shape.len(),
            shape: shape.to_vec(),
        }
        .into());
    }
    Ok(a as usize)
}

impl<T: Element> Array<T> {
    /// The axes reversed (NumPy's `.T`).
    ///
    /// ```
    /// use barrow_array::Array;
    /// # barrow_local::link();
    ///
    /// let x = Array::<i64>::arange(0, 6, 1, 2)?.reshape(&[2, 3])?;
    /// let t = x.t();
    /// assert_eq!(t.shape(), [3, 2]);
    /// assert_eq!(t.compute()?.into_raw_vec_and_offset().0.len(), 6);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn t(&self) -> Array<T> {
        let perm: Vec<usize> = (0..self.ndim()).rev().collect();
        self.permute_axes(&perm)
            .unwrap_or_else(|e| Array::failed(e, (*self.chunks).clone()))
    }

    /// The axes in the order `perm` gives (NumPy's `transpose(axes)`).
    pub fn permute_axes(&self, perm: &[usize]) -> Result<Array<T>> {
        let ndim = self.ndim();
        let mut seen = vec![false; ndim];
        if perm.len() != ndim
            || perm
                .iter()
                .any(|&a| a >= ndim || std::mem::replace(&mut seen[a], true))
        {
            return Err(invalid(format!(
                "axes {perm:?} are not a permutation of the {ndim} axes of an array of shape {:?}",
                self.shape()
            )));
        }
        if perm.iter().enumerate().all(|(i, &a)| i == a) {
            return Ok(self.clone());
        }
        let chunks = Chunks::from_vec_unchecked(
            perm.iter().map(|&a| self.chunks.axis(a).to_vec()).collect(),
        );
        let name: Arc<str> = token_name("transpose", &(self.name.as_ref(), perm.to_vec())).into();
        let function = transpose_typed::<T>(perm)?;
        let layer = Array::<T>::layer_for(&name, &chunks, |index| {
            let mut source = vec![0; ndim];
            for (out_axis, &in_axis) in perm.iter().enumerate() {
                source[in_axis] = index[out_axis];
            }
            Task::call(&function, [key(block_key(&self.name, &source))])
        })?;
        Ok(Array::from_layer(
            name,
            chunks,
            layer,
            &[&self.graph],
            [self.problem.clone()],
        ))
    }

    /// Two axes swapped.
    pub fn swap_axes(&self, a: isize, b: isize) -> Result<Array<T>> {
        let shape = self.shape();
        let (a, b) = (resolve_axis(a, &shape)?, resolve_axis(b, &shape)?);
        let mut perm: Vec<usize> = (0..shape.len()).collect();
        perm.swap(a, b);
        self.permute_axes(&perm)
    }
}

/// Joins arrays along an existing axis (NumPy's `concatenate`). The other
/// axes must have equal lengths; arrays chunked differently along them are
/// rechunked to the first array's chunks.
///
/// ```
/// use barrow_array::{Array, concatenate};
/// # barrow_local::link();
///
/// let a = Array::<i64>::arange(0, 3, 1, 2)?;
/// let b = Array::<i64>::arange(3, 5, 1, 2)?;
/// let c = concatenate(&[a, b], 0)?;
/// assert_eq!(c.chunks().to_string(), "((2, 1, 2),)");
/// assert_eq!(c.compute()?.into_raw_vec_and_offset().0, [0, 1, 2, 3, 4]);
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub fn concatenate<T: Element>(arrays: &[Array<T>], axis: isize) -> Result<Array<T>> {
    let first = arrays
        .first()
        .ok_or_else(|| invalid("concatenate needs at least one array"))?;
    let shape = first.shape();
    let axis = resolve_axis(axis, &shape)?;
    let mut aligned = Vec::with_capacity(arrays.len());
    for array in arrays {
        let other = array.shape();
        let same = other.len() == shape.len()
            && (0..shape.len()).all(|a| a == axis || other[a] == shape[a]);
        if !same {
            return Err(ArrayError::ShapeMismatch {
                operation: "concatenate",
                left: shape.clone(),
                right: other,
                hint: format!("all axes but axis {axis} must have the same length"),
            }
            .into());
        }
        let mut want = first.chunks.as_slices().to_vec();
        want[axis] = array.chunks.axis(axis).to_vec();
        aligned.push(array.rechunk_direct(Chunks::from_vec_unchecked(want)));
    }
    // Empty inputs add no blocks (chunks stay canonical: no zero-length
    // block on an axis that has elements), unless every input is empty.
    if aligned.iter().any(|a| a.shape()[axis] > 0) {
        aligned.retain(|a| a.shape()[axis] > 0);
    } else {
        aligned.truncate(1);
    }
    let mut chunks = first.chunks.as_slices().to_vec();
    chunks[axis] = aligned
        .iter()
        .flat_map(|a| a.chunks.axis(axis).to_vec())
        .collect();
    let chunks = Chunks::from_vec_unchecked(chunks);
    let names: Vec<&str> = aligned.iter().map(|a| a.name.as_ref()).collect();
    let name: Arc<str> = token_name("concatenate", &(names, axis)).into();
    let mut owner = Vec::new();
    for (i, a) in aligned.iter().enumerate() {
        owner.extend((0..a.chunks.numblocks()[axis]).map(|b| (i, b)));
    }
    let layer = Array::<T>::layer_for(&name, &chunks, |index| {
        let (which, local) = owner[index[axis]];
        let mut source = index.to_vec();
        source[axis] = local;
        Task::alias(block_key(&aligned[which].name, &source))
    })?;
    let graphs: Vec<&Graph> = aligned.iter().map(|a| &a.graph).collect();
    Ok(Array::from_layer(
        name,
        chunks,
        layer,
        &graphs,
        aligned.iter().map(|a| a.problem.clone()),
    ))
}

/// Joins arrays of one shape along a new axis (NumPy's `stack`); each
/// block of the result is one block of one input, with the new axis of
/// length 1.
pub fn stack<T: Element>(arrays: &[Array<T>], axis: isize) -> Result<Array<T>> {
    let first = arrays
        .first()
        .ok_or_else(|| invalid("stack needs at least one array"))?;
    let shape = first.shape();
    let mut out_shape = shape.clone();
    out_shape.push(1);
    let axis = resolve_axis(axis, &out_shape)?;
    let mut aligned = Vec::with_capacity(arrays.len());
    for array in arrays {
        if array.shape() != shape {
            return Err(ArrayError::ShapeMismatch {
                operation: "stack",
                left: shape.clone(),
                right: array.shape(),
                hint: "stacked arrays must all have the same shape".into(),
            }
            .into());
        }
        aligned.push(array.rechunk_direct((*first.chunks).clone()));
    }
    let mut chunks = first.chunks.as_slices().to_vec();
    chunks.insert(axis, vec![1; arrays.len()]);
    let chunks = Chunks::from_vec_unchecked(chunks);
    let names: Vec<&str> = aligned.iter().map(|a| a.name.as_ref()).collect();
    let name: Arc<str> = token_name("stack", &(names, axis)).into();
    let function = stack_typed::<T>(axis)?;
    crate::size::check_chunks::<T>(&chunks)?;
    let mut layer = Layer::try_with_capacity(name.as_ref(), chunks.nblocks())?;
    for index in chunks.block_indices() {
        let mut source = index.clone();
        let which = source.remove(axis);
        layer.insert(
            block_key(&name, &index),
            Task::call(&function, [key(block_key(&aligned[which].name, &source))]),
        )?;
    }
    let graphs: Vec<&Graph> = aligned.iter().map(|a| &a.graph).collect();
    Ok(Array::from_layer(
        name,
        chunks,
        layer,
        &graphs,
        aligned.iter().map(|a| a.problem.clone()),
    ))
}

/// Reshapes one block in row-major order.
struct ReshapeBlock<T> {
    params: Vec<u8>,
    marker: PhantomData<fn() -> T>,
}

impl<T: Element> Function for ReshapeBlock<T> {
    crate::kernel::registered_methods!(RESHAPE);
    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let (Some(block), Some(shape)) = (inputs.first(), inputs.get(1)) else {
            return Err(invalid("reshape takes a block and its new shape"));
        };
        let block = block_ref::<T>(block)?;
        let shape = shape.as_value()?.downcast_ref::<Vec<usize>>()?;
        if let Some(v) = block.fill_value() {
            return Ok(Block::filled(shape, v).into_value());
        }
        let view = block.view();
        let data = view
            .to_shape((IxDyn(shape), ndarray::Order::RowMajor))
            .map_err(|e| invalid(format!("reshape of a block: {e}")))?
            .into_owned();
        Ok(Block::Dense(data).into_value())
    }
}

/// One step of a reshape plan: input axes whose product is the product of
/// output axes; their first axes carry the blocks, the others are whole.
struct Group {
    inputs: Vec<usize>,
    outputs: Vec<usize>,
}

/// Plans a reshape from `chunks` to `out` (Dask's `reshape_rechunk`): the
/// chunks the input needs first, the output chunks, and the axis groups.
fn reshape_plan(chunks: &Chunks, out: &[usize]) -> (Vec<Vec<usize>>, Vec<Vec<usize>>, Vec<Group>) {
    let inshape = chunks.shape();
    let mut in_chunks: Vec<Vec<usize>> = chunks.as_slices().to_vec();
    let mut out_chunks: Vec<Vec<usize>> = out.iter().map(|&n| vec![n]).collect();
    let mut groups = Vec::new();
    let (mut ii, mut oi) = (inshape.len() as isize - 1, out.len() as isize - 1);
    let prod = |s: &[usize]| s.iter().product::<usize>();
    while ii >= 0 || oi >= 0 {
        let (i, o) = (ii.max(0) as usize, oi.max(0) as usize);
        if ii >= 0 && (oi < 0 || (inshape[i] == 1 && out[o] != 1)) {
            in_chunks[i] = vec![inshape[i]];
            groups.push(Group {
                inputs: vec![i],
                outputs: vec![],
            });
            ii -= 1;
            continue;
        }
        if oi >= 0 && (ii < 0 || (out[o] == 1 && inshape[i] != 1)) {
            out_chunks[o] = vec![1];
            groups.push(Group {
                inputs: vec![],
                outputs: vec![o],
            });
            oi -= 1;
            continue;
        }
        if inshape[i] == out[o] {
            out_chunks[o] = in_chunks[i].clone();
            groups.push(Group {
                inputs: vec![i],
                outputs: vec![o],
            });
            ii -= 1;
            oi -= 1;
        } else if inshape[i] > out[o] {
            // One input axis splits into out[left..=o].
            let left = (0..=o).rev().find(|&l| prod(&out[l..=o]) >= inshape[i]);
            match left.filter(|&l| prod(&out[l..=o]) == inshape[i]) {
                Some(l) => {
                    let inner = prod(&out[l + 1..=o]).max(1);
                    let mut cuts: Vec<usize> = Vec::new();
                    let mut acc = 0;
                    for &c in &in_chunks[i] {
                        acc += c;
                        let cut = acc / inner * inner;
                        if cut > cuts.last().copied().unwrap_or(0) {
                            cuts.push(cut);
                        }
                    }
                    let mut prev = 0;
                    in_chunks[i] = cuts
                        .iter()
                        .map(|&c| {
                            let b = c - prev;
                            prev = c;
                            b
                        })
                        .collect();
                    out_chunks[l] = in_chunks[i].iter().map(|&c| c / inner).collect();
                    for a in l + 1..=o {
                        out_chunks[a] = vec![out[a]];
                    }
                    groups.push(Group {
                        inputs: vec![i],
                        outputs: (l..=o).collect(),
                    });
                    ii -= 1;
                    oi = l as isize - 1;
                }
                None => {
                    groups.push(merge_all(
                        &mut in_chunks,
                        &mut out_chunks,
                        &inshape,
                        out,
                        i,
                        o,
                    ));
                    break;
                }
            }
        } else {
            // Input axes in[left..=i] merge into one output axis.
            let left = (0..=i).rev().find(|&l| prod(&inshape[l..=i]) >= out[o]);
            match left.filter(|&l| prod(&inshape[l..=i]) == out[o]) {
                Some(l) => {
                    let inner = prod(&inshape[l + 1..=i]).max(1);
                    for a in l + 1..=i {
                        in_chunks[a] = vec![inshape[a]];
                    }
                    out_chunks[o] = in_chunks[l].iter().map(|&c| c * inner).collect();
                    groups.push(Group {
                        inputs: (l..=i).collect(),
                        outputs: vec![o],
                    });
                    ii = l as isize - 1;
                    oi -= 1;
                }
                None => {
                    groups.push(merge_all(
                        &mut in_chunks,
                        &mut out_chunks,
                        &inshape,
                        out,
                        i,
                        o,
                    ));
                    break;
                }
            }
        }
    }
    (in_chunks, out_chunks, groups)
}

/// The fallback when no exact grouping exists: every remaining axis whole.
fn merge_all(
    in_chunks: &mut [Vec<usize>],
    out_chunks: &mut [Vec<usize>],
    inshape: &[usize],
    out: &[usize],
    i: usize,
    o: usize,
) -> Group {
    for a in 0..=i {
        in_chunks[a] = vec![inshape[a]];
    }
    for a in 0..=o {
        out_chunks[a] = vec![out[a]];
    }
    Group {
        inputs: (0..=i).collect(),
        outputs: (0..=o).collect(),
    }
}

impl<T: Element> Array<T> {
    /// The same elements in row-major order with another shape (NumPy's
    /// `reshape`), rechunking only the axes that must be whole for blocks
    /// to reshape on their own, as Dask does.
    ///
    /// ```
    /// use barrow_array::Array;
    /// # barrow_local::link();
    ///
    /// let x = Array::<i64>::arange(0, 24, 1, 6)?;
    /// let y = x.reshape(&[4, 6])?;
    /// assert_eq!(y.chunks().to_string(), "((1, 1, 1, 1), (6,))");
    /// assert_eq!(y.compute()?[[2, 3]], 15);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn reshape(&self, shape: &[usize]) -> Result<Array<T>> {
        let inshape = self.shape();
        crate::size::check_shape::<T>(shape)?;
        if crate::size::elements(shape) != crate::size::elements(&inshape) {
            return Err(ArrayError::ShapeMismatch {
                operation: "reshape",
                left: inshape,
                right: shape.to_vec(),
                hint: "the new shape must have as many elements as the old".into(),
            }
            .into());
        }
        if shape == inshape.as_slice() {
            return Ok(self.clone());
        }
        // An empty array has nothing to keep in place: one block each side.
        let (in_chunks, out_chunks, groups) = if inshape.contains(&0) {
            let whole = |s: &[usize]| s.iter().map(|&n| vec![n]).collect::<Vec<_>>();
            (whole(&inshape), whole(shape), Vec::new())
        } else {
            reshape_plan(&self.chunks, shape)
        };
        let source = self.rechunk_direct(Chunks::from_vec_unchecked(in_chunks));
        let chunks = Chunks::from_vec_unchecked(out_chunks);
        let name: Arc<str> = token_name("reshape", &(source.name.as_ref(), shape.to_vec())).into();
        let function = reshape_typed::<T>()?;
        let ndim_in = source.ndim();
        let layer = Array::<T>::layer_for(&name, &chunks, |index| {
            let mut input = vec![0; ndim_in];
            for g in &groups {
                if let (Some(&i), Some(&o)) = (g.inputs.first(), g.outputs.first()) {
                    input[i] = index[o];
                }
            }
            let block_shape = chunks.block_shape(index).unwrap_or_default();
            Task::call(
                &function,
                [
                    key(block_key(&source.name, &input)),
                    barrow_core::arg::lit(block_shape),
                ],
            )
        })?;
        Ok(Array::from_layer(
            name,
            chunks,
            layer,
            &[&source.graph],
            [source.problem.clone()],
        ))
    }
}
