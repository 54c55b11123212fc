//! The graph of a tree reduction and its three task functions.

use std::marker::PhantomData;
use std::sync::Arc;

use barrow_core::arg::{key, keys, lit};
use barrow_core::tokenize::token_name;
use barrow_core::{Graph, Key, Layer, Result, Task};
use barrow_delayed::Delayed;

use super::kernels::{ReduceSpec, Step, step_kernel};
use super::{Axes, Reducer};
use crate::array::{Array, block_key};
use crate::chunks::Chunks;
use crate::dtype::Element;

/// Partial results a reduction task combines, unless the array says
/// otherwise ([`Array::split_every`]): Dask's default, spread over the
/// reduced axes.
pub const DEFAULT_SPLIT_EVERY: usize = 16;

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
    let chunk_name = format!("{label}-chunk-{}", &out_name[label.len() + 1..]);
    let kernel = |step: Step| {
        let spec = ReduceSpec {
            dtype: T::CODE,
            reducer: reducer.spec(),
            step,
        };
        step_kernel::<T, R>(reducer.clone(), &spec)
    };
    let chunk_fn = kernel(Step::Chunk {
        axes: reduced.clone(),
    })?;
    let mut layer =
        Layer::try_with_capacity(out_name.as_ref(), x.chunks.nblocks().saturating_mul(2))?;
    // Generated blocks reduced over every axis never need to exist whole.
    let streamed = match &x.stream {
        Some(stream) if reduced.len() == ndim && ndim > 0 && reducer.streams() => {
            Some(kernel(Step::Stream(stream.spec()))?)
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
    let combine_fn = kernel(Step::Combine)?;
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
        let aggregate = kernel(Step::Aggregate {
            out_shape,
            shape: shape.clone(),
        })?;
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
