//! Checked sizes. Every array keeps the invariant NumPy and ndarray keep:
//! the product of its nonzero axis lengths, times the item size, is at most
//! `isize::MAX`. Then element counts, byte sizes, strides, offsets and
//! block counts of the array and of each of its blocks fit in `usize`
//! (a block is never larger than its array, and an axis has no more blocks
//! than elements, or one when it is empty), so the arithmetic that follows
//! from a checked shape cannot wrap. Arrays are checked where a shape is
//! made: by creation functions, and by every layer of blocks
//! ([`Array::layer_for`](crate::Array)).

use crate::chunks::{Chunks, wide_sum};
use crate::dtype::Element;
use crate::error::ArrayError;

/// The product of the nonzero entries of `shape`, if it fits in `u128`.
pub(crate) fn wide_product(shape: &[u128]) -> Option<u128> {
    shape
        .iter()
        .filter(|&&n| n != 0)
        .try_fold(1u128, |acc, &n| acc.checked_mul(n))
        .map(|p| if shape.contains(&0) { 0 } else { p })
}

/// The number of elements of `shape`, if it fits in `usize` (0 when an
/// axis is empty, whatever the others).
pub(crate) fn elements(shape: &[usize]) -> Option<usize> {
    if shape.contains(&0) {
        return Some(0);
    }
    shape.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n))
}

/// Whether an array of `shape` (wide) with items of `itemsize` bytes keeps
/// the invariant: nonzero lengths times the item size at most `isize::MAX`.
fn fits(shape: &[u128], itemsize: usize) -> bool {
    shape
        .iter()
        .filter(|&&n| n != 0)
        .try_fold(itemsize.max(1) as u128, |acc, &n| acc.checked_mul(n))
        .is_some_and(|bytes| bytes <= isize::MAX as u128)
}

fn too_large<T: Element>(shape: Vec<u128>) -> ArrayError {
    ArrayError::TooLarge {
        shape,
        dtype: T::DTYPE,
        itemsize: T::ITEMSIZE,
    }
}

/// Checks that an array of `T` may have `shape`.
pub(crate) fn check_shape<T: Element>(shape: &[usize]) -> Result<(), ArrayError> {
    let wide: Vec<u128> = shape.iter().map(|&n| n as u128).collect();
    if fits(&wide, T::ITEMSIZE) {
        Ok(())
    } else {
        Err(too_large::<T>(wide))
    }
}

/// Checks that an array of `T` may have `chunks`: the blocks of each axis
/// add up without overflow, and the shape they make keeps the invariant.
pub(crate) fn check_chunks<T: Element>(chunks: &Chunks) -> Result<(), ArrayError> {
    let wide: Vec<u128> = chunks.as_slices().iter().map(|a| wide_sum(a)).collect();
    if wide.iter().all(|&n| n <= usize::MAX as u128) && fits(&wide, T::ITEMSIZE) {
        Ok(())
    } else {
        Err(too_large::<T>(wide))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_isize_max_bytes_over_nonzero_axes() {
        let max_f64 = (isize::MAX as usize) / 8;
        assert!(check_shape::<f64>(&[max_f64]).is_ok());
        assert!(check_shape::<f64>(&[max_f64 + 1]).is_err());
        assert!(check_shape::<u8>(&[isize::MAX as usize]).is_ok());
        // An empty axis does not hide an overflowing product of the others,
        // as in NumPy.
        assert!(check_shape::<f64>(&[0, 1 << 40, 1 << 40]).is_err());
        assert!(check_shape::<f64>(&[0, 1 << 20, 1 << 20]).is_ok());
        assert!(check_shape::<f64>(&[]).is_ok());
    }

    #[test]
    fn the_error_names_the_shape_and_the_true_size() {
        let err = check_shape::<f64>(&[1 << 32, 1 << 32]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "an array of shape [4294967296, 4294967296] of float64 would hold \
             18446744073709551616 elements (147573952589676412928 bytes), more than one array \
             can address (9223372036854775807 bytes, isize::MAX, as in NumPy): use a smaller shape"
        );
        let huge = Chunks::from_vec_unchecked(vec![vec![usize::MAX, usize::MAX]]);
        let err = check_chunks::<u8>(&huge).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("[{}]", 2 * (usize::MAX as u128))),
            "{err}"
        );
    }
}
