//! Zero-copy views of ndarray arrays as faer matrices.
//!
//! faer takes a pointer, the two dimensions and two strides in elements,
//! which is exactly what an ndarray view holds. Only positive strides are
//! handed to faer: a view with a negative stride (`s![..;-1, ..]`) or a zero
//! stride (a broadcast) along an axis longer than one is first copied into a
//! standard-layout array. Empty matrices never touch a raw pointer.

use faer::{MatMut, MatRef};
use ndarray::{ArrayView2, ArrayViewMut2};

use super::Real;

/// The strides to give faer for an array of `dim` with ndarray `strides`, or
/// `None` when some axis longer than one has a stride that is not positive.
///
/// The stride of an axis of length one is never used to move, so it is
/// replaced by 1 (ndarray may report 0 or anything there).
fn positive_strides(dim: (usize, usize), strides: &[isize]) -> Option<(isize, isize)> {
    let fix = |len: usize, stride: Option<&isize>| match stride {
        _ if len <= 1 => Some(1),
        Some(&s) if s > 0 => Some(s),
        _ => None,
    };
    Some((fix(dim.0, strides.first())?, fix(dim.1, strides.get(1))?))
}

/// Calls `f` with a faer view of `a`, borrowing `a`'s memory when its strides
/// are positive and a standard-layout copy of it otherwise.
pub(crate) fn with_mat_ref<T: Real, R>(
    a: ArrayView2<'_, T>,
    f: impl FnOnce(MatRef<'_, T>) -> R,
) -> R {
    let (m, n) = a.dim();
    if m == 0 || n == 0 {
        return f(MatRef::from_column_major_slice(&[], m, n));
    }
    match positive_strides((m, n), a.strides()) {
        Some((rs, cs)) => {
            // SAFETY: `a` is a live ndarray view for the whole call of `f`
            // (it is owned by this frame), so `a.as_ptr()` points at its
            // element [0, 0], properly aligned, inside one allocation that
            // holds every element [i, j] with i < m, j < n at offset
            // i * rs + j * cs (these are ndarray's own strides; the ones
            // replaced by 1 belong to axes of length 1, where the index is
            // always 0). All strides are positive, so faer only ever forms
            // offsets that ndarray's view also reaches. The view is shared
            // (`ArrayView`), so nothing writes these elements while the
            // `MatRef`, whose lifetime is bounded by this call, exists.
            let mat = unsafe { MatRef::from_raw_parts(a.as_ptr(), m, n, rs, cs) };
            f(mat)
        }
        None => {
            let owned = a.as_standard_layout().into_owned();
            with_mat_ref(owned.view(), f)
        }
    }
}

/// Calls `f` with a mutable faer view of `a`. When `a`'s strides are not all
/// positive, `f` works on a standard-layout copy that is written back after.
pub(crate) fn with_mat_mut<T: Real, R>(
    mut a: ArrayViewMut2<'_, T>,
    f: impl FnOnce(MatMut<'_, T>) -> R,
) -> R {
    let (m, n) = a.dim();
    if m == 0 || n == 0 {
        return f(MatMut::from_column_major_slice_mut(&mut [], m, n));
    }
    match positive_strides((m, n), a.strides()) {
        Some((rs, cs)) => {
            // SAFETY: `a` is a live, exclusive ndarray view for the whole call
            // of `f` (it is owned by this frame and not used again until `f`
            // returns), so `a.as_mut_ptr()` points at its element [0, 0],
            // properly aligned, inside one allocation holding every element
            // [i, j] (i < m, j < n) at offset i * rs + j * cs (ndarray's own
            // strides; the ones replaced by 1 belong to axes of length 1).
            // The strides are positive and come from a mutable ndarray view,
            // which never aliases two indices, so the `MatMut` has no
            // self-aliasing, and no other reference reaches these elements
            // while it lives (its lifetime is bounded by this call).
            let mat = unsafe { MatMut::from_raw_parts_mut(a.as_mut_ptr(), m, n, rs, cs) };
            f(mat)
        }
        None => {
            let mut owned = a.as_standard_layout().into_owned();
            let result = with_mat_mut(owned.view_mut(), f);
            a.assign(&owned);
            result
        }
    }
}
