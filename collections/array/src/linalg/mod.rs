//! Dense linear algebra on one or a few chunks, on faer.
//!
//! Every kernel here runs single-threaded (`faer::Par::Seq`): the task
//! scheduler already runs one task per core, so a kernel that spawned its own
//! threads would only oversubscribe the machine.
//!
//! - [`kernels`]: [`matmul`], [`matmul_acc`], [`qr`], [`svd`] on one block.
//! - [`tsqr`]: the steps of Dask's tall-and-skinny QR / SVD as pure functions
//!   over blocks, plus in-memory references that compose them.
//!
//! Inputs are `ndarray` views of any layout (row-major, column-major,
//! transposed, sliced with steps, negative steps, broadcast); outputs are
//! owned arrays in standard (row-major) layout.

mod graph;
pub mod kernels;
pub mod tsqr;
mod view;

#[cfg(test)]
mod tests;

pub use kernels::{Svd, matmul, matmul_acc, qr, svd};
pub use tsqr::{
    BlockSvd, check_tall_skinny, svd_in_memory, svd_step, svd_u_block, tsqr_in_memory,
    tsqr_reduction_groups, tsqr_step1, tsqr_step2, tsqr_step3,
};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The real element types the kernels accept: `f64` and `f32`.
///
/// Sealed: it joins what faer needs ([`faer::traits::RealField`]) with what
/// ndarray needs ([`ndarray::LinalgScalar`]) and adds the few conversions the
/// kernels use.
pub trait Real:
    faer::traits::RealField
    + ndarray::LinalgScalar
    + std::fmt::Debug
    + std::fmt::Display
    + Send
    + Sync
    + sealed::Sealed
{
    /// The machine epsilon of the type.
    const EPSILON: Self;
    /// Converts an `f64`, rounding to nearest for `f32`.
    fn from_f64(value: f64) -> Self;
    /// Converts to `f64` exactly.
    fn to_f64(self) -> f64;
    /// Whether the value is neither NaN nor infinite.
    fn finite(self) -> bool;
}

impl Real for f64 {
    const EPSILON: Self = f64::EPSILON;
    fn from_f64(value: f64) -> Self {
        value
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn finite(self) -> bool {
        self.is_finite()
    }
}

impl Real for f32 {
    const EPSILON: Self = f32::EPSILON;
    fn from_f64(value: f64) -> Self {
        value as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn finite(self) -> bool {
        self.is_finite()
    }
}
