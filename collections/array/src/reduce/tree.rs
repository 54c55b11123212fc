//! The graph of a tree reduction and its three task functions.

use std::marker::PhantomData;
use std::sync::Arc;

use barrow_core::arg::{key, keys, lit};
use barrow_core::function::{Function, Input};
use barrow_core::tokenize::token_name;
use barrow_core::{Func, Graph, Key, Layer, Result, Task, Value};
use barrow_delayed::Delayed;
use ndarray::{ArrayD, Axis, IxDyn, Zip};

use super::{Axes, Reducer};
use crate::array::{Array, StreamBlock, block_key};
use crate::block::{Block, block_ref};
use crate::chunks::Chunks;
use crate::dtype::Element;
use crate::error::invalid;

/// Partial results a reduction task combines, unless the array says
/// otherwise ([`Array::split_every`]): Dask's default, spread over the
/// reduced axes.
pub const DEFAULT_SPLIT_EVERY: usize = 16;

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
    fn name(&self) -> &str {
        &self.name
    }
    fn params(&self) -> Option<&[u8]> {
        Some(&self.params)
    }
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
    fn name(&self) -> &str {
        &self.name
    }
    fn params(&self) -> Option<&[u8]> {
        Some(&self.params)
    }
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
    fn name(&self) -> &str {
        &self.name
    }
    fn params(&self) -> Option<&[u8]> {
        Some(&self.params)
    }
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
    fn name(&self) -> &str {
        &self.name
    }
    fn params(&self) -> Option<&[u8]> {
        Some(&self.params)
    }
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

/// The group size along each reduced axis: `split_every` spread so their
/// product stays near it (Dask's rule).
fn per_axis(split_every: usize, naxes: usize) -> usize {
    if naxes == 0 {
        return split_every.max(2);
    }
    ((split_every as f64).powf(1.0 / naxes as f64).floor() as usize).max(2)
}

/// Row-major iteration over every index of `grid`.
fn grid_indices(grid: &[usize]) -> Vec<Vec<usize>> {
    Chunks::from_vec_unchecked(grid.iter().map(|&n| vec![1; n]).collect())
        .block_indices()
        .collect()
}

struct Built {
    graph: Graph,
    /// Output keys: per output block in row-major order.
    keys: Vec<Key>,
    name: Arc<str>,
    chunks: Chunks,
}

fn build<T: Element, R: Reducer<T>>(
    x: &Array<T>,
    reducer: R,
    axes: &Axes,
    scalar: bool,
) -> Result<Built> {
    let shape = x.shape();
    let reduced = axes.resolve(&shape)?;
    let ndim = shape.len();
    if !reducer.has_identity() && reduced.iter().any(|&a| shape[a] == 0) {
        return Err(crate::error::ArrayError::EmptyReduction {
            operation: reducer.name(),
            shape: shape.clone(),
            hint: "an empty axis has no smallest or largest element; reduce along non-empty axes",
        }
        .into());
    }
    let split = per_axis(x.split_every.unwrap_or(DEFAULT_SPLIT_EVERY), reduced.len());
    let label = reducer.name();
    let token = (
        x.name.as_ref(),
        reducer.params(),
        reduced.clone(),
        axes.keepdims,
        scalar,
        split,
    );
    let out_name: Arc<str> = token_name(label, &token).into();
    let params = out_name.as_bytes().to_vec();
    let chunk_name = format!("{label}-chunk-{}", &out_name[label.len() + 1..]);
    let chunk_fn = Func::from_function(ChunkReduce::<T, R> {
        name: format!("{label}-chunk").into(),
        params: params.clone(),
        reducer: reducer.clone(),
        axes: reduced.clone(),
        marker: PhantomData,
    });
    let mut layer = Layer::with_capacity(out_name.as_ref(), x.chunks.nblocks() * 2);
    // Generated blocks reduced over every axis never need to exist whole.
    let streamed = match &x.stream {
        Some(stream) if reduced.len() == ndim && ndim > 0 && reducer.streams() => {
            Some(Func::from_function(StreamReduce::<T, R> {
                name: format!("{label}-chunk").into(),
                params: params.clone(),
                reducer: reducer.clone(),
                stream: stream.clone(),
                marker: PhantomData,
            }))
        }
        _ => None,
    };
    for index in x.chunks.block_indices() {
        let task = match &streamed {
            Some(f) => Task::call(f, [lit(crate::create::geometry(&x.chunks, &index))]),
            None => {
                let start = x.chunks.block_start(&index).unwrap_or_default();
                Task::call(&chunk_fn, [key(block_key(&x.name, &index)), lit(start)])
            }
        };
        layer.insert(block_key(&chunk_name, &index), task)?;
    }
    let mut grid = x.chunks.numblocks();
    let mut level_name = chunk_name;
    let mut level = 0;
    let combine_fn = Func::from_function(Combine::<T, R> {
        name: format!("{label}-combine").into(),
        params: params.clone(),
        reducer: reducer.clone(),
        marker: PhantomData,
    });
    // Combine while some reduced axis has more blocks than one group.
    while reduced.iter().any(|&a| grid[a] > split) {
        level += 1;
        let next_name = format!("{label}-combine{level}-{}", &out_name[label.len() + 1..]);
        let next_grid: Vec<usize> = (0..ndim)
            .map(|a| {
                if reduced.contains(&a) {
                    grid[a].div_ceil(split)
                } else {
                    grid[a]
                }
            })
            .collect();
        for index in grid_indices(&next_grid) {
            let members = group_members(&index, &grid, &reduced, split);
            let member_keys = members.iter().map(|m| block_key(&level_name, m));
            layer.insert(
                block_key(&next_name, &index),
                Task::call(&combine_fn, [keys(member_keys)]),
            )?;
        }
        grid = next_grid;
        level_name = next_name;
    }
    // The last group along the reduced axes: combine and finish.
    let out_chunks: Vec<Vec<usize>> = (0..ndim)
        .filter_map(|a| {
            if reduced.contains(&a) {
                axes.keepdims.then(|| vec![1])
            } else {
                Some(x.chunks.axis(a).to_vec())
            }
        })
        .collect();
    let out_chunks = Chunks::from_vec_unchecked(out_chunks);
    let final_grid: Vec<usize> = (0..ndim)
        .map(|a| if reduced.contains(&a) { 1 } else { grid[a] })
        .collect();
    let mut out_keys = Vec::new();
    for index in grid_indices(&final_grid) {
        let members = group_members(&index, &grid, &reduced, usize::MAX);
        let member_keys = members.iter().map(|m| block_key(&level_name, m));
        let out_index: Vec<usize> = (0..ndim)
            .filter(|a| !reduced.contains(a) || axes.keepdims)
            .map(|a| index[a])
            .collect();
        let out_shape = (!scalar).then(|| out_chunks.block_shape(&out_index).unwrap_or_default());
        let aggregate = Func::from_function(Aggregate::<T, R> {
            name: format!("{label}-aggregate").into(),
            params: params.clone(),
            reducer: reducer.clone(),
            out_shape,
            shape: shape.clone(),
            marker: PhantomData,
        });
        let out_key = if scalar {
            Key::new(out_name.clone())
        } else {
            block_key(&out_name, &out_index)
        };
        layer.insert(out_key.clone(), Task::call(&aggregate, [keys(member_keys)]))?;
        out_keys.push(out_key);
    }
    // A streamed reduction reads none of the array's blocks.
    let mut graph = if streamed.is_some() {
        Graph::new()
    } else {
        x.graph.clone()
    };
    graph.add_layer(Arc::new(layer))?;
    Ok(Built {
        graph,
        keys: out_keys,
        name: out_name,
        chunks: out_chunks,
    })
}

/// The blocks of the previous level that level block `index` combines:
/// `split` consecutive blocks along each reduced axis.
fn group_members(
    index: &[usize],
    grid: &[usize],
    reduced: &[usize],
    split: usize,
) -> Vec<Vec<usize>> {
    let ranges: Vec<(usize, usize)> = (0..grid.len())
        .map(|a| {
            if reduced.contains(&a) {
                let lo = index[a].saturating_mul(split).min(grid[a]);
                let hi = lo.saturating_add(split).min(grid[a]);
                (lo, hi)
            } else {
                (index[a], index[a] + 1)
            }
        })
        .collect();
    let counts: Vec<usize> = ranges.iter().map(|(lo, hi)| hi - lo).collect();
    grid_indices(&counts)
        .into_iter()
        .map(|offset| {
            ranges
                .iter()
                .zip(offset)
                .map(|((lo, _), o)| lo + o)
                .collect()
        })
        .collect()
}

pub(crate) fn reduce_to_scalar<T: Element, R: Reducer<T>>(
    x: &Array<T>,
    reducer: R,
    axes: Axes,
) -> Delayed<R::Out> {
    match build(x, reducer, &axes, true) {
        Ok(built) => {
            let key = built
                .keys
                .into_iter()
                .next()
                .unwrap_or_else(|| Key::new(built.name.clone()));
            Delayed::from_graph(built.graph, key, x.problem.clone())
        }
        Err(e) => Delayed::from_graph(
            Graph::new(),
            Key::new("failed-reduction"),
            Some(e.to_string().into()),
        ),
    }
}

pub(crate) fn reduce_to_array<T: Element, R: Reducer<T>>(
    x: &Array<T>,
    reducer: R,
    axes: Axes,
) -> Array<R::Out> {
    match build(x, reducer, &axes, false) {
        Ok(built) => Array {
            graph: built.graph,
            name: built.name,
            chunks: Arc::new(built.chunks),
            problem: x.problem.clone(),
            split_every: x.split_every,
            stream: None,
            marker: PhantomData,
        },
        Err(e) => Array::failed(e, (*x.chunks).clone()),
    }
}
