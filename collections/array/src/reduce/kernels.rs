//! The task functions of a tree reduction: reduce a block (or stream a
//! generated one), combine partials, finish; registered as
//! `barrow.array.reduce` with a spec of the reduction, its element type
//! and the step.

use std::marker::PhantomData;
use std::sync::Arc;

use barrow_core::function::{Function, Input, encode_params};
use barrow_core::{Func, Result, Value};
use ndarray::{ArrayD, Axis, IxDyn, Zip};

use super::Reducer;
use super::reducers::ReducerSpec;
#[cfg(feature = "ship")]
use super::reducers::{AllR, AnyR, ArgR, MeanR, MinMaxR, ProdR, SumR, VarR};
use crate::array::StreamBlock;
use crate::block::{Block, block_ref};
use crate::dtype::{DType, Element};
use crate::error::invalid;
use crate::random::RandomSpec;
#[cfg(feature = "ship")]
use crate::ship::{dispatch, factory};

/// Which task of the tree.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Step {
    /// Reduce one block along `axes`.
    Chunk { axes: Vec<usize> },
    /// Reduce one generated block, drawn a tile at a time.
    Stream(RandomSpec),
    /// Combine a group of partials.
    Combine,
    /// Combine the last group and finish: a block of `out_shape` (`None`:
    /// one scalar) of a reduction of an array of `shape`.
    Aggregate {
        out_shape: Option<Vec<usize>>,
        shape: Vec<usize>,
    },
}

/// `barrow.array.reduce`: one step of a reduction of elements of `dtype`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ReduceSpec {
    pub dtype: DType,
    pub reducer: ReducerSpec,
    pub step: Step,
}

pub(crate) const REDUCE: &str = "barrow.array.reduce";

/// The task function of one step of reduction `reducer` (whose spec is in
/// `spec`).
pub(crate) fn step_kernel<T: Element, R: Reducer<T>>(
    reducer: R,
    spec: &ReduceSpec,
) -> Result<Func> {
    let name: Arc<str> = REDUCE.into();
    let params = encode_params(REDUCE, spec)?;
    Ok(match &spec.step {
        Step::Chunk { axes } => Func::from_function(ChunkReduce::<T, R> {
            name,
            params,
            reducer,
            axes: axes.clone(),
            marker: PhantomData,
        }),
        Step::Stream(random) => Func::from_function(StreamReduce::<T, R> {
            name,
            params,
            reducer,
            stream: crate::random::source::<T>(random)?,
            marker: PhantomData,
        }),
        Step::Combine => Func::from_function(Combine::<T, R> {
            name,
            params,
            reducer,
            marker: PhantomData,
        }),
        Step::Aggregate { out_shape, shape } => Func::from_function(Aggregate::<T, R> {
            name,
            params,
            reducer,
            out_shape: out_shape.clone(),
            shape: shape.clone(),
            marker: PhantomData,
        }),
    })
}

/// The task function of a reduction spec, in any process.
#[cfg(feature = "ship")]
fn reduce_kernel(spec: &ReduceSpec) -> Result<Func> {
    match &spec.reducer {
        ReducerSpec::Sum => {
            dispatch!(number REDUCE, spec.dtype, |T| step_kernel::<T, _>(SumR, spec))
        }
        ReducerSpec::Prod => {
            dispatch!(number REDUCE, spec.dtype, |T| step_kernel::<T, _>(ProdR, spec))
        }
        ReducerSpec::Any => {
            dispatch!(element REDUCE, spec.dtype, |T| step_kernel::<T, _>(AnyR, spec))
        }
        ReducerSpec::All => {
            dispatch!(element REDUCE, spec.dtype, |T| step_kernel::<T, _>(AllR, spec))
        }
        ReducerSpec::Min => dispatch!(element REDUCE, spec.dtype, |T| {
            step_kernel::<T, _>(MinMaxR::<false>, spec)
        }),
        ReducerSpec::Max => dispatch!(element REDUCE, spec.dtype, |T| {
            step_kernel::<T, _>(MinMaxR::<true>, spec)
        }),
        ReducerSpec::ArgMin { axis, strides } => dispatch!(element REDUCE, spec.dtype, |T| {
            step_kernel::<T, _>(ArgR::<false>::from_parts(*axis, strides.clone()), spec)
        }),
        ReducerSpec::ArgMax { axis, strides } => dispatch!(element REDUCE, spec.dtype, |T| {
            step_kernel::<T, _>(ArgR::<true>::from_parts(*axis, strides.clone()), spec)
        }),
        ReducerSpec::Mean => {
            dispatch!(element REDUCE, spec.dtype, |T| step_kernel::<T, _>(MeanR, spec))
        }
        ReducerSpec::Var { ddof, sqrt } => dispatch!(element REDUCE, spec.dtype, |T| {
            step_kernel::<T, _>(VarR { ddof: *ddof, sqrt: *sqrt }, spec)
        }),
    }
}
#[cfg(feature = "ship")]
factory!(REDUCE, ReduceSpec, reduce_kernel);

/// Per output position of a block, the partial result (`None`: no
/// elements).
type Partials<P> = ArrayD<Option<P>>;

/// Reduces one block along the reduced axes, keeping them with length 1.
struct ChunkReduce<T, R> {
    name: Arc<str>,
    params: Vec<u8>,
    reducer: R,
    axes: Vec<usize>,
    marker: PhantomData<fn() -> T>,
}

fn chunk_partials<T: Element, R: Reducer<T>>(
    r: &R,
    block: &Block<T>,
    start: &[usize],
    axes: &[usize],
) -> Result<Partials<R::P>> {
    let shape = block.shape();
    let ndim = shape.len();
    let keep_shape: Vec<usize> = (0..ndim)
        .map(|a| if axes.contains(&a) { 1 } else { shape[a] })
        .collect();
    let fill = block.fill_value();
    if axes.len() == ndim {
        let p = match fill.and_then(|v| r.fold_fill(v, block.len())) {
            Some(p) => p,
            None => r.fold_view(block.view(), start),
        };
        return Ok(ArrayD::from_elem(IxDyn(&keep_shape), p));
    }
    let view = block.view();
    let kept: Vec<usize> = (0..ndim).filter(|a| !axes.contains(a)).collect();
    let kept_shape: Vec<usize> = kept.iter().map(|&a| shape[a]).collect();
    let lane_len: usize = axes.iter().map(|&a| shape[a]).product();
    let origin: Vec<usize> = axes
        .iter()
        .map(|&a| start.get(a).copied().unwrap_or(0))
        .collect();
    let lanes = ArrayD::from_shape_fn(IxDyn(&kept_shape), |ix| {
        if let Some(p) = fill.and_then(|v| r.fold_fill(v, lane_len)) {
            return p;
        }
        let mut sub = view.view();
        for (k, &a) in kept.iter().enumerate().rev() {
            sub = sub.index_axis_move(Axis(a), ix[k]);
        }
        r.fold_view(sub, &origin)
    });
    lanes
        .into_shape_with_order(IxDyn(&keep_shape))
        .map_err(|e| invalid(format!("reduction: {e}")))
}

impl<T: Element, R: Reducer<T>> Function for ChunkReduce<T, R> {
    crate::kernel::registered_methods!();
    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let (Some(block), Some(start)) = (inputs.first(), inputs.get(1)) else {
            return Err(invalid("a chunk reduction takes a block and its start"));
        };
        let block = block_ref::<T>(block)?;
        let start = start.as_value()?.downcast_ref::<Vec<usize>>()?;
        let partials = chunk_partials(&self.reducer, block, start, &self.axes)?;
        let nbytes = partials.len() * std::mem::size_of::<Option<R::P>>();
        Ok(Value::with_nbytes(partials, nbytes.max(64)))
    }
}

fn combine_list<T: Element, R: Reducer<T>>(r: &R, inputs: &[Input]) -> Result<Partials<R::P>> {
    let list = inputs
        .first()
        .ok_or_else(|| invalid("a reduction combine takes a list of partials"))?
        .as_list()?;
    let mut iter = list.iter();
    let first = iter
        .next()
        .ok_or_else(|| invalid("a reduction combine got no partials"))?;
    let mut acc: Partials<R::P> = first.as_value()?.downcast_ref::<Partials<R::P>>()?.clone();
    for item in iter {
        let next = item.as_value()?.downcast_ref::<Partials<R::P>>()?;
        if next.shape() != acc.shape() {
            return Err(invalid("reduction partials of different shapes"));
        }
        Zip::from(&mut acc).and(next).for_each(|a, b| {
            *a = match (a.take(), b.clone()) {
                (Some(x), Some(y)) => Some(r.combine(x, y)),
                (x, None) => x,
                (None, y) => y,
            };
        });
    }
    Ok(acc)
}

/// Reduces one generated block without storing it: its elements come a
/// tile at a time from the array's generator.
struct StreamReduce<T, R> {
    name: Arc<str>,
    params: Vec<u8>,
    reducer: R,
    stream: Arc<dyn StreamBlock<T>>,
    marker: PhantomData<fn() -> T>,
}

impl<T: Element, R: Reducer<T>> Function for StreamReduce<T, R> {
    crate::kernel::registered_methods!();
    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let geometry = inputs
            .first()
            .ok_or_else(|| invalid("a streamed reduction takes its block's region"))?
            .as_value()?
            .downcast_ref::<Vec<usize>>()?;
        let (start, shape) = geometry.split_at(geometry.len() / 2);
        let r = &self.reducer;
        let mut acc: Option<R::P> = None;
        self.stream.stream(start, shape, &mut |tile: &[T]| {
            let view = ndarray::ArrayView1::from(tile).into_dyn();
            if let Some(p) = r.fold_view(view, &[]) {
                acc = Some(match acc.take() {
                    Some(a) => r.combine(a, p),
                    None => p,
                });
            }
        })?;
        let partials: Partials<R::P> = ArrayD::from_elem(IxDyn(&vec![1; shape.len()]), acc);
        Ok(Value::with_nbytes(partials, 64))
    }
}

/// Combines a group of partials into one.
struct Combine<T, R> {
    name: Arc<str>,
    params: Vec<u8>,
    reducer: R,
    marker: PhantomData<fn() -> T>,
}

impl<T: Element, R: Reducer<T>> Function for Combine<T, R> {
    crate::kernel::registered_methods!();
    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let partials = combine_list(&self.reducer, inputs)?;
        let nbytes = partials.len() * std::mem::size_of::<Option<R::P>>();
        Ok(Value::with_nbytes(partials, nbytes.max(64)))
    }
}

/// Combines the last group and finishes: a block of results, or (for a
/// reduction over every axis) the one result itself.
struct Aggregate<T, R> {
    name: Arc<str>,
    params: Vec<u8>,
    reducer: R,
    /// The output block's shape (`None`: a scalar).
    out_shape: Option<Vec<usize>>,
    /// The reduced array's shape, for messages.
    shape: Vec<usize>,
    marker: PhantomData<fn() -> T>,
}

impl<T: Element, R: Reducer<T>> Function for Aggregate<T, R> {
    crate::kernel::registered_methods!();
    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let partials = combine_list(&self.reducer, inputs)?;
        let mut results = Vec::with_capacity(partials.len());
        for p in partials.iter() {
            results.push(self.reducer.finish(p.clone(), &self.shape)?);
        }
        match &self.out_shape {
            None => match results.as_slice() {
                [one] => Ok(Value::new(*one)),
                _ => Err(invalid("a full reduction ended with more than one result")),
            },
            Some(shape) => {
                let data = ArrayD::from_shape_vec(IxDyn(shape), results)
                    .map_err(|e| invalid(format!("reduction: {e}")))?;
                Ok(Block::Dense(data).into_value())
            }
        }
    }
}
