//! Creating arrays: from data, constant fills, ranges, per-block functions.

use std::marker::PhantomData;
use std::sync::Arc;

use barrow_core::arg::{key, lit};
use barrow_core::function::{Function, Input, encode_params};
use barrow_core::tokenize::token_name;
use barrow_core::{Func, Graph, Layer, Result, Task, Value};
use barrow_delayed::unique_name;
use ndarray::{ArrayD, IxDyn, SliceInfoElem};

use crate::array::{Array, block_key};
use crate::block::Block;
use crate::chunks::{ChunkSpec, Chunks, normalize_chunks};
use crate::dtype::{DType, Element, Float, Number, Scalar};
use crate::error::{ArrayError, invalid};
use crate::random::RandomSpec;
#[cfg(feature = "ship")]
use crate::ship::{dispatch, factory};
use crate::ship::{scalar, unsupported};

/// `array.chunk-size` (bytes) and `array.chunk-size-tolerance` from the
/// configuration in effect.
pub(crate) fn chunk_limits() -> Result<(u64, f64)> {
    let limit = barrow_core::config::get::<barrow_core::config::ByteSize>("array.chunk-size")?
        .map_or(128 << 20, |b| b.as_u64());
    let tolerance = barrow_core::config::get::<f64>("array.chunk-size-tolerance")?.unwrap_or(1.25);
    Ok((limit, tolerance))
}

/// Canonical chunks for `shape` of `T`, "auto" resolved against the
/// configuration.
pub(crate) fn resolve_chunks<T: Element>(
    spec: &ChunkSpec,
    shape: &[usize],
    previous: Option<&Chunks>,
) -> Result<Chunks> {
    crate::size::check_shape::<T>(shape)?;
    let (limit, tolerance) = chunk_limits()?;
    let chunks = normalize_chunks(spec, shape, T::ITEMSIZE, limit, tolerance, previous)?;
    // Before anything hashes or walks the blocks: one task each.
    barrow_core::graph::check_task_count(
        &format!(
            "an array of shape {shape:?} in chunks of {:?}",
            chunks.largest_block()
        ),
        chunks.nblocks(),
    )?;
    Ok(chunks)
}

/// Reads one block out of a whole array held in the graph.
struct Getter<T> {
    params: Vec<u8>,
    marker: PhantomData<fn() -> T>,
}

fn region(start: &[usize], shape: &[usize]) -> Vec<SliceInfoElem> {
    start
        .iter()
        .zip(shape)
        .map(|(&s, &n)| SliceInfoElem::Slice {
            start: s as isize,
            end: Some((s + n) as isize),
            step: 1,
        })
        .collect()
}

/// `barrow.array.from-array`: cuts a block out of a whole array.
const FROM_ARRAY: &str = "barrow.array.from-array";

fn getter_typed<T: Element>() -> Result<Func> {
    Ok(Func::from_function(Getter::<T> {
        params: encode_params(FROM_ARRAY, &T::CODE)?,
        marker: PhantomData,
    }))
}

#[cfg(feature = "ship")]
fn getter(dtype: &DType) -> Result<Func> {
    dispatch!(element FROM_ARRAY, *dtype, |T| getter_typed::<T>())
}
#[cfg(feature = "ship")]
factory!(FROM_ARRAY, DType, getter);

impl<T: Element> Function for Getter<T> {
    crate::kernel::registered_methods!(FROM_ARRAY);

    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let (Some(source), Some(geometry)) = (inputs.first(), inputs.get(1)) else {
            return Err(invalid("getitem takes an array and a region"));
        };
        let source = source.as_value()?.downcast_ref::<ArrayD<T>>()?;
        let geometry = geometry.as_value()?.downcast_ref::<Vec<usize>>()?;
        let ndim = source.ndim();
        if geometry.len() != 2 * ndim {
            return Err(invalid("getitem: region does not match the array"));
        }
        let (start, shape) = geometry.split_at(ndim);
        let view = source.slice(region(start, shape).as_slice());
        Ok(Block::Dense(view.to_owned()).into_value())
    }
}

/// What the blocks of a generated array hold.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) enum Source {
    /// One value everywhere (`full`, `zeros`, `ones`, scalars).
    Fill(Scalar),
    /// `start + i * step`.
    Arange { start: Scalar, step: Scalar },
    /// The identity matrix.
    Eye,
    /// `num` values evenly spaced from `start` to `stop`.
    Linspace {
        start: Scalar,
        stop: Scalar,
        num: u64,
    },
    /// Seeded random numbers.
    Random(RandomSpec),
}

/// `barrow.array.create`: the blocks of a generated array of `dtype`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct CreateSpec {
    pub dtype: DType,
    pub source: Source,
}

const CREATE: &str = "barrow.array.create";

fn generator<T: Element>(
    params: Vec<u8>,
    label: &str,
    f: impl Fn(&[usize], &[usize]) -> Result<Block<T>> + Send + Sync + 'static,
) -> Func {
    Func::from_function(Generate {
        name: CREATE.into(),
        label: label.into(),
        params: Some(params),
        f,
        marker: PhantomData,
    })
}

fn arange_block<T: Number>(start: T, step: T, first: usize, len: usize) -> Result<Block<T>> {
    let data: Vec<T> = (first..first + len)
        .map(|i| start + step * T::from_usize(i))
        .collect();
    Ok(Block::Dense(
        ArrayD::from_shape_vec(IxDyn(&[len]), data).map_err(|e| invalid(e.to_string()))?,
    ))
}

fn eye_block<T: Number>(start: &[usize], shape: &[usize]) -> Result<Block<T>> {
    let (Some(&r0), Some(&c0), Some(&rows), Some(&cols)) =
        (start.first(), start.get(1), shape.first(), shape.get(1))
    else {
        return Err(invalid("eye makes matrices"));
    };
    if r0 + rows <= c0 || c0 + cols <= r0 {
        return Ok(Block::filled(shape, T::zero()));
    }
    Ok(Block::Dense(ArrayD::from_shape_fn(IxDyn(shape), |ix| {
        if r0 + ix[0] == c0 + ix[1] {
            T::one()
        } else {
            T::zero()
        }
    })))
}

fn linspace_block<T: Float>(
    start: T,
    stop: T,
    num: usize,
    first: usize,
    len: usize,
) -> Result<Block<T>> {
    let step = if num > 1 {
        (stop - start) / T::from_usize(num - 1)
    } else {
        T::zero()
    };
    let data: Vec<T> = (first..first + len)
        .map(|i| {
            if i + 1 == num && num > 1 {
                stop
            } else {
                start + step * T::from_usize(i)
            }
        })
        .collect();
    Ok(Block::Dense(
        ArrayD::from_shape_vec(IxDyn(&[len]), data).map_err(|e| invalid(e.to_string()))?,
    ))
}

/// The first index and the length of a 1-D block.
fn span(first: &[usize], shape: &[usize]) -> Result<(usize, usize)> {
    match (first.first(), shape.first()) {
        (Some(&f), Some(&n)) => Ok((f, n)),
        _ => Err(invalid("a range makes 1-D blocks")),
    }
}

/// The block generator of a spec whose source any element type takes (a
/// fill, random numbers), for elements of type `T`.
pub(crate) fn create_element<T: Element>(spec: &CreateSpec) -> Result<Func> {
    let params = encode_params(CREATE, spec)?;
    match &spec.source {
        Source::Fill(v) => {
            let v: T = scalar(v)?;
            Ok(generator(params, "full", move |_, shape| {
                Ok(Block::filled(shape, v))
            }))
        }
        Source::Random(random) => {
            let source = crate::random::source::<T>(random)?;
            Ok(generator(params, "random", move |start, shape| {
                source.fill(start, shape)
            }))
        }
        _ => Err(unsupported(CREATE, spec.dtype)),
    }
}

/// The block generator of a spec on numbers of type `T`: ranges and
/// identities, and the sources of [`create_element`].
pub(crate) fn create_number<T: Number>(spec: &CreateSpec) -> Result<Func> {
    match &spec.source {
        Source::Arange { start, step } => {
            let params = encode_params(CREATE, spec)?;
            let (start, step): (T, T) = (scalar(start)?, scalar(step)?);
            Ok(generator(params, "arange", move |first, shape| {
                let (first, len) = span(first, shape)?;
                arange_block(start, step, first, len)
            }))
        }
        Source::Eye => Ok(generator(
            encode_params(CREATE, spec)?,
            "eye",
            eye_block::<T>,
        )),
        _ => create_element::<T>(spec),
    }
}

/// The block generator of a spec on floats of type `T`: evenly spaced
/// values, and the sources of [`create_number`].
pub(crate) fn create_float<T: Float>(spec: &CreateSpec) -> Result<Func> {
    match &spec.source {
        Source::Linspace { start, stop, num } => {
            let params = encode_params(CREATE, spec)?;
            let (start, stop): (T, T) = (scalar(start)?, scalar(stop)?);
            let num = usize::try_from(*num).map_err(|e| invalid(e.to_string()))?;
            Ok(generator(params, "linspace", move |first, shape| {
                let (first, len) = span(first, shape)?;
                linspace_block(start, stop, num, first, len)
            }))
        }
        _ => create_number::<T>(spec),
    }
}

/// The block generator of a spec, for its element type.
#[cfg(feature = "ship")]
fn create_kernel(spec: &CreateSpec) -> Result<Func> {
    match &spec.source {
        Source::Fill(_) | Source::Random(_) => {
            dispatch!(element CREATE, spec.dtype, |T| create_element::<T>(spec))
        }
        Source::Arange { .. } | Source::Eye => {
            dispatch!(number CREATE, spec.dtype, |T| create_number::<T>(spec))
        }
        Source::Linspace { .. } => {
            dispatch!(float CREATE, spec.dtype, |T| create_float::<T>(spec))
        }
    }
}
#[cfg(feature = "ship")]
factory!(CREATE, CreateSpec, create_kernel);

/// Makes one block from its start and shape.
struct Generate<T, F> {
    name: Arc<str>,
    /// What the blocks are, for messages.
    label: Arc<str>,
    params: Option<Vec<u8>>,
    f: F,
    marker: PhantomData<fn() -> T>,
}

impl<T, F> Function for Generate<T, F>
where
    T: Element,
    F: Fn(&[usize], &[usize]) -> Result<Block<T>> + Send + Sync + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn params(&self) -> Option<&[u8]> {
        self.params.as_deref()
    }

    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let geometry = inputs
            .first()
            .ok_or_else(|| invalid("a block generator takes its region"))?
            .as_value()?
            .downcast_ref::<Vec<usize>>()?;
        let (start, shape) = geometry.split_at(geometry.len() / 2);
        let block = (self.f)(start, shape)?;
        if block.shape() != shape {
            return Err(ArrayError::BlockShape {
                name: self.label.to_string(),
                block: start.to_vec(),
                expected: shape.to_vec(),
                actual: block.shape().to_vec(),
                hint: "the block function must return exactly the shape it is given",
            }
            .into());
        }
        Ok(block.into_value())
    }
}

/// Start and shape of a block, concatenated: the literal generators read.
pub(crate) fn geometry(chunks: &Chunks, index: &[usize]) -> Vec<usize> {
    let mut g = chunks.block_start(index).unwrap_or_default();
    g.extend(chunks.block_shape(index).unwrap_or_default());
    g
}

impl<T: Element> Array<T> {
    /// An array of one block per chunk, each made by `f(start, shape)`.
    /// `name` is the array's name when `params` make it reproducible.
    pub(crate) fn generated<F>(
        label: &str,
        params: Option<Vec<u8>>,
        chunks: Chunks,
        f: F,
    ) -> Result<Array<T>>
    where
        F: Fn(&[usize], &[usize]) -> Result<Block<T>> + Send + Sync + 'static,
    {
        let name: Arc<str> = match &params {
            Some(p) => token_name(label, &(p.clone(), chunks.as_slices().to_vec())).into(),
            None => unique_name(label).into(),
        };
        let function = Func::from_function(Generate {
            name: label.into(),
            label: label.into(),
            params: params.or_else(|| Some(name.as_bytes().to_vec())),
            f,
            marker: PhantomData,
        });
        Array::generated_by(name, chunks, Ok(function))
    }

    /// An array of one block per chunk, each made by the registered
    /// generator of `source`, built by `make` (the builder of this element
    /// type's class, [`create_element`] or another); `token` names the
    /// array.
    pub(crate) fn created(
        label: &str,
        token: Vec<u8>,
        chunks: Chunks,
        source: Source,
        make: fn(&CreateSpec) -> Result<Func>,
    ) -> Result<Array<T>> {
        let name: Arc<str> = token_name(label, &(token, chunks.as_slices().to_vec())).into();
        let spec = CreateSpec {
            dtype: T::CODE,
            source,
        };
        Array::generated_by(name, chunks, make(&spec))
    }

    fn generated_by(name: Arc<str>, chunks: Chunks, function: Result<Func>) -> Result<Array<T>> {
        let function = function?;
        let layer = Array::<T>::layer_for(&name, &chunks, |index| {
            Task::call(&function, [lit(geometry(&chunks, index))])
        })?;
        Ok(Array::from_layer(name, chunks, layer, &[], []))
    }

    /// An array of the data in `data`, cut into `chunks`.
    ///
    /// The data moves into the graph once; each block task copies its own
    /// chunk out of it, so no more than one chunk is copied at a time
    /// (Dask's `from_array`).
    ///
    /// ```
    /// use barrow_array::Array;
    /// use ndarray::Array2;
    ///
    /// let data = Array2::<f64>::zeros((4000, 3000));
    /// let x = Array::from_array(data, [1000, 1000])?;
    /// assert_eq!(x.chunks().to_string(), "((1000, 1000, 1000, 1000), (1000, 1000, 1000))");
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn from_array<D: ndarray::Dimension>(
        data: ndarray::Array<T, D>,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array<T>> {
        let data = data.into_dyn();
        let chunks = resolve_chunks::<T>(&chunks.into(), data.shape(), None)?;
        let name: Arc<str> = unique_name("array").into();
        let source = block_key(&format!("{name}-source"), &[]);
        let mut layer =
            Layer::try_with_capacity(name.as_ref(), chunks.nblocks().saturating_add(1))?;
        if chunks.nblocks() == 1 {
            let index = vec![0; chunks.ndim()];
            layer.insert(
                block_key(&name, &index),
                Task::value(Block::Dense(data).into_value()),
            )?;
        } else {
            let nbytes = data.len() * T::ITEMSIZE;
            layer.insert(
                source.clone(),
                Task::value(Value::with_nbytes(data, nbytes)),
            )?;
            let getter = getter_typed::<T>()?;
            for index in chunks.block_indices() {
                layer.insert(
                    block_key(&name, &index),
                    Task::call(
                        &getter,
                        [key(source.clone()), lit(geometry(&chunks, &index))],
                    ),
                )?;
            }
        }
        Ok(Array::from_layer(name, chunks, layer, &[], []))
    }

    /// A one-dimensional array of `data`, cut into blocks of `chunk`
    /// elements.
    pub fn from_vec(data: Vec<T>, chunk: usize) -> Result<Array<T>> {
        Array::from_array(ndarray::Array1::from_vec(data), chunk)
    }

    /// A zero-dimensional array holding `value`.
    pub fn from_scalar(value: T) -> Array<T> {
        let chunks = Chunks::from_vec_unchecked(vec![]);
        Array::created(
            "scalar",
            scalar_bytes(&value),
            chunks.clone(),
            Source::Fill(value.to_scalar()),
            create_element::<T>,
        )
        .unwrap_or_else(|e| Array::failed(e, chunks))
    }

    /// An array of `shape` filled with `value` (NumPy's `full`). Its blocks
    /// hold one element each, whatever their size, until an operation needs
    /// their data.
    pub fn full(shape: &[usize], value: T, chunks: impl Into<ChunkSpec>) -> Result<Array<T>> {
        let chunks = resolve_chunks::<T>(&chunks.into(), shape, None)?;
        let params = scalar_bytes(&value);
        Array::created(
            "full",
            params,
            chunks,
            Source::Fill(value.to_scalar()),
            create_element::<T>,
        )
    }

    /// An array of `shape` whose blocks are made by `f(start, shape)` — the
    /// block's first index and its shape — which must return an array of
    /// that shape.
    ///
    /// ```
    /// use barrow_array::Array;
    /// use ndarray::ArrayD;
    /// # barrow_local::link();
    ///
    /// // Each element is its row index.
    /// let rows = Array::<i64>::from_fn(&[4, 2], [2, 2], |start, shape| {
    ///     Ok(ArrayD::from_shape_fn(shape, |ix| (start[0] + ix[0]) as i64))
    /// })?;
    /// assert_eq!(rows.compute()?.into_raw_vec_and_offset().0, [0, 0, 1, 1, 2, 2, 3, 3]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn from_fn<F>(shape: &[usize], chunks: impl Into<ChunkSpec>, f: F) -> Result<Array<T>>
    where
        F: Fn(&[usize], &[usize]) -> Result<ArrayD<T>> + Send + Sync + 'static,
    {
        let chunks = resolve_chunks::<T>(&chunks.into(), shape, None)?;
        Array::generated("from_fn", None, chunks, move |start, shape| {
            Ok(Block::Dense(f(start, shape)?))
        })
    }

    /// The graph of this array as a plain [`Graph`], for inspection.
    pub fn to_graph(&self) -> Graph {
        self.graph.clone()
    }
}

fn scalar_bytes<T: Element>(value: &T) -> Vec<u8> {
    barrow_core::tokenize::tokenize(&(T::DTYPE, *value)).into_bytes()
}

impl<T: Number> Array<T> {
    /// An array of zeros.
    pub fn zeros(shape: &[usize], chunks: impl Into<ChunkSpec>) -> Result<Array<T>> {
        Array::full(shape, T::zero(), chunks)
    }

    /// An array of ones.
    ///
    /// ```
    /// use barrow_array::Array;
    /// # barrow_local::link();
    ///
    /// let x = Array::<f64>::ones(&[20000, 20000], 2000)?;
    /// assert_eq!(x.numblocks(), [10, 10]);
    /// assert_eq!(x.sum().compute()?, 4.0e8);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn ones(shape: &[usize], chunks: impl Into<ChunkSpec>) -> Result<Array<T>> {
        Array::full(shape, T::one(), chunks)
    }

    /// `start, start + step, ...` up to (not including) `stop`, as NumPy's
    /// `arange`.
    ///
    /// ```
    /// use barrow_array::Array;
    /// # barrow_local::link();
    ///
    /// let x = Array::<i64>::arange(0, 100, 1, 10)?;
    /// assert_eq!(x.sum().compute()?, 4950);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn arange(start: T, stop: T, step: T, chunks: impl Into<ChunkSpec>) -> Result<Array<T>> {
        if step == T::zero() {
            return Err(invalid("arange needs a nonzero step"));
        }
        let span = (stop.to_f64() - start.to_f64()) / step.to_f64();
        let n = if span > 0.0 { span.ceil() as usize } else { 0 };
        let chunks = resolve_chunks::<T>(&chunks.into(), &[n], None)?;
        let params = barrow_core::tokenize::tokenize(&(T::DTYPE, start, stop, step)).into_bytes();
        let source = Source::Arange {
            start: start.to_scalar(),
            step: step.to_scalar(),
        };
        Array::created("arange", params, chunks, source, create_number::<T>)
    }

    /// The `n × n` identity matrix.
    pub fn eye(n: usize, chunks: impl Into<ChunkSpec>) -> Result<Array<T>> {
        let chunks = resolve_chunks::<T>(&chunks.into(), &[n, n], None)?;
        let params = barrow_core::tokenize::tokenize(&(T::DTYPE, n)).into_bytes();
        Array::created("eye", params, chunks, Source::Eye, create_number::<T>)
    }
}

impl<T: Float> Array<T> {
    /// `num` evenly spaced values from `start` to `stop`, both included
    /// (NumPy's `linspace`).
    pub fn linspace(
        start: T,
        stop: T,
        num: usize,
        chunks: impl Into<ChunkSpec>,
    ) -> Result<Array<T>> {
        let chunks = resolve_chunks::<T>(&chunks.into(), &[num], None)?;
        let params = barrow_core::tokenize::tokenize(&(T::DTYPE, start, stop, num)).into_bytes();
        let source = Source::Linspace {
            start: start.to_scalar(),
            stop: stop.to_scalar(),
            num: num as u64,
        };
        Array::created("linspace", params, chunks, source, create_float::<T>)
    }
}
