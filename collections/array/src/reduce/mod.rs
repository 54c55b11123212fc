//! Reductions along any axes, combined in a tree (Dask's `split_every`).
//!
//! Every block is reduced to a partial result per output position (the
//! reduced axes kept with length 1); groups of partials along the reduced
//! axes are combined, `split_every` per task, until one block remains
//! along each reduced axis; the last task turns partials into results.

mod cumulative;
mod kernels;
mod reducers;
mod tree;

use barrow_delayed::Delayed;

use crate::array::Array;
use crate::dtype::{Element, Number};
use crate::error::ArrayError;

pub(crate) use reducers::Reducer;
use reducers::{AllR, AnyR, ArgR, MeanR, MinMaxR, ProdR, SumR, VarR};
pub use tree::DEFAULT_SPLIT_EVERY;

/// The axes a reduction runs along, and whether they stay (length 1) in
/// the result.
///
/// ```
/// use barrow_array::Axes;
///
/// let rows = Axes::from(1usize);        // along axis 1
/// let both = Axes::from([0usize, 1]).keepdims(); // along 0 and 1, kept as length 1
/// # let _ = (rows, both);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Axes {
    axes: Vec<isize>,
    keepdims: bool,
}

impl Axes {
    /// Keep the reduced axes, with length 1 (NumPy's `keepdims=True`).
    pub fn keepdims(mut self) -> Axes {
        self.keepdims = true;
        self
    }

    /// The axes, checked against `ndim` (negative count from the end),
    /// sorted.
    pub(crate) fn resolve(&self, shape: &[usize]) -> Result<Vec<usize>, ArrayError> {
        let ndim = shape.len();
        let mut out = Vec::with_capacity(self.axes.len());
        for &a in &self.axes {
            let resolved = if a < 0 { a + ndim as isize } else { a };
            if resolved < 0 || resolved >= ndim as isize {
                return Err(ArrayError::AxisOutOfRange {
                    axis: a,
                    ndim,
                    shape: shape.to_vec(),
                });
            }
            out.push(resolved as usize);
        }
        out.sort_unstable();
        for w in out.windows(2) {
            if w[0] == w[1] {
                return Err(ArrayError::RepeatedAxis {
                    axis: w[0],
                    axes: out.clone(),
                });
            }
        }
        Ok(out)
    }
}

impl From<isize> for Axes {
    fn from(axis: isize) -> Axes {
        Axes {
            axes: vec![axis],
            keepdims: false,
        }
    }
}

impl From<i32> for Axes {
    fn from(axis: i32) -> Axes {
        Axes::from(axis as isize)
    }
}

impl From<usize> for Axes {
    fn from(axis: usize) -> Axes {
        Axes::from(axis as isize)
    }
}

impl<const N: usize> From<[usize; N]> for Axes {
    fn from(axes: [usize; N]) -> Axes {
        Axes {
            axes: axes.iter().map(|&a| a as isize).collect(),
            keepdims: false,
        }
    }
}

impl<const N: usize> From<[isize; N]> for Axes {
    fn from(axes: [isize; N]) -> Axes {
        Axes {
            axes: axes.to_vec(),
            keepdims: false,
        }
    }
}

impl From<&[usize]> for Axes {
    fn from(axes: &[usize]) -> Axes {
        Axes {
            axes: axes.iter().map(|&a| a as isize).collect(),
            keepdims: false,
        }
    }
}

impl From<Vec<usize>> for Axes {
    fn from(axes: Vec<usize>) -> Axes {
        Axes::from(axes.as_slice())
    }
}

impl<T: Element> Array<T> {
    fn all_axes(&self) -> Axes {
        Axes {
            axes: (0..self.ndim() as isize).collect(),
            keepdims: false,
        }
    }

    /// Whether any element is nonzero (or `true`), over the whole array.
    pub fn any(&self) -> Delayed<bool> {
        self.reduce_all(AnyR)
    }
    /// Whether any element is nonzero, along `axes`.
    pub fn any_axis(&self, axes: impl Into<Axes>) -> Array<bool> {
        self.reduce_axes(AnyR, axes.into())
    }
    /// Whether every element is nonzero (or `true`), over the whole array.
    pub fn all(&self) -> Delayed<bool> {
        self.reduce_all(AllR)
    }
    /// Whether every element is nonzero, along `axes`.
    pub fn all_axis(&self, axes: impl Into<Axes>) -> Array<bool> {
        self.reduce_axes(AllR, axes.into())
    }
    /// The smallest element (NaN if there is one); an error for an empty
    /// array.
    pub fn min(&self) -> Delayed<T> {
        self.reduce_all(MinMaxR::<false>)
    }
    /// The smallest elements along `axes`.
    pub fn min_axis(&self, axes: impl Into<Axes>) -> Array<T> {
        self.reduce_axes(MinMaxR::<false>, axes.into())
    }
    /// The largest element (NaN if there is one); an error for an empty
    /// array.
    pub fn max(&self) -> Delayed<T> {
        self.reduce_all(MinMaxR::<true>)
    }
    /// The largest elements along `axes`.
    pub fn max_axis(&self, axes: impl Into<Axes>) -> Array<T> {
        self.reduce_axes(MinMaxR::<true>, axes.into())
    }
    /// The flat (row-major) index of the smallest element, the first if
    /// several are equal.
    pub fn argmin(&self) -> Delayed<usize> {
        self.reduce_all(ArgR::<false>::flat(&self.shape()))
    }
    /// The index along `axis` of the smallest element of each lane.
    pub fn argmin_axis(&self, axis: isize) -> Array<usize> {
        self.arg_axis::<false>(axis)
    }
    /// The flat (row-major) index of the largest element, the first if
    /// several are equal.
    pub fn argmax(&self) -> Delayed<usize> {
        self.reduce_all(ArgR::<true>::flat(&self.shape()))
    }
    /// The index along `axis` of the largest element of each lane.
    pub fn argmax_axis(&self, axis: isize) -> Array<usize> {
        self.arg_axis::<true>(axis)
    }

    fn arg_axis<const MAX: bool>(&self, axis: isize) -> Array<usize> {
        let axes = Axes::from(axis);
        match axes.resolve(&self.shape()) {
            Ok(a) => self.reduce_axes(ArgR::<MAX>::along(a[0]), axes),
            Err(e) => Array::failed(e.into(), (*self.chunks).clone()),
        }
    }

    /// The mean of every element, as `f64`.
    pub fn mean(&self) -> Delayed<f64> {
        self.reduce_all(MeanR)
    }
    /// Means along `axes`.
    pub fn mean_axis(&self, axes: impl Into<Axes>) -> Array<f64> {
        self.reduce_axes(MeanR, axes.into())
    }
    /// The variance of every element with `ddof` delta degrees of freedom
    /// (0: population, 1: sample), as `f64`.
    pub fn var(&self, ddof: usize) -> Delayed<f64> {
        self.reduce_all(VarR { ddof, sqrt: false })
    }
    /// Variances along `axes`.
    pub fn var_axis(&self, axes: impl Into<Axes>, ddof: usize) -> Array<f64> {
        self.reduce_axes(VarR { ddof, sqrt: false }, axes.into())
    }
    /// The standard deviation of every element with `ddof` delta degrees of
    /// freedom, as `f64`.
    pub fn std(&self, ddof: usize) -> Delayed<f64> {
        self.reduce_all(VarR { ddof, sqrt: true })
    }
    /// Standard deviations along `axes`.
    pub fn std_axis(&self, axes: impl Into<Axes>, ddof: usize) -> Array<f64> {
        self.reduce_axes(VarR { ddof, sqrt: true }, axes.into())
    }

    pub(crate) fn reduce_all<R: Reducer<T>>(&self, reducer: R) -> Delayed<R::Out> {
        let axes = self.all_axes();
        tree::reduce_to_scalar(self, reducer, axes)
    }

    pub(crate) fn reduce_axes<R: Reducer<T>>(&self, reducer: R, axes: Axes) -> Array<R::Out> {
        tree::reduce_to_array(self, reducer, axes)
    }
}

impl<T: Number> Array<T> {
    /// The sum of every element (integers add up in 64 bits, as NumPy's).
    ///
    /// ```
    /// use barrow_array::Array;
    /// use barrow_core::compute;
    /// # barrow_local::link();
    ///
    /// let x = Array::<i64>::arange(1, 101, 1, 10)?;
    /// let (total, mean) = compute((x.sum(), x.mean()))?;
    /// assert_eq!((total, mean), (5050, 50.5));
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn sum(&self) -> Delayed<T::Acc> {
        self.reduce_all(SumR)
    }
    /// Sums along `axes`.
    pub fn sum_axis(&self, axes: impl Into<Axes>) -> Array<T::Acc> {
        self.reduce_axes(SumR, axes.into())
    }
    /// The product of every element.
    pub fn prod(&self) -> Delayed<T::Acc> {
        self.reduce_all(ProdR)
    }
    /// Products along `axes`.
    pub fn prod_axis(&self, axes: impl Into<Axes>) -> Array<T::Acc> {
        self.reduce_axes(ProdR, axes.into())
    }
}
