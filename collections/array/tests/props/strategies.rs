//! Random shapes, uneven chunkings and data.

use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use proptest::sample::subsequence;

/// One axis length: 0 and 1 often, up to 9.
pub fn axis_len() -> impl Strategy<Value = usize> {
    prop_oneof![1 => Just(0usize), 2 => Just(1usize), 6 => 2usize..=9]
}

/// A shape of `min..=max` axes.
pub fn shape(min: usize, max: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(axis_len(), min..=max)
}

/// At most this many blocks along one axis of an array of `ndim` axes,
/// so that the number of tasks stays small.
fn max_blocks(ndim: usize) -> usize {
    match ndim {
        0..=2 => 9,
        3 => 4,
        _ => 3,
    }
}

/// Random positive block sizes adding up to `len` (`[0]` for 0), at most
/// `most` of them.
pub fn axis_chunks(len: usize, most: usize) -> BoxedStrategy<Vec<usize>> {
    if len == 0 {
        return Just(vec![0]).boxed();
    }
    let cuts: Vec<usize> = (1..len).collect();
    let most_cuts = most.saturating_sub(1).min(len - 1);
    subsequence(cuts, 0..=most_cuts)
        .prop_map(move |cuts| {
            let mut prev = 0;
            let mut blocks: Vec<usize> = cuts
                .into_iter()
                .map(|c| {
                    let b = c - prev;
                    prev = c;
                    b
                })
                .collect();
            blocks.push(len - prev);
            blocks
        })
        .boxed()
}

/// A random uneven chunking of `shape`.
pub fn chunks_for(shape: &[usize]) -> BoxedStrategy<Vec<Vec<usize>>> {
    let most = max_blocks(shape.len());
    shape
        .iter()
        .map(|&n| axis_chunks(n, most))
        .collect::<Vec<_>>()
        .boxed()
}

/// Data of `shape` drawn from `elem`.
pub fn data_for<T: std::fmt::Debug + Clone + 'static>(
    shape: &[usize],
    elem: impl Strategy<Value = T> + Clone + 'static,
) -> BoxedStrategy<ArrayD<T>> {
    let n: usize = shape.iter().product();
    let shape = shape.to_vec();
    proptest::collection::vec(elem, n)
        .prop_map(move |v| ArrayD::from_shape_vec(IxDyn(&shape), v).expect("data shape"))
        .boxed()
}

/// An array of data and its chunks.
#[derive(Debug, Clone)]
pub struct Case<T> {
    /// The data.
    pub data: ArrayD<T>,
    /// Explicit blocks, one list per axis.
    pub chunks: Vec<Vec<usize>>,
}

impl<T: barrow_array::Element> Case<T> {
    /// The chunked array.
    pub fn array(&self) -> barrow_array::Array<T> {
        super::dask(&self.data, &self.chunks)
    }

    /// The shape.
    pub fn shape(&self) -> Vec<usize> {
        self.data.shape().to_vec()
    }
}

/// A case of the given shape.
pub fn case_of<T: std::fmt::Debug + Clone + 'static>(
    shape: Vec<usize>,
    elem: impl Strategy<Value = T> + Clone + 'static,
) -> BoxedStrategy<Case<T>> {
    (data_for(&shape, elem), chunks_for(&shape))
        .prop_map(|(data, chunks)| Case { data, chunks })
        .boxed()
}

/// A case of `min..=max` axes.
pub fn case<T: std::fmt::Debug + Clone + 'static>(
    min: usize,
    max: usize,
    elem: impl Strategy<Value = T> + Clone + 'static,
) -> BoxedStrategy<Case<T>> {
    shape(min, max)
        .prop_flat_map(move |s| case_of(s, elem.clone()))
        .boxed()
}

/// Small integers, so sums and products are exact and ties common.
pub fn small_int() -> impl Strategy<Value = i64> + Clone {
    -5i64..=5
}

/// Finite floats: small integers (ties) or any value in ±100.
pub fn finite() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![(-3i32..=3).prop_map(f64::from), -100.0f64..100.0]
}

/// Nonzero small integers (divisors).
pub fn nonzero_int() -> impl Strategy<Value = i64> + Clone {
    prop_oneof![-5i64..=-1, 1i64..=5]
}

/// A shape that broadcasts against `full`: some leading axes dropped,
/// some axes set to 1.
pub fn broadcastable(full: Vec<usize>) -> impl Strategy<Value = Vec<usize>> {
    let n = full.len();
    (0..=n, proptest::collection::vec(0u8..3, n)).prop_map(move |(drop, ones)| {
        full.iter()
            .zip(&ones)
            .skip(drop)
            .map(|(&len, &o)| if o == 0 { 1 } else { len })
            .collect()
    })
}

/// Two shapes that broadcast together, both derived from one full shape
/// (so either side may be the one stretched along an axis).
pub fn broadcast_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    shape(0, 4).prop_flat_map(|full| (broadcastable(full.clone()), broadcastable(full)))
}

/// Two cases whose shapes broadcast together, each with its own chunks.
pub fn pair<T: std::fmt::Debug + Clone + 'static, U: std::fmt::Debug + Clone + 'static>(
    left: impl Strategy<Value = T> + Clone + 'static,
    right: impl Strategy<Value = U> + Clone + 'static,
) -> impl Strategy<Value = (Case<T>, Case<U>)> {
    broadcast_pair()
        .prop_flat_map(move |(a, b)| (case_of(a, left.clone()), case_of(b, right.clone())))
}

/// A subset of the axes of an `ndim`-array, sorted.
pub fn axes_subset(ndim: usize) -> impl Strategy<Value = Vec<usize>> {
    subsequence((0..ndim).collect::<Vec<_>>(), 0..=ndim)
}

/// A permutation of `0..n`.
pub fn permutation(n: usize) -> impl Strategy<Value = Vec<usize>> {
    Just((0..n).collect::<Vec<usize>>()).prop_shuffle()
}
