//! The [`Array`] handle: a graph, the name of its blocks, and its chunks.

use std::marker::PhantomData;
use std::sync::Arc;

use barrow_core::collection::{Collection, Persist};
use barrow_core::{Error, ErrorKind, Graph, Key, Layer, Result, Task, Value};
use ndarray::{ArrayD, IxDyn};

use crate::block::Block;
use crate::chunks::Chunks;
use crate::dtype::Element;
use crate::warn;

/// A lazy n-dimensional array of `T`, cut into chunks (Dask's
/// `dask.array.Array`).
///
/// Cheap to clone: a list of shared graph layers, a name and the chunks.
/// The block at block index `(i, j, ...)` is the value of key
/// `(name, i, j, ...)`, a [`Block<T>`]. `T` is only a marker: an array is
/// `Send` and `Sync` whatever `T` is.
pub struct Array<T> {
    pub(crate) graph: Graph,
    pub(crate) name: Arc<str>,
    pub(crate) chunks: Arc<Chunks>,
    /// The first problem met while building the array, reported by
    /// `compute` (operators such as `+` cannot return a `Result`).
    pub(crate) problem: Option<Arc<str>>,
    /// Partial results a reduction combines per task, if set.
    pub(crate) split_every: Option<usize>,
    /// How to produce a block's elements without storing the block, when
    /// its values are generated (seeded random numbers): a reduction over
    /// every axis then folds them as they come, a tile at a time, instead
    /// of materializing chunks (Dask's "fuse the creation into the
    /// reduction").
    pub(crate) stream: Option<Arc<dyn StreamBlock<T>>>,
    pub(crate) marker: PhantomData<fn() -> T>,
}

/// Produces the elements of one block in row-major order, a tile at a
/// time, into `sink`: exactly the elements the block task would store.
pub(crate) trait StreamBlock<T>: Send + Sync {
    fn stream(&self, start: &[usize], shape: &[usize], sink: &mut dyn FnMut(&[T])) -> Result<()>;
    /// The whole block, as its task makes it.
    fn fill(&self, start: &[usize], shape: &[usize]) -> Result<Block<T>>;
    /// What the blocks are, for another process to make them again.
    fn spec(&self) -> crate::random::RandomSpec;
}

impl<T> Clone for Array<T> {
    fn clone(&self) -> Self {
        Array {
            graph: self.graph.clone(),
            name: self.name.clone(),
            chunks: self.chunks.clone(),
            problem: self.problem.clone(),
            split_every: self.split_every,
            stream: self.stream.clone(),
            marker: PhantomData,
        }
    }
}

/// `chunks`, or the same number of empty axes when no array of `T` can
/// have them (the array's problem says why).
fn possible_chunks<T: Element>(chunks: Chunks) -> Chunks {
    match crate::size::check_chunks::<T>(&chunks) {
        Ok(()) => chunks,
        Err(_) => Chunks::from_vec_unchecked(vec![vec![0]; chunks.ndim()]),
    }
}

/// The key of block `index` of the array named `name`.
pub(crate) fn block_key(name: &str, index: &[usize]) -> Key {
    let index: Vec<u32> = index.iter().map(|&i| i as u32).collect();
    Key::with_index(name, index)
}

impl<T: Element> Array<T> {
    /// An array whose blocks `layer` computes under `(name, ...)`, on top of
    /// the graphs of its inputs.
    pub(crate) fn from_layer(
        name: Arc<str>,
        chunks: Chunks,
        layer: Layer,
        inputs: &[&Graph],
        problems: impl IntoIterator<Item = Option<Arc<str>>>,
    ) -> Array<T> {
        let mut problem = problems.into_iter().flatten().next();
        let mut graph = Graph::new();
        for input in inputs {
            if let Err(e) = graph.merge(input) {
                problem.get_or_insert_with(|| e.to_string().into());
            }
        }
        if let Err(e) = graph.add_layer(Arc::new(layer)) {
            problem.get_or_insert_with(|| e.to_string().into());
        }
        // Layers built by `layer_for` are checked already; this catches the
        // few built by hand.
        if let Err(e) = crate::size::check_chunks::<T>(&chunks) {
            problem.get_or_insert_with(|| e.to_string().into());
        }
        let chunks = possible_chunks::<T>(chunks);
        let array = Array {
            graph,
            name,
            chunks: Arc::new(chunks),
            problem,
            split_every: None,
            stream: None,
            marker: PhantomData,
        };
        warn::check_size(&array);
        array
    }

    /// A layer with one task per block of `chunks`, made by `task(index)`,
    /// once the chunks are known to make a possible array of `T` (see
    /// `crate::size`) and their tasks to fit in memory.
    pub(crate) fn layer_for(
        name: &str,
        chunks: &Chunks,
        mut task: impl FnMut(&[usize]) -> Task,
    ) -> Result<Layer> {
        crate::size::check_chunks::<T>(chunks)?;
        let mut layer = Layer::try_with_capacity(name, chunks.nblocks())?;
        for index in chunks.block_indices() {
            let t = task(&index);
            layer.insert(block_key(name, &index), t)?;
        }
        Ok(layer)
    }

    /// An array in the same graph with a problem attached (shapes that do
    /// not broadcast, say): `compute` reports it.
    pub(crate) fn with_problem(mut self, error: Error) -> Array<T> {
        self.problem.get_or_insert_with(|| error.to_string().into());
        self
    }

    /// An array that only reports `error` when computed, shaped `chunks`
    /// (empty if no array of `T` can have them: every array keeps the
    /// size invariant of `crate::size`, so arithmetic on shapes is safe).
    pub(crate) fn failed(error: Error, chunks: Chunks) -> Array<T> {
        Array {
            graph: Graph::new(),
            name: "failed".into(),
            chunks: Arc::new(possible_chunks::<T>(chunks)),
            problem: Some(error.to_string().into()),
            split_every: None,
            stream: None,
            marker: PhantomData,
        }
    }

    /// The shape.
    pub fn shape(&self) -> Vec<usize> {
        self.chunks.shape()
    }

    /// The number of axes.
    pub fn ndim(&self) -> usize {
        self.chunks.ndim()
    }

    /// The number of elements (it always fits: see [`ArrayError::TooLarge`](crate::ArrayError::TooLarge)).
    pub fn len(&self) -> usize {
        crate::size::elements(&self.shape()).unwrap_or(usize::MAX)
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The block sizes along each axis.
    pub fn chunks(&self) -> &Chunks {
        &self.chunks
    }

    /// Blocks along each axis.
    pub fn numblocks(&self) -> Vec<usize> {
        self.chunks.numblocks()
    }

    /// The name of the blocks' keys.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The keys of the blocks, in row-major block order.
    pub fn block_keys(&self) -> Vec<Key> {
        self.chunks
            .block_indices()
            .map(|index| block_key(&self.name, &index))
            .collect()
    }

    /// The graph that computes the blocks. A problem met while building it
    /// is reported by `compute`, or here by [`Array::check`].
    pub fn graph_ref(&self) -> &Graph {
        &self.graph
    }

    /// The problem met while building the array (shapes that do not
    /// broadcast, say), now rather than at `compute`.
    pub fn check(&self) -> Result<()> {
        match self.problem_error() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    pub(crate) fn problem_error(&self) -> Option<Error> {
        self.problem
            .as_ref()
            .map(|problem| Error::new(ErrorKind::InvalidArgument, problem.to_string()))
    }

    /// The same array; its reductions combine `n` partial results per task
    /// (Dask's `split_every`, default 16 spread over the reduced axes).
    pub fn split_every(mut self, n: usize) -> Array<T> {
        self.split_every = Some(n.max(2));
        self
    }
}

impl<T: Element> Collection for Array<T> {
    type Output = ArrayD<T>;

    fn graph(&self) -> Result<Graph> {
        match self.problem_error() {
            Some(error) => Err(error),
            None => Ok(self.graph.clone()),
        }
    }

    fn output_keys(&self) -> Vec<Key> {
        self.block_keys()
    }

    fn finalize(&self, values: Vec<Value>) -> Result<ArrayD<T>> {
        assemble(&self.chunks, values)
    }

    /// Threads: chunks are big and the work inside a task releases no lock,
    /// so threads share them without copies.
    fn default_scheduler(&self) -> Option<&str> {
        Some("threads")
    }

    /// The whole array in memory: `compute` refuses one that cannot fit
    /// before any block is made.
    fn result_size(&self) -> Option<barrow_core::collection::ResultSize> {
        Some(barrow_core::collection::ResultSize {
            bytes: (self.len() as u64).saturating_mul(T::ITEMSIZE as u64),
            what: format!("an array of shape {:?} of {}", self.shape(), T::DTYPE),
        })
    }
}

impl<T: Element> Persist for Array<T> {
    fn with_results(&self, graph: Graph) -> Array<T> {
        Array {
            graph,
            name: self.name.clone(),
            chunks: self.chunks.clone(),
            problem: None,
            split_every: self.split_every,
            stream: None,
            marker: PhantomData,
        }
    }
}

/// Puts blocks (in row-major block order) together into one array, in one
/// pass that writes each element once (no zero-filled buffer first): lane
/// by lane along the last axis, each lane cut from the blocks it crosses.
pub(crate) fn assemble<T: Element>(chunks: &Chunks, values: Vec<Value>) -> Result<ArrayD<T>> {
    if values.len() == 1 {
        let mut values = values;
        if let Some(value) = values.pop() {
            let block = block_of::<T>(value)?;
            let expected = chunks.shape();
            if block.shape() != expected.as_slice() {
                return Err(wrong_block(
                    vec![0; expected.len()],
                    expected,
                    block.shape(),
                ));
            }
            return Ok(block.into_dense());
        }
        return Err(crate::error::invalid("no blocks to assemble"));
    }
    let shape = chunks.shape();
    let ndim = shape.len();
    let mut blocks: Vec<&Block<T>> = Vec::with_capacity(values.len());
    for (index, value) in chunks.block_indices().zip(&values) {
        let block = value.downcast_ref::<Block<T>>()?;
        let expected = chunks.block_shape(&index).unwrap_or_default();
        if block.shape() != expected.as_slice() {
            return Err(wrong_block(index, expected, block.shape()));
        }
        blocks.push(block);
    }
    let total: usize = shape.iter().product();
    let mut data: Vec<T> = Vec::with_capacity(total);
    if total > 0 && ndim > 0 {
        let last = ndim - 1;
        let numblocks = chunks.numblocks();
        // Row-major strides of the block grid.
        let mut grid_stride = vec![1; ndim];
        for a in (0..last).rev() {
            grid_stride[a] = grid_stride[a + 1] * numblocks[a + 1];
        }
        // Per axis but the last: the block and the index within it.
        let mut block_at = vec![0usize; last];
        let mut local = vec![0usize; last];
        let lanes: usize = shape[..last].iter().product();
        for _ in 0..lanes {
            let base: usize = (0..last).map(|a| block_at[a] * grid_stride[a]).sum();
            for b in 0..numblocks[last] {
                let block = blocks[base + b];
                match block.fill_value() {
                    Some(v) => data.extend(std::iter::repeat_n(v, block.shape()[last])),
                    None => {
                        let mut lane = block.view();
                        for a in (0..last).rev() {
                            lane = lane.index_axis_move(ndarray::Axis(a), local[a]);
                        }
                        match lane.as_slice() {
                            Some(run) => data.extend_from_slice(run),
                            None => data.extend(lane.iter().copied()),
                        }
                    }
                }
            }
            // Next lane: an odometer over (block, local) per axis.
            for a in (0..last).rev() {
                local[a] += 1;
                if local[a] < chunks.axis(a)[block_at[a]] {
                    break;
                }
                local[a] = 0;
                block_at[a] += 1;
                if block_at[a] < numblocks[a] {
                    break;
                }
                block_at[a] = 0;
            }
        }
    }
    ArrayD::from_shape_vec(IxDyn(&shape), data)
        .map_err(|e| crate::error::invalid(format!("assembling blocks: {e}")))
}

fn wrong_block(block: Vec<usize>, expected: Vec<usize>, actual: &[usize]) -> Error {
    crate::error::ArrayError::BlockShape {
        name: "the computed array".into(),
        block,
        expected,
        actual: actual.to_vec(),
        hint: "a map_blocks or from_fn function returned a block of another shape; give the \
               shape it returns in chunks",
    }
    .into()
}

/// The block in a value, taken without a copy when no one else holds it.
pub(crate) fn block_of<T: Element>(value: Value) -> Result<Block<T>> {
    match value.try_take::<Block<T>>() {
        Ok(block) => Ok(block),
        Err(shared) => Ok(shared.downcast_ref::<Block<T>>()?.clone()),
    }
}
