//! Single-block kernels: matrix product, thin QR and thin SVD, on faer,
//! single-threaded.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::householder::{
    apply_block_householder_sequence_on_the_left_in_place_scratch,
    apply_block_householder_sequence_on_the_left_in_place_with_conj,
};
use faer::linalg::qr::no_pivoting::factor::{
    qr_in_place, qr_in_place_scratch, recommended_block_size,
};
use faer::linalg::svd::{ComputeSvdVectors, svd_scratch};
use faer::{Accum, Conj, Par};
use ndarray::{Array1, Array2, ArrayView2, ShapeBuilder};

use super::Real;
use super::view::{with_mat_mut, with_mat_ref};
use crate::error::ArrayError;

/// A thin SVD `(U, S, Vt)`: `U` is `[m, k]`, `S` has `k` values, `Vt` is
/// `[k, n]`, `k = min(m, n)`.
pub type Svd<T> = (Array2<T>, Array1<T>, Array2<T>);

/// Every kernel runs on the calling thread: the scheduler runs one task per core.
const PAR: Par = Par::Seq;

fn shape2(dim: (usize, usize)) -> Vec<usize> {
    vec![dim.0, dim.1]
}

/// The `ShapeMismatch` for `a · b` when `a`'s columns differ from `b`'s rows.
fn inner_mismatch(operation: &'static str, a: (usize, usize), b: (usize, usize)) -> ArrayError {
    ArrayError::ShapeMismatch {
        operation,
        left: shape2(a),
        right: shape2(b),
        hint: format!(
            "the left operand has {} columns but the right one has {} rows; they must be equal \
             (transpose an operand, or rechunk so the contracted axis has the same chunks on both sides)",
            a.1, b.0
        ),
    }
}

/// `dst (accum) a · b` with faer, single-threaded; shapes already checked.
fn gemm_into<T: Real>(
    dst: ndarray::ArrayViewMut2<'_, T>,
    accum: Accum,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
) {
    if a.ncols() == 0 {
        // An empty sum: faer is not asked to handle the degenerate case.
        if accum == Accum::Replace {
            let mut dst = dst;
            dst.fill(T::zero());
        }
        return;
    }
    with_mat_mut(dst, |dst| {
        with_mat_ref(a, |a| {
            with_mat_ref(b, |b| {
                faer::linalg::matmul::matmul(dst, accum, a, b, T::one(), PAR)
            })
        })
    });
}

/// The matrix product `a · b` (shape `[m, k] · [k, n] -> [m, n]`), computed
/// single-threaded.
///
/// Any layout of `a` and `b` is accepted; the result is in standard layout.
///
/// # Errors
/// [`ArrayError::ShapeMismatch`] naming both shapes when `a` has not as many
/// columns as `b` has rows.
pub fn matmul<T: Real>(
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
) -> Result<Array2<T>, ArrayError> {
    if a.ncols() != b.nrows() {
        return Err(inner_mismatch("matmul", a.dim(), b.dim()));
    }
    let mut out = Array2::zeros((a.nrows(), b.ncols()));
    gemm_into(out.view_mut(), Accum::Replace, a, b);
    Ok(out)
}

/// Adds `a · b` to `acc` in place, without allocating (unless `acc` has
/// negative strides, which are handled through a temporary copy).
///
/// This is the kernel for summing the partial products of a blocked matrix
/// product over the blocks of the contracted axis:
/// `C_ij = Σ_k A_ik · B_kj`.
///
/// # Errors
/// [`ArrayError::ShapeMismatch`] when `a`'s columns differ from `b`'s rows
/// (naming `a`'s and `b`'s shapes) or when `acc` does not have the shape of the
/// product (naming `acc`'s shape and the product's).
pub fn matmul_acc<T: Real>(
    acc: &mut Array2<T>,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
) -> Result<(), ArrayError> {
    if a.ncols() != b.nrows() {
        return Err(inner_mismatch("matmul_acc", a.dim(), b.dim()));
    }
    let product = (a.nrows(), b.ncols());
    if acc.dim() != product {
        return Err(ArrayError::ShapeMismatch {
            operation: "accumulate into",
            left: shape2(acc.dim()),
            right: shape2(product),
            hint: format!(
                "the accumulator must have the shape of the product of {:?} and {:?}; \
                 allocate it as zeros of shape {:?}",
                shape2(a.dim()),
                shape2(b.dim()),
                shape2(product)
            ),
        });
    }
    gemm_into(acc.view_mut(), Accum::Add, a, b);
    Ok(())
}

/// The thin QR decomposition `a = Q · R` of an `[m, n]` matrix, with
/// `k = min(m, n)`: `Q` is `[m, k]` with orthonormal columns and `R` is `[k, n]`
/// upper triangular (upper trapezoidal when `m < n`).
///
/// Householder QR without pivoting, like `numpy.linalg.qr(mode="reduced")`:
/// the signs of `R`'s diagonal are whatever the reflections give (not forced
/// positive), and a rank-deficient `a` still factors (with zeros, or
/// round-off, on `R`'s diagonal). NaNs propagate into the factors.
/// Empty inputs give empty factors (`[m, 0]` and `[0, n]` when `k = 0`).
///
/// # Errors
/// None at present for finite or non-finite input; the `Result` leaves room for
/// allocation failures and keeps the kernels' signatures alike.
pub fn qr<T: Real>(a: ArrayView2<'_, T>) -> Result<(Array2<T>, Array2<T>), ArrayError> {
    let (m, n) = a.dim();
    let k = m.min(n);
    if k == 0 {
        return Ok((Array2::zeros((m, 0)), Array2::zeros((0, n))));
    }
    // Work on a column-major copy: faer's QR is fastest on it, and the copy
    // also normalizes any strides `a` had.
    let mut work = Array2::<T>::zeros((m, n).f());
    work.assign(&a);
    let block_size = recommended_block_size::<T>(m, n);
    let mut q = Array2::<T>::zeros((m, k));
    for i in 0..k {
        q[[i, i]] = T::one();
    }
    let scratch = qr_in_place_scratch::<T>(m, n, block_size, PAR, Default::default())
        .or(apply_block_householder_sequence_on_the_left_in_place_scratch::<T>(m, block_size, k));
    let mut buffer = MemBuffer::new(scratch);
    let mut coeff = faer::Mat::<T>::zeros(block_size, k);
    with_mat_mut(work.view_mut(), |mut work| {
        qr_in_place(
            work.as_mut(),
            coeff.as_mut(),
            PAR,
            MemStack::new(&mut buffer),
            Default::default(),
        );
        with_mat_mut(q.view_mut(), |q| {
            apply_block_householder_sequence_on_the_left_in_place_with_conj(
                work.as_ref().get(.., ..k),
                coeff.as_ref(),
                Conj::No,
                q,
                PAR,
                MemStack::new(&mut buffer),
            );
        });
    });
    let r = Array2::from_shape_fn(
        (k, n),
        |(i, j)| if j >= i { work[[i, j]] } else { T::zero() },
    );
    Ok((q, r))
}

/// The first non-finite element of `a`, for the SVD's input check.
fn first_non_finite<T: Real>(
    operation: &'static str,
    a: ArrayView2<'_, T>,
) -> Result<(), ArrayError> {
    match a.indexed_iter().find(|(_, v)| !v.finite()) {
        Some(((row, col), value)) => Err(ArrayError::NonFinite {
            operation,
            shape: shape2(a.dim()),
            row,
            col,
            value: value.to_string(),
        }),
        None => Ok(()),
    }
}

/// The thin singular value decomposition `a = U · diag(S) · Vt` of an
/// `[m, n]` matrix, with `k = min(m, n)`: `U` is `[m, k]`, `S` has `k`
/// non-negative values in descending order and `Vt` is `[k, n]`.
///
/// Signs are made deterministic the way `dask.array.linalg.svd` does by
/// default (`coerce_signs=True`, `svd_flip` decided on `v`): each row of `Vt`
/// is flipped, with the matching column of `U`, so that its sum is
/// non-negative. Because the decision uses `Vt` only, the tsqr SVD
/// ([`super::svd_step`]) gets the same signs.
///
/// # Errors
/// [`ArrayError::NonFinite`] when `a` holds a NaN or an infinity (the
/// iteration would not converge on it), and [`ArrayError::Decomposition`]
/// when faer's iteration does not converge.
pub fn svd<T: Real>(a: ArrayView2<'_, T>) -> Result<Svd<T>, ArrayError> {
    first_non_finite("svd", a)?;
    let (m, n) = a.dim();
    let k = m.min(n);
    if k == 0 {
        return Ok((
            Array2::zeros((m, 0)),
            Array1::zeros(0),
            Array2::zeros((0, n)),
        ));
    }
    let mut u = Array2::<T>::zeros((m, k));
    // faer writes V ([n, k]); writing it through the transposed view of a
    // row-major [k, n] array leaves Vt in standard layout.
    let mut vt = Array2::<T>::zeros((k, n));
    let mut s = faer::Col::<T>::zeros(k);
    let mut buffer = MemBuffer::new(svd_scratch::<T>(
        m,
        n,
        ComputeSvdVectors::Thin,
        ComputeSvdVectors::Thin,
        PAR,
        Default::default(),
    ));
    let outcome = with_mat_ref(a, |a| {
        with_mat_mut(u.view_mut(), |u| {
            with_mat_mut(vt.view_mut().reversed_axes(), |v| {
                faer::linalg::svd::svd(
                    a,
                    s.as_diagonal_mut(),
                    Some(u),
                    Some(v),
                    PAR,
                    MemStack::new(&mut buffer),
                    Default::default(),
                )
            })
        })
    });
    outcome.map_err(|error| ArrayError::Decomposition {
        operation: "svd",
        shape: shape2((m, n)),
        reason: format!(
            "{error:?}: the iteration did not converge; check the data for values of wildly \
             different magnitudes, or rescale it"
        ),
    })?;
    // faer returns the singular values in nonincreasing order.
    let s = Array1::from_shape_fn(k, |i| s[i]);
    flip_signs(&mut u, &mut vt);
    Ok((u, s, vt))
}

/// Dask's `svd_flip(u, v)`: makes each row of `vt` sum to a non-negative
/// value, flipping the matching column of `u` with it.
fn flip_signs<T: Real>(u: &mut Array2<T>, vt: &mut Array2<T>) {
    for (i, mut row) in vt.rows_mut().into_iter().enumerate() {
        if row.sum() < T::zero() {
            row.mapv_inplace(|x| T::zero() - x);
            u.column_mut(i).mapv_inplace(|x| T::zero() - x);
        }
    }
}
