//! Functions of whole blocks: `map_blocks`.

use std::marker::PhantomData;

use barrow_core::arg::call;
use barrow_core::function::{Function, Input, encode_params};
use barrow_core::{Func, Result, Value};
use barrow_delayed::unique_name;
use ndarray::{ArrayD, ArrayViewD};

use crate::array::Array;
use crate::block::{Block, try_take_unique};
use crate::chunks::Chunks;
#[cfg(feature = "ship")]
use crate::dtype::DType;
use crate::dtype::Element;
use crate::error::ArrayError;
use crate::kernel::{BlockFn, Signature};
use crate::ship::arg;
#[cfg(feature = "ship")]
use crate::ship::{dispatch, factory};

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
        let layer = Array::<U>::layer_for(&name, &chunks, |index| {
            // The block's index, then the shape it must have.
            let mut shape = index.to_vec();
            shape.extend(chunks.block_shape(index).unwrap_or_default());
            barrow_core::Task::call(
                &function,
                [
                    barrow_core::arg::key(crate::array::block_key(&self.name, index)),
                    barrow_core::arg::lit(shape),
                ],
            )
        });
        match layer {
            Ok(layer) => Array::from_layer(
                name.into(),
                chunks,
                layer,
                &[&self.graph],
                [self.problem.clone()],
            ),
            Err(e) => Array::failed(e, chunks),
        }
    }
}

/// `barrow.array.block-to-ndarray`: a block as an `ndarray::ArrayD`, the
/// argument of a caller's registered block function; the spec is the
/// element type.
const TO_NDARRAY: &str = "barrow.array.block-to-ndarray";

/// `barrow.array.ndarray-to-block`: a caller's block function's result as
/// a block, checked against the shape it must have; the spec is the
/// element type.
const TO_BLOCK: &str = "barrow.array.ndarray-to-block";

struct ToNdarray<T> {
    params: Vec<u8>,
    marker: PhantomData<fn() -> T>,
}

impl<T: Element> Function for ToNdarray<T> {
    crate::kernel::registered_methods!(TO_NDARRAY);
    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let block = arg::<Block<T>>(inputs, 0)?;
        Ok(ndarray_value(block.view().to_owned()))
    }
    fn call_taking(&self, inputs: &mut [Input]) -> Result<Value> {
        match inputs.first_mut().and_then(try_take_unique::<T>) {
            Some(block) => Ok(ndarray_value(block.into_dense())),
            None => self.call(inputs),
        }
    }
}

fn ndarray_value<T: Element>(data: ArrayD<T>) -> Value {
    let nbytes = data.len() * T::ITEMSIZE;
    Value::with_nbytes(data, nbytes)
}

struct ToBlock<U> {
    params: Vec<u8>,
    marker: PhantomData<fn() -> U>,
}

impl<U: Element> ToBlock<U> {
    fn finish(&self, data: ArrayD<U>, inputs: &[Input]) -> Result<Value> {
        let geometry = arg::<Vec<usize>>(inputs, 1)?;
        let (index, expected) = geometry.split_at(geometry.len() / 2);
        if data.shape() != expected {
            return Err(ArrayError::BlockShape {
                name: "map_blocks_func".into(),
                block: index.to_vec(),
                expected: expected.to_vec(),
                actual: data.shape().to_vec(),
                hint: "the function must return blocks of the array's chunks; give the chunks it \
                       returns with map_blocks_func_with_chunks",
            }
            .into());
        }
        Ok(Block::Dense(data).into_value())
    }
}

impl<U: Element> Function for ToBlock<U> {
    crate::kernel::registered_methods!(TO_BLOCK);
    fn call(&self, inputs: &[Input]) -> Result<Value> {
        self.finish(arg::<ArrayD<U>>(inputs, 0)?.clone(), inputs)
    }
    fn call_taking(&self, inputs: &mut [Input]) -> Result<Value> {
        let taken = match inputs.first_mut() {
            Some(Input::Value(value)) => {
                let value = std::mem::replace(value, Value::new(()));
                match value.try_take::<ArrayD<U>>() {
                    Ok(data) => Some(data),
                    Err(shared) => {
                        inputs[0] = Input::Value(shared);
                        None
                    }
                }
            }
            _ => None,
        };
        match taken {
            Some(data) => self.finish(data, inputs),
            None => self.call(inputs),
        }
    }
}

fn to_ndarray_typed<T: Element>() -> Result<Func> {
    Ok(Func::from_function(ToNdarray::<T> {
        params: encode_params(TO_NDARRAY, &T::CODE)?,
        marker: PhantomData,
    }))
}

fn to_block_typed<T: Element>() -> Result<Func> {
    Ok(Func::from_function(ToBlock::<T> {
        params: encode_params(TO_BLOCK, &T::CODE)?,
        marker: PhantomData,
    }))
}

#[cfg(feature = "ship")]
fn to_ndarray_kernel(dtype: &DType) -> Result<Func> {
    dispatch!(element TO_NDARRAY, *dtype, |T| to_ndarray_typed::<T>())
}
#[cfg(feature = "ship")]
factory!(TO_NDARRAY, DType, to_ndarray_kernel);

#[cfg(feature = "ship")]
fn to_block_kernel(dtype: &DType) -> Result<Func> {
    dispatch!(element TO_BLOCK, *dtype, |T| to_block_typed::<T>())
}
#[cfg(feature = "ship")]
factory!(TO_BLOCK, DType, to_block_kernel);

impl<T: Element> Array<T> {
    /// A registered function applied to every block (Dask's `map_blocks`),
    /// runnable in worker processes: `f` takes the block as an
    /// `&ndarray::ArrayD<T>` and returns an `ndarray::ArrayD<U>` of the
    /// same shape. Register it with `#[barrow::task]` (or
    /// `#[barrow_core::task]`) so that every process built from the
    /// program finds it by name; a closure wrapped in a [`Func`] works
    /// here too, but only on schedulers in this process.
    ///
    /// ```
    /// use barrow_array::Array;
    /// use barrow_core::Registry;
    /// use ndarray::ArrayD;
    ///
    /// /// Squares every element of a block.
    /// #[barrow_core::task(name = "example.square")]
    /// fn square(block: &ArrayD<f64>) -> ArrayD<f64> {
    ///     block.mapv(|v| v * v)
    /// }
    ///
    /// fn main() -> barrow_core::Result<()> {
    /// # barrow_local::link();
    ///     let f = Registry::global().functions().get(square::NAME)?;
    ///     let x = Array::<f64>::arange(0.0, 4.0, 1.0, 2)?;
    ///     let y = x.map_blocks_func::<f64>(&f);
    ///     assert_eq!(y.compute()?.into_raw_vec_and_offset().0, [0.0, 1.0, 4.0, 9.0]);
    ///     // Every task of `y` can cross a process boundary.
    ///     barrow_wire::check_serializable(y.graph_ref(), Registry::global())?;
    ///     Ok(())
    /// }
    /// ```
    pub fn map_blocks_func<U: Element>(&self, f: &Func) -> Array<U> {
        self.map_blocks_func_with_chunks((*self.chunks).clone(), f)
    }

    /// [`Array::map_blocks_func`] for a function returning blocks shaped by
    /// `chunks` (with as many blocks along each axis as this array).
    pub fn map_blocks_func_with_chunks<U: Element>(&self, chunks: Chunks, f: &Func) -> Array<U> {
        if chunks.numblocks() != self.chunks.numblocks() {
            return Array::failed(
                crate::error::invalid(format!(
                    "map_blocks_func: chunks {chunks} have {:?} blocks per axis but the array has \
                     {:?}; give one block size per input block",
                    chunks.numblocks(),
                    self.chunks.numblocks()
                )),
                chunks,
            );
        }
        let (to_ndarray, to_block) = match (to_ndarray_typed::<T>(), to_block_typed::<U>()) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => return Array::failed(e, chunks),
        };
        // A registered function names the same work in every process; any
        // other is named afresh.
        let registered = barrow_core::Registry::global()
            .functions()
            .can_ship(f)
            .is_ok();
        let name = if registered {
            let token = (
                self.name.as_ref(),
                f.name(),
                f.params(),
                chunks.as_slices().to_vec(),
            );
            barrow_core::tokenize::token_name("map_blocks", &token)
        } else {
            unique_name("map_blocks")
        };
        let layer = Array::<U>::layer_for(&name, &chunks, |index| {
            // The block's index, then the shape it must have.
            let mut geometry = index.to_vec();
            geometry.extend(chunks.block_shape(index).unwrap_or_default());
            let block = barrow_core::arg::key(crate::array::block_key(&self.name, index));
            let applied = call(f, [call(&to_ndarray, [block])]);
            barrow_core::Task::call(&to_block, [applied, barrow_core::arg::lit(geometry)])
        });
        match layer {
            Ok(layer) => Array::from_layer(
                name.into(),
                chunks,
                layer,
                &[&self.graph],
                [self.problem.clone()],
            ),
            Err(e) => Array::failed(e, chunks),
        }
    }
}

/// Dask's `blockwise` with index notation: `f` gets, for each input, the
/// blocks matching one output block, where inputs sharing a letter are
/// aligned along it (rechunked to common chunks when they differ) and a
/// letter absent from `out` is contracted: all blocks along it are joined
/// into one array (Dask's `concatenate=True`). `f` must return the output
/// block, whose shape along each output letter is that letter's chunk.
///
/// ```
/// use barrow_array::{Array, blockwise};
/// use ndarray::Axis;
/// # barrow_local::link();
///
/// // Row sums of a matrix, one task per row block: "ij" -> "i".
/// let x = Array::<f64>::ones(&[6, 4], [2, 2])?;
/// let rows = blockwise("i", &[(&x, "ij")], |blocks| Ok(blocks[0].sum_axis(Axis(1))))?;
/// assert_eq!(rows.chunks().to_string(), "((2, 2, 2),)");
/// assert_eq!(rows.compute()?.into_raw_vec_and_offset().0, [4.0; 6]);
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub fn blockwise<T: Element, U: Element, F>(
    out: &str,
    inputs: &[(&Array<T>, &str)],
    f: F,
) -> Result<Array<U>>
where
    F: Fn(&[ndarray::ArrayViewD<'_, T>]) -> Result<ArrayD<U>> + Send + Sync + 'static,
{
    use std::collections::BTreeMap;

    use barrow_core::arg::keys;
    use barrow_core::function::List;

    use crate::array::block_key;
    use crate::block::Block;
    use crate::error::invalid;

    let out_letters: Vec<char> = out.chars().collect();
    // Each letter's length and chunks, unified over the inputs.
    let mut letters: BTreeMap<char, (usize, Vec<usize>)> = BTreeMap::new();
    for (array, index) in inputs {
        let idx: Vec<char> = index.chars().collect();
        if idx.len() != array.ndim() {
            return Err(invalid(format!(
                "blockwise: index {index:?} has {} letters but the array has {} axes (shape {:?})",
                idx.len(),
                array.ndim(),
                array.shape()
            )));
        }
        for (axis, &c) in idx.iter().enumerate() {
            let len = array.shape()[axis];
            let chunks = array.chunks.axis(axis).to_vec();
            match letters.get_mut(&c) {
                None => {
                    letters.insert(c, (len, chunks));
                }
                Some((l, existing)) => {
                    if *l != len {
                        return Err(invalid(format!(
                            "blockwise: letter {c:?} has length {l} in one input and {len} in another"
                        )));
                    }
                    if *existing != chunks {
                        *existing = crate::rechunk::common_refinement(existing, &chunks);
                    }
                }
            }
        }
    }
    for c in &out_letters {
        if !letters.contains_key(c) {
            return Err(invalid(format!(
                "blockwise: output letter {c:?} is in no input; new axes are not supported"
            )));
        }
    }
    let aligned: Vec<(Array<T>, Vec<char>)> = inputs
        .iter()
        .map(|(array, index)| {
            let idx: Vec<char> = index.chars().collect();
            let want: Vec<Vec<usize>> = idx.iter().map(|c| letters[c].1.clone()).collect();
            (array.rechunk_direct(Chunks::from_vec_unchecked(want)), idx)
        })
        .collect();
    let out_chunks =
        Chunks::from_vec_unchecked(out_letters.iter().map(|c| letters[c].1.clone()).collect());
    let name = unique_name("blockwise");
    // Per input: the blocks to join per contracted axis, then `f`.
    let ninputs = aligned.len();
    let contracted: Vec<Vec<usize>> = aligned
        .iter()
        .map(|(_, idx)| {
            (0..idx.len())
                .filter(|&a| !out_letters.contains(&idx[a]))
                .collect()
        })
        .collect();
    let grids: Vec<Vec<usize>> = aligned.iter().map(|(a, _)| a.chunks.numblocks()).collect();
    let join = {
        let contracted = contracted.clone();
        let grids = grids.clone();
        move |i: usize, blocks: &List<'_, Block<T>>| -> Result<ArrayD<T>> {
            if contracted[i].is_empty() {
                return blocks
                    .get(0)
                    .map(|b| b.view().to_owned())
                    .ok_or_else(|| invalid("blockwise: no block"));
            }
            // Join along each contracted axis, innermost first.
            let mut parts: Vec<ArrayD<T>> = blocks.iter().map(|b| b.view().to_owned()).collect();
            for &axis in contracted[i].iter().rev() {
                let n = grids[i][axis];
                let mut joined = Vec::with_capacity(parts.len() / n.max(1));
                for group in parts.chunks(n.max(1)) {
                    let views: Vec<_> = group.iter().map(|p| p.view()).collect();
                    joined.push(
                        ndarray::concatenate(ndarray::Axis(axis), &views)
                            .map_err(|e| invalid(format!("blockwise: {e}")))?,
                    );
                }
                parts = joined;
            }
            parts
                .pop()
                .ok_or_else(|| invalid("blockwise: no blocks to join"))
        }
    };
    let call = Func::from_function(BlockwiseFn {
        name: name.clone(),
        ninputs,
        join: Box::new(join),
        f: Box::new(f),
    });
    crate::size::check_chunks::<U>(&out_chunks)?;
    let mut layer = barrow_core::Layer::try_with_capacity(name.as_str(), out_chunks.nblocks())?;
    for index in out_chunks.block_indices() {
        let mut args = Vec::with_capacity(ninputs);
        for (i, (array, idx)) in aligned.iter().enumerate() {
            // The blocks of input i: fixed along output letters, all along
            // contracted ones, in row-major order of the contracted axes.
            let counts: Vec<usize> = (0..idx.len())
                .map(|a| {
                    if contracted[i].contains(&a) {
                        grids[i][a]
                    } else {
                        1
                    }
                })
                .collect();
            let members = Chunks::from_vec_unchecked(counts.iter().map(|&n| vec![1; n]).collect())
                .block_indices();
            let block_keys: Vec<_> = members
                .map(|m| {
                    let source: Vec<usize> = (0..idx.len())
                        .map(|a| {
                            if contracted[i].contains(&a) {
                                m[a]
                            } else {
                                let pos =
                                    out_letters.iter().position(|c| *c == idx[a]).unwrap_or(0);
                                index[pos]
                            }
                        })
                        .collect();
                    block_key(&array.name, &source)
                })
                .collect();
            args.push(keys(block_keys));
        }
        layer.insert(
            block_key(&name, &index),
            barrow_core::Task::call(&call, args),
        )?;
    }
    let graphs: Vec<&barrow_core::Graph> = aligned.iter().map(|(a, _)| &a.graph).collect();
    Ok(Array::from_layer(
        name.into(),
        out_chunks,
        layer,
        &graphs,
        aligned.iter().map(|(a, _)| a.problem.clone()),
    ))
}

type JoinFn<T> = dyn Fn(usize, &barrow_core::function::List<'_, crate::block::Block<T>>) -> Result<ArrayD<T>>
    + Send
    + Sync;
type BlocksFn<T, U> = dyn Fn(&[ndarray::ArrayViewD<'_, T>]) -> Result<ArrayD<U>> + Send + Sync;

/// The task function of [`blockwise`]: joins each input's blocks, then
/// calls the caller's function.
struct BlockwiseFn<T, U> {
    name: String,
    ninputs: usize,
    join: Box<JoinFn<T>>,
    f: Box<BlocksFn<T, U>>,
}

impl<T: Element, U: Element> barrow_core::function::Function for BlockwiseFn<T, U> {
    fn name(&self) -> &str {
        "blockwise"
    }
    fn params(&self) -> Option<&[u8]> {
        Some(self.name.as_bytes())
    }
    fn call(&self, inputs: &[barrow_core::function::Input]) -> Result<barrow_core::Value> {
        use barrow_core::function::FromInput;
        if inputs.len() != self.ninputs {
            return Err(crate::error::invalid("blockwise: wrong number of inputs"));
        }
        let mut joined = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.iter().enumerate() {
            let list = barrow_core::function::List::<crate::block::Block<T>>::from_input(input)?;
            joined.push((self.join)(i, &list)?);
        }
        let views: Vec<_> = joined.iter().map(|a| a.view()).collect();
        Ok(crate::block::Block::Dense((self.f)(&views)?).into_value())
    }
}
