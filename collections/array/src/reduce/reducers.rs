//! What each reduction keeps per output position, and how partials
//! combine.

use barrow_core::Result;
use ndarray::{ArrayViewD, Dimension};
use num_traits::{One, Zero};

use crate::dtype::{Element, Number};
use crate::error::ArrayError;

/// A reduction, as task parameters carry it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum ReducerSpec {
    Sum,
    Prod,
    Any,
    All,
    Min,
    Max,
    ArgMin {
        axis: Option<usize>,
        strides: Vec<usize>,
    },
    ArgMax {
        axis: Option<usize>,
        strides: Vec<usize>,
    },
    Mean,
    Var {
        ddof: usize,
        sqrt: bool,
    },
}

/// A reduction: per-position partials `P`, combined pairwise, finished into
/// `Out`.
pub(crate) trait Reducer<T: Element>: Clone + Send + Sync + 'static {
    /// The partial result of part of a lane.
    type P: Clone + Send + Sync + 'static;
    /// The result type.
    type Out: Element;
    /// Names the tasks (`sum`, `mean`).
    fn name(&self) -> &'static str;
    /// The reduction, for another process to make it again.
    fn spec(&self) -> ReducerSpec;
    /// Identifies the reduction's parameters, so equal reductions of the
    /// same array share keys.
    fn params(&self) -> String {
        String::new()
    }
    /// The partial of the elements of `view`, whose first element sits at
    /// global coordinates `origin`; `None` when `view` is empty.
    fn fold_view(&self, view: ArrayViewD<'_, T>, origin: &[usize]) -> Option<Self::P>;
    /// The partial of `n` copies of `value` (a filled block), when a closed
    /// form exists.
    fn fold_fill(&self, _value: T, _n: usize) -> Option<Option<Self::P>> {
        None
    }
    /// Two partials as one.
    fn combine(&self, a: Self::P, b: Self::P) -> Self::P;
    /// Whether the partial of a block may be folded from its elements in
    /// tiles (in order, without their positions): true unless the result
    /// depends on where elements are.
    fn streams(&self) -> bool {
        true
    }
    /// Whether an empty lane has a result (0 for a sum); reductions
    /// without one (min, argmax) refuse to reduce along an empty axis, as
    /// NumPy does.
    fn has_identity(&self) -> bool {
        true
    }
    /// The result from the partial of a whole lane (`None`: the lane was
    /// empty); `shape` is the reduced array's, for messages.
    fn finish(&self, p: Option<Self::P>, shape: &[usize]) -> Result<Self::Out>;
}

/// Folds `view` with `f`, over contiguous memory when it has it (order does
/// not matter to these reductions).
fn fold_any_order<T: Copy, A>(view: &ArrayViewD<'_, T>, init: A, f: impl FnMut(A, T) -> A) -> A {
    match view.as_slice_memory_order() {
        Some(slice) => slice.iter().copied().fold(init, f),
        None => view.iter().copied().fold(init, f),
    }
}

/// A sum in eight independent lanes, so the compiler can vectorize it.
fn sum_lanes<T: Copy, A: Copy + std::ops::Add<Output = A>>(
    slice: &[T],
    zero: A,
    lift: impl Fn(T) -> A,
) -> A {
    let mut acc = [zero; 8];
    let mut chunks = slice.chunks_exact(8);
    for c in &mut chunks {
        for k in 0..8 {
            acc[k] = acc[k] + lift(c[k]);
        }
    }
    let mut total = zero;
    for a in acc {
        total = total + a;
    }
    for &x in chunks.remainder() {
        total = total + lift(x);
    }
    total
}

fn sum_view<T: Copy, A: Copy + std::ops::Add<Output = A>>(
    view: &ArrayViewD<'_, T>,
    zero: A,
    lift: impl Fn(T) -> A,
) -> A {
    match view.as_slice_memory_order() {
        Some(slice) => sum_lanes(slice, zero, lift),
        None => {
            // Sum each contiguous innermost lane in lanes of eight.
            let last = view.ndim().saturating_sub(1);
            if view.ndim() > 0 && view.strides()[last] == 1 {
                let mut total = zero;
                for lane in view.lanes(ndarray::Axis(last)) {
                    total = total
                        + match lane.to_slice() {
                            Some(s) => sum_lanes(s, zero, &lift),
                            None => lane.iter().fold(zero, |a, &x| a + lift(x)),
                        };
                }
                total
            } else {
                view.iter().fold(zero, |a, &x| a + lift(x))
            }
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) struct SumR;

impl<T: Number> Reducer<T> for SumR {
    type P = T::Acc;
    type Out = T::Acc;
    fn spec(&self) -> ReducerSpec {
        ReducerSpec::Sum
    }
    fn name(&self) -> &'static str {
        "sum"
    }
    fn fold_view(&self, view: ArrayViewD<'_, T>, _: &[usize]) -> Option<T::Acc> {
        Some(sum_view(&view, T::Acc::zero(), |x: T| x.to_acc()))
    }
    fn fold_fill(&self, value: T, n: usize) -> Option<Option<T::Acc>> {
        Some(Some(value.to_acc() * T::Acc::from_usize(n)))
    }
    fn combine(&self, a: T::Acc, b: T::Acc) -> T::Acc {
        a + b
    }
    fn finish(&self, p: Option<T::Acc>, _: &[usize]) -> Result<T::Acc> {
        Ok(p.unwrap_or_else(T::Acc::zero))
    }
}

#[derive(Clone, Copy)]
pub(crate) struct ProdR;

impl<T: Number> Reducer<T> for ProdR {
    type P = T::Acc;
    type Out = T::Acc;
    fn spec(&self) -> ReducerSpec {
        ReducerSpec::Prod
    }
    fn name(&self) -> &'static str {
        "prod"
    }
    fn fold_view(&self, view: ArrayViewD<'_, T>, _: &[usize]) -> Option<T::Acc> {
        Some(fold_any_order(&view, T::Acc::one(), |a, x| a * x.to_acc()))
    }
    fn combine(&self, a: T::Acc, b: T::Acc) -> T::Acc {
        a * b
    }
    fn finish(&self, p: Option<T::Acc>, _: &[usize]) -> Result<T::Acc> {
        Ok(p.unwrap_or_else(T::Acc::one))
    }
}

#[derive(Clone, Copy)]
pub(crate) struct AnyR;

impl<T: Element> Reducer<T> for AnyR {
    type P = bool;
    type Out = bool;
    fn spec(&self) -> ReducerSpec {
        ReducerSpec::Any
    }
    fn name(&self) -> &'static str {
        "any"
    }
    fn fold_view(&self, view: ArrayViewD<'_, T>, _: &[usize]) -> Option<bool> {
        let zero = T::default();
        Some(view.iter().any(|&x| x != zero))
    }
    fn combine(&self, a: bool, b: bool) -> bool {
        a || b
    }
    fn finish(&self, p: Option<bool>, _: &[usize]) -> Result<bool> {
        Ok(p.unwrap_or(false))
    }
}

#[derive(Clone, Copy)]
pub(crate) struct AllR;

impl<T: Element> Reducer<T> for AllR {
    type P = bool;
    type Out = bool;
    fn spec(&self) -> ReducerSpec {
        ReducerSpec::All
    }
    fn name(&self) -> &'static str {
        "all"
    }
    fn fold_view(&self, view: ArrayViewD<'_, T>, _: &[usize]) -> Option<bool> {
        let zero = T::default();
        Some(view.iter().all(|&x| x != zero))
    }
    fn combine(&self, a: bool, b: bool) -> bool {
        a && b
    }
    fn finish(&self, p: Option<bool>, _: &[usize]) -> Result<bool> {
        Ok(p.unwrap_or(true))
    }
}

/// `x` is NaN (the only value not equal to itself).
#[allow(clippy::eq_op)]
fn is_nan<T: PartialEq>(x: T) -> bool {
    x != x
}

/// Min (`MAX = false`) or max, propagating NaN as NumPy does.
#[derive(Clone, Copy)]
pub(crate) struct MinMaxR<const MAX: bool>;

impl<const MAX: bool> MinMaxR<MAX> {
    fn pick<T: Element>(a: T, b: T) -> T {
        if is_nan(a) {
            return a;
        }
        let better = if MAX { b > a } else { b < a };
        if better || is_nan(b) { b } else { a }
    }
}

impl<T: Element, const MAX: bool> Reducer<T> for MinMaxR<MAX> {
    type P = T;
    type Out = T;
    fn has_identity(&self) -> bool {
        false
    }
    fn spec(&self) -> ReducerSpec {
        if MAX {
            ReducerSpec::Max
        } else {
            ReducerSpec::Min
        }
    }
    fn name(&self) -> &'static str {
        if MAX { "max" } else { "min" }
    }
    fn fold_view(&self, view: ArrayViewD<'_, T>, _: &[usize]) -> Option<T> {
        let first = *view.iter().next()?;
        Some(fold_any_order(&view, first, Self::pick))
    }
    fn fold_fill(&self, value: T, n: usize) -> Option<Option<T>> {
        Some((n > 0).then_some(value))
    }
    fn combine(&self, a: T, b: T) -> T {
        Self::pick(a, b)
    }
    fn finish(&self, p: Option<T>, shape: &[usize]) -> Result<T> {
        p.ok_or_else(|| {
            ArrayError::EmptyReduction {
                operation: if MAX { "max" } else { "min" },
                shape: shape.to_vec(),
                hint: "reduce a non-empty array, or check its length first",
            }
            .into()
        })
    }
}

/// Argmin (`MAX = false`) or argmax: the value and its index, the first of
/// equal values.
#[derive(Clone)]
pub(crate) struct ArgR<const MAX: bool> {
    /// `Some(axis)`: index along that axis of 1-D lanes; `None`: flat
    /// index in `strides` of the whole array.
    axis: Option<usize>,
    strides: Vec<usize>,
}

impl<const MAX: bool> ArgR<MAX> {
    pub(crate) fn flat(shape: &[usize]) -> ArgR<MAX> {
        let mut strides = vec![1; shape.len()];
        for a in (0..shape.len().saturating_sub(1)).rev() {
            strides[a] = strides[a + 1] * shape[a + 1];
        }
        ArgR {
            axis: None,
            strides,
        }
    }

    /// The reducer of a spec's fields.
    #[cfg(feature = "ship")]
    pub(crate) fn from_parts(axis: Option<usize>, strides: Vec<usize>) -> ArgR<MAX> {
        ArgR { axis, strides }
    }

    pub(crate) fn along(axis: usize) -> ArgR<MAX> {
        ArgR {
            axis: Some(axis),
            strides: Vec::new(),
        }
    }

    fn pick<T: Element>(a: (T, usize), b: (T, usize)) -> (T, usize) {
        if is_nan(a.0) {
            return if is_nan(b.0) && b.1 < a.1 { b } else { a };
        }
        if is_nan(b.0) {
            return b;
        }
        let better = if MAX { b.0 > a.0 } else { b.0 < a.0 };
        if better || (b.0 == a.0 && b.1 < a.1) {
            b
        } else {
            a
        }
    }
}

impl<T: Element, const MAX: bool> Reducer<T> for ArgR<MAX> {
    type P = (T, usize);
    type Out = usize;
    fn spec(&self) -> ReducerSpec {
        let (axis, strides) = (self.axis, self.strides.clone());
        if MAX {
            ReducerSpec::ArgMax { axis, strides }
        } else {
            ReducerSpec::ArgMin { axis, strides }
        }
    }
    fn name(&self) -> &'static str {
        if MAX { "argmax" } else { "argmin" }
    }
    fn params(&self) -> String {
        format!("{:?}{:?}", self.axis, self.strides)
    }
    fn streams(&self) -> bool {
        false
    }
    fn has_identity(&self) -> bool {
        false
    }
    fn fold_view(&self, view: ArrayViewD<'_, T>, origin: &[usize]) -> Option<(T, usize)> {
        let mut best: Option<(T, usize)> = None;
        for (ix, &x) in view.indexed_iter() {
            let pos = match self.axis {
                Some(_) => origin.first().copied().unwrap_or(0) + ix[0],
                None => (0..ix.ndim())
                    .map(|d| {
                        (origin.get(d).copied().unwrap_or(0) + ix[d])
                            * self.strides.get(d).copied().unwrap_or(0)
                    })
                    .sum(),
            };
            best = Some(match best {
                None => (x, pos),
                Some(b) => Self::pick(b, (x, pos)),
            });
        }
        best
    }
    fn combine(&self, a: (T, usize), b: (T, usize)) -> (T, usize) {
        Self::pick(a, b)
    }
    fn finish(&self, p: Option<(T, usize)>, shape: &[usize]) -> Result<usize> {
        p.map(|(_, i)| i).ok_or_else(|| {
            ArrayError::EmptyReduction {
                operation: if MAX { "argmax" } else { "argmin" },
                shape: shape.to_vec(),
                hint: "an empty array has no position to return",
            }
            .into()
        })
    }
}

#[derive(Clone, Copy)]
pub(crate) struct MeanR;

impl<T: Element> Reducer<T> for MeanR {
    /// Sum and count.
    type P = (f64, usize);
    type Out = f64;
    fn spec(&self) -> ReducerSpec {
        ReducerSpec::Mean
    }
    fn name(&self) -> &'static str {
        "mean"
    }
    fn fold_view(&self, view: ArrayViewD<'_, T>, _: &[usize]) -> Option<(f64, usize)> {
        Some((sum_view(&view, 0.0, |x: T| x.to_f64()), view.len()))
    }
    fn fold_fill(&self, value: T, n: usize) -> Option<Option<(f64, usize)>> {
        Some(Some((value.to_f64() * n as f64, n)))
    }
    fn combine(&self, a: (f64, usize), b: (f64, usize)) -> (f64, usize) {
        (a.0 + b.0, a.1 + b.1)
    }
    fn finish(&self, p: Option<(f64, usize)>, _: &[usize]) -> Result<f64> {
        // NumPy gives NaN for the mean of nothing.
        Ok(p.map_or(f64::NAN, |(s, n)| s / n as f64))
    }
}

/// Variance (and standard deviation) by Chan et al.'s pairwise update of
/// (count, mean, sum of squared deviations): stable, and exact to combine.
#[derive(Clone, Copy)]
pub(crate) struct VarR {
    pub ddof: usize,
    pub sqrt: bool,
}

impl<T: Element> Reducer<T> for VarR {
    type P = (usize, f64, f64);
    type Out = f64;
    fn spec(&self) -> ReducerSpec {
        ReducerSpec::Var {
            ddof: self.ddof,
            sqrt: self.sqrt,
        }
    }
    fn name(&self) -> &'static str {
        if self.sqrt { "std" } else { "var" }
    }
    fn params(&self) -> String {
        self.ddof.to_string()
    }
    fn fold_view(&self, view: ArrayViewD<'_, T>, _: &[usize]) -> Option<(usize, f64, f64)> {
        let n = view.len();
        if n == 0 {
            return Some((0, 0.0, 0.0));
        }
        let mean = sum_view(&view, 0.0, |x: T| x.to_f64()) / n as f64;
        let m2 = sum_view(&view, 0.0, |x: T| {
            let d = x.to_f64() - mean;
            d * d
        });
        Some((n, mean, m2))
    }
    fn fold_fill(&self, value: T, n: usize) -> Option<Option<(usize, f64, f64)>> {
        Some(Some((n, if n > 0 { value.to_f64() } else { 0.0 }, 0.0)))
    }
    fn combine(&self, a: (usize, f64, f64), b: (usize, f64, f64)) -> (usize, f64, f64) {
        if a.0 == 0 {
            return b;
        }
        if b.0 == 0 {
            return a;
        }
        let n = a.0 + b.0;
        let delta = b.1 - a.1;
        let mean = a.1 + delta * b.0 as f64 / n as f64;
        let m2 = a.2 + b.2 + delta * delta * (a.0 as f64 * b.0 as f64) / n as f64;
        (n, mean, m2)
    }
    fn finish(&self, p: Option<(usize, f64, f64)>, _: &[usize]) -> Result<f64> {
        let (n, _, m2) = p.unwrap_or((0, 0.0, 0.0));
        // NumPy: NaN when there are no more elements than `ddof`.
        let var = if n > self.ddof {
            m2 / (n - self.ddof) as f64
        } else {
            f64::NAN
        };
        Ok(if self.sqrt { var.sqrt() } else { var })
    }
}
