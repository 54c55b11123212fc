//! One chunk of an array, as tasks pass it around.

use barrow_core::function::Input;
use barrow_core::{Result, Value};
use ndarray::{ArrayD, ArrayViewD, IxDyn};

use crate::dtype::Element;

/// The value of one chunk: dense data, or one value repeated over a shape.
///
/// `ones`, `zeros` and `full` give [`Block::Fill`] chunks, which cost one
/// element of memory whatever their shape, as Dask's (which are NumPy
/// broadcasts of a scalar); element-wise operations with scalars keep them
/// filled, reductions over them take a closed form, and everything else
/// reads them through [`Block::view`] as a broadcast view.
#[derive(Debug, Clone, PartialEq)]
pub enum Block<T> {
    /// Ordinary data, in any memory layout.
    Dense(ArrayD<T>),
    /// `value` at every position of `shape`.
    Fill {
        /// The block's shape.
        shape: Vec<usize>,
        /// One element of the block's type, shaped `[1, 1, ...]`.
        value: ArrayD<T>,
    },
}

impl<T: Element> Block<T> {
    /// A block filled with `value`.
    pub fn filled(shape: &[usize], value: T) -> Block<T> {
        Block::Fill {
            shape: shape.to_vec(),
            value: ArrayD::from_elem(IxDyn(&vec![1; shape.len()]), value),
        }
    }

    /// The block's shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            Block::Dense(data) => data.shape(),
            Block::Fill { shape, .. } => shape,
        }
    }

    /// Number of elements (saturating: blocks of arrays always fit, see
    /// [`ArrayError::TooLarge`](crate::ArrayError::TooLarge)).
    pub fn len(&self) -> usize {
        crate::size::elements(self.shape()).unwrap_or(usize::MAX)
    }

    /// Whether the block has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The repeated value of a filled block.
    pub fn fill_value(&self) -> Option<T> {
        match self {
            Block::Dense(_) => None,
            Block::Fill { value, .. } => value.iter().next().copied(),
        }
    }

    /// A view of the data (a broadcast view for a filled block).
    pub fn view(&self) -> ArrayViewD<'_, T> {
        match self {
            Block::Dense(data) => data.view(),
            Block::Fill { shape, value } => match value.broadcast(IxDyn(shape)) {
                Some(view) => view,
                // `value` is all ones in every axis, so it broadcasts to any
                // shape of its length; this arm only keeps the type honest.
                None => value.view(),
            },
        }
    }

    /// The data as an owned array (copied for a filled block).
    pub fn into_dense(self) -> ArrayD<T> {
        match self {
            Block::Dense(data) => data,
            fill @ Block::Fill { .. } => fill.view().to_owned(),
        }
    }

    /// Bytes of memory the block holds.
    pub fn nbytes(&self) -> usize {
        match self {
            Block::Dense(data) => data.len() * T::ITEMSIZE,
            Block::Fill { .. } => T::ITEMSIZE,
        }
    }

    /// The block as a task value, with its size for memory accounting.
    pub fn into_value(self) -> Value {
        let nbytes = self.nbytes().max(64);
        Value::with_nbytes(self, nbytes)
    }

    /// Applies `f` to every element.
    pub fn map<U: Element>(&self, f: impl Fn(T) -> U) -> Block<U> {
        match self {
            Block::Dense(data) => Block::Dense(data.mapv(f)),
            Block::Fill { shape, value } => Block::Fill {
                shape: shape.clone(),
                value: value.mapv(f),
            },
        }
    }

    /// Applies `f` to every element, reusing the memory.
    pub fn map_inplace(&mut self, f: impl Fn(T) -> T) {
        match self {
            Block::Dense(data) => data.mapv_inplace(f),
            Block::Fill { value, .. } => value.mapv_inplace(f),
        }
    }
}

/// The block an input holds.
pub(crate) fn block_ref<'a, T: Element>(input: &'a Input<'a>) -> Result<&'a Block<T>> {
    input.as_value()?.downcast_ref::<Block<T>>()
}

/// The block an input holds, taken when no one else holds it.
pub(crate) fn try_take_unique<T: Element>(input: &mut Input) -> Option<Block<T>> {
    let taken = std::mem::replace(input, Input::List(Vec::new()));
    match taken {
        Input::Value(value) => match value.try_take::<Block<T>>() {
            Ok(block) => Some(block),
            Err(shared) => {
                *input = Input::Value(shared);
                None
            }
        },
        // A literal of the task, or a list: never taken.
        other @ (Input::Borrowed(_) | Input::List(_)) => {
            *input = other;
            None
        }
    }
}
