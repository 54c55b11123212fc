//! Shared pieces of the property suite: the schedulers, comparisons with
//! tolerances, and reference implementations of what `ndarray` lacks.

pub mod strategies;

mod bad_input;
mod creation;
mod elementwise;
mod layouts;
mod linalg;
mod plans;
mod rechunk_io;
mod reductions;
mod reshape_slice;
mod shape_ops;
mod sizes;

use std::fmt::Debug;

use barrow_array::{Array, Element};
use barrow_core::{Collection, Options};
use ndarray::{ArrayD, Axis, IxDyn, Zip};
use proptest::test_runner::Config as ProptestConfig;

/// The schedulers every result is computed on.
pub const SCHEDULERS: [&str; 2] = ["sync", "threads"];

/// Few, small cases per property: the whole suite runs in seconds in debug.
/// `PROPTEST_CASES` in the environment asks for more (or fewer).
pub fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Options naming one scheduler.
pub fn options(scheduler: &str) -> Options {
    Options::new().scheduler(scheduler)
}

/// `collection` computed on every scheduler; panics (failing the case)
/// with the error if one fails.
pub fn compute_all<C: Collection>(collection: &C, what: &str) -> Vec<C::Output> {
    barrow_local::link();
    SCHEDULERS
        .iter()
        .map(|s| {
            barrow_core::compute_with(collection, &options(s))
                .unwrap_or_else(|e| panic!("{what} failed on {s}: {e}"))
        })
        .collect()
}

/// `collection` computed on every scheduler, each expected to fail;
/// returns the error messages.
pub fn errors_all<C: Collection>(collection: &C, what: &str) -> Vec<String>
where
    C::Output: Debug,
{
    barrow_local::link();
    SCHEDULERS
        .iter()
        .map(
            |s| match barrow_core::compute_with(collection, &options(s)) {
                Ok(v) => panic!("{what} should fail on {s}, gave {v:?}"),
                Err(e) => e.to_string(),
            },
        )
        .collect()
}

/// Equality for comparisons: exact for integers and booleans, relative
/// 1e-9 (with an absolute floor for values near 0) for floats, NaN equal
/// to NaN.
pub trait Close: Copy + Debug {
    /// Whether `self` is `other` within the tolerance.
    fn close(self, other: Self) -> bool;
}

macro_rules! exact {
    ($($t:ty),*) => {$(impl Close for $t {
        fn close(self, other: Self) -> bool {
            self == other
        }
    })*};
}
exact!(i64, i32, i16, i8, u64, u32, u16, u8, usize, bool);

impl Close for f64 {
    fn close(self, other: f64) -> bool {
        if self.is_nan() || other.is_nan() {
            return self.is_nan() && other.is_nan();
        }
        if self.is_infinite() || other.is_infinite() {
            return self == other;
        }
        (self - other).abs() <= 1e-9 * self.abs().max(other.abs()).max(1e-3)
    }
}

impl Close for f32 {
    fn close(self, other: f32) -> bool {
        if self.is_nan() || other.is_nan() {
            return self.is_nan() && other.is_nan();
        }
        (self - other).abs() <= 1e-5 * self.abs().max(other.abs()).max(1e-3)
    }
}

/// Asserts `got` has `want`'s shape and close elements.
pub fn assert_close<T: Close>(got: &ArrayD<T>, want: &ArrayD<T>, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    if let Some((i, (g, w))) = got
        .iter()
        .zip(want.iter())
        .enumerate()
        .find(|(_, (g, w))| !g.close(**w))
    {
        panic!("{what}: element {i} (row-major) is {g:?}, want {w:?}\n got {got:?}\nwant {want:?}");
    }
}

/// Asserts a scalar result is close to the reference.
pub fn assert_scalar<T: Close>(got: T, want: T, what: &str) {
    assert!(got.close(want), "{what}: got {got:?}, want {want:?}");
}

/// Asserts the array's chunks are canonical: one list per axis, positive
/// sizes adding up to the axis, `(0,)` for an empty axis.
pub fn assert_canonical<T: Element>(array: &Array<T>, what: &str) {
    let chunks = array.chunks().clone();
    let shape = array.shape();
    if let Err(e) = barrow_array::Chunks::new(chunks.clone().into_inner(), &shape) {
        panic!("{what}: chunks {chunks} are not canonical for shape {shape:?}: {e}");
    }
}

/// Computes `array` on every scheduler and compares with `want`; checks
/// the declared shape and the chunks too.
pub fn check<T: Element + Close>(array: &Array<T>, want: &ArrayD<T>, what: &str) {
    assert_eq!(array.shape(), want.shape(), "{what}: declared shape");
    assert_canonical(array, what);
    for (got, s) in compute_all(array, what).iter().zip(SCHEDULERS) {
        assert_close(got, want, &format!("{what} [{s}]"));
    }
}

/// The array of `data` cut into `chunks` (explicit blocks).
pub fn dask<T: Element>(data: &ArrayD<T>, chunks: &[Vec<usize>]) -> Array<T> {
    Array::from_array(data.clone(), chunks.to_vec())
        .unwrap_or_else(|e| panic!("from_array {:?} with {chunks:?}: {e}", data.shape()))
}

/// NumPy's broadcast shape of two shapes, `None` if they do not broadcast.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let at = |s: &[usize], k: usize| if k < s.len() { s[s.len() - 1 - k] } else { 1 };
    let mut out = vec![0; n];
    for k in 0..n {
        let (x, y) = (at(a, k), at(b, k));
        out[n - 1 - k] = match (x, y) {
            _ if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// `f` over `a` and `b` broadcast together, on plain ndarrays.
pub fn ref_zip<A: Copy, B: Copy, C>(
    a: &ArrayD<A>,
    b: &ArrayD<B>,
    f: impl Fn(A, B) -> C,
) -> ArrayD<C> {
    let shape = broadcast_shape(a.shape(), b.shape()).expect("shapes broadcast");
    let av = a.broadcast(IxDyn(&shape)).expect("a broadcasts");
    let bv = b.broadcast(IxDyn(&shape)).expect("b broadcasts");
    Zip::from(&av).and(&bv).map_collect(|&x, &y| f(x, y))
}

/// `f` applied to the lane of every output position: the elements along
/// `axes` (sorted, distinct) in row-major order. With `keepdims` the
/// reduced axes stay with length 1.
pub fn ref_reduce<T: Copy, A>(
    x: &ArrayD<T>,
    axes: &[usize],
    keepdims: bool,
    f: impl Fn(&[T]) -> A,
) -> ArrayD<A> {
    let ndim = x.ndim();
    let kept: Vec<usize> = (0..ndim).filter(|a| !axes.contains(a)).collect();
    let perm: Vec<usize> = kept.iter().chain(axes).copied().collect();
    let moved = x.view().permuted_axes(IxDyn(&perm));
    let flat: Vec<T> = moved.iter().copied().collect();
    let outer: usize = kept.iter().map(|&a| x.shape()[a]).product();
    let lane: usize = axes.iter().map(|&a| x.shape()[a]).product();
    let values: Vec<A> = (0..outer)
        .map(|i| f(&flat[i * lane..(i + 1) * lane]))
        .collect();
    let shape: Vec<usize> = if keepdims {
        (0..ndim)
            .map(|a| if axes.contains(&a) { 1 } else { x.shape()[a] })
            .collect()
    } else {
        kept.iter().map(|&a| x.shape()[a]).collect()
    };
    ArrayD::from_shape_vec(IxDyn(&shape), values).expect("reduced shape")
}

/// NumPy's variance with `ddof` (NaN when there are no more elements
/// than `ddof`), by two passes.
pub fn ref_var(values: &[f64], ddof: usize) -> f64 {
    let n = values.len();
    if n <= ddof {
        return f64::NAN;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - ddof) as f64
}

/// NumPy's mean (NaN for nothing).
pub fn ref_mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The first position of the smallest (`max = false`) or largest value.
pub fn ref_arg<T: PartialOrd + Copy>(values: &[T], max: bool) -> Option<usize> {
    let mut best: Option<(usize, T)> = None;
    for (i, &v) in values.iter().enumerate() {
        best = match best {
            Some((_, b)) if (max && v > b) || (!max && v < b) => Some((i, v)),
            None => Some((i, v)),
            keep => keep,
        };
    }
    best.map(|(i, _)| i)
}

/// The smallest or largest value.
pub fn ref_extreme<T: PartialOrd + Copy>(values: &[T], max: bool) -> Option<T> {
    ref_arg(values, max).map(|i| values[i])
}

/// `x` along `axis` at `indices` (NumPy's `take`).
pub fn ref_take<T: Copy>(x: &ArrayD<T>, indices: &[usize], axis: usize) -> ArrayD<T> {
    x.select(Axis(axis), indices)
}
