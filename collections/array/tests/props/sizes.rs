//! Shapes near the limit of what one array can address: every size an
//! array reports is its true size, and a shape past the limit is refused
//! with an error naming it, never wrapped modulo 2^64 into a small (or
//! wrong) figure.
//!
//! The arrays are constant fills in one block per axis, which take one
//! element of memory whatever their shape, so sums over 2^60 elements are
//! computed in closed form in microseconds.

use barrow_array::{Array, ArrayError, AxisChunks, ChunkSpec, concatenate, stack};
use barrow_core::{Error, Options, compute_with};
use proptest::prelude::*;

use super::config;

/// The largest number of bytes one array may take (NumPy's and ndarray's
/// limit).
const LIMIT: u128 = isize::MAX as u128;

/// Elements of `shape`, exactly.
fn elements(shape: &[usize]) -> u128 {
    if shape.contains(&0) {
        return 0;
    }
    shape.iter().map(|&n| n as u128).product()
}

/// Whether an array of `shape` with 8-byte items is possible: its nonzero
/// axes times 8 bytes within the limit.
fn possible(shape: &[usize]) -> bool {
    shape
        .iter()
        .filter(|&&n| n != 0)
        .try_fold(8u128, |acc, &n| acc.checked_mul(n as u128))
        .is_some_and(|bytes| bytes <= LIMIT)
}

/// Axis lengths near powers of two whose product lands around 2^(56..66)
/// elements, with now and then an empty axis.
fn near_limit_shape() -> impl Strategy<Value = Vec<usize>> {
    (1usize..=4, 56u32..=66).prop_flat_map(|(ndim, total_bits)| {
        let axis = (0u32..=total_bits.min(63), -3i64..=3, 0u8..20);
        proptest::collection::vec(axis, ndim).prop_map(move |axes| {
            // Spread the bits over the axes: each axis gets its share, the
            // last what is left (the random bits only perturb the split).
            let mut left = total_bits;
            let mut shape = Vec::with_capacity(axes.len());
            let n = axes.len() as u32;
            for (i, (bits, delta, zero)) in axes.into_iter().enumerate() {
                let share = if i as u32 + 1 == n {
                    left
                } else {
                    (left / (n - i as u32)).min(bits.max(1)).min(left)
                };
                left -= share;
                let base = 1i128 << share.min(63);
                let len = (base + i128::from(delta)).clamp(1, i128::from(u64::MAX >> 1));
                shape.push(if zero == 0 { 0 } else { len as usize });
            }
            shape
        })
    })
}

fn too_large_shape(err: &Error) -> Vec<u128> {
    match err.source_as::<ArrayError>() {
        Some(ArrayError::TooLarge { shape, .. }) => shape.clone(),
        _ => panic!("expected TooLarge, got {err}"),
    }
}

fn sync() -> Options {
    barrow_local::link();
    Options::new().scheduler("sync")
}

/// One block per axis: `ones` then holds one element.
fn whole(ndim: usize) -> ChunkSpec {
    ChunkSpec::Axes(vec![AxisChunks::Full; ndim])
}

proptest! {
    #![proptest_config(config(64))]

    /// `ones` of a possible shape reports its true length and bytes and
    /// sums to its element count; an impossible one is refused naming it.
    #[test]
    fn creation_reports_true_sizes_or_refuses(shape in near_limit_shape()) {
        match Array::<i64>::ones(&shape, whole(shape.len())) {
            Ok(x) => {
                prop_assert!(possible(&shape), "{shape:?} should have been refused");
                prop_assert_eq!(x.len() as u128, elements(&shape));
                let info = x.info();
                prop_assert_eq!(u128::from(info.nbytes), elements(&shape) * 8);
                prop_assert_eq!(u128::from(info.chunk_nbytes), elements(&shape) * 8);
                let total = compute_with(&x.sum(), &sync()).unwrap();
                prop_assert_eq!(total as u128, elements(&shape));
            }
            Err(err) => {
                prop_assert!(!possible(&shape), "{shape:?} refused: {err}");
                let named: Vec<u128> = shape.iter().map(|&n| n as u128).collect();
                prop_assert_eq!(too_large_shape(&err), named);
                prop_assert!(err.to_string().contains(&format!("{shape:?}")), "{}", err);
            }
        }
    }

    /// Broadcasting two possible arrays into an impossible shape is a
    /// problem `compute` reports; a possible one sums right.
    #[test]
    fn broadcasting_checks_the_product(rows in 1usize..=1 << 40, cols in 1usize..=1 << 40) {
        let a = Array::<i64>::ones(&[rows, 1], whole(2)).unwrap();
        let b = Array::<i64>::ones(&[1, cols], whole(2)).unwrap();
        let sum = &a + &b;
        if possible(&[rows, cols]) {
            prop_assert_eq!(sum.len() as u128, rows as u128 * cols as u128);
            let total = compute_with(&sum.sum(), &sync()).unwrap();
            prop_assert_eq!(total as u128, 2 * rows as u128 * cols as u128);
        } else {
            let err = sum.check().unwrap_err();
            prop_assert!(err.to_string().contains(&format!("[{rows}, {cols}]")), "{}", err);
            prop_assert!(compute_with(&sum.sum(), &sync()).is_err());
            // What is built on it stays an error, and its sizes are not
            // wrapped figures.
            prop_assert_eq!(sum.len(), 0);
        }
    }

    /// Joining arrays: the joined axis is the sum of theirs (which may pass
    /// `usize`), the new axis of `stack` multiplies the size.
    #[test]
    fn joining_checks_the_sum_and_the_new_axis(
        rows in 1usize..=1 << 62,
        cols in 1usize..=8,
        copies in 2usize..=5,
    ) {
        let Ok(x) = Array::<u8>::ones(&[rows, cols], whole(2)) else {
            return Ok(());
        };
        let many = vec![x; copies];
        let joined = rows as u128 * copies as u128;
        let fits = joined * cols as u128 <= LIMIT;
        match concatenate(&many, 0) {
            Ok(c) => {
                prop_assert!(fits);
                prop_assert_eq!(c.shape()[0] as u128, joined);
                let total = compute_with(&c.sum(), &sync()).unwrap();
                prop_assert_eq!(total as u128, joined * cols as u128);
            }
            Err(err) => {
                prop_assert!(!fits, "refused: {err}");
                prop_assert_eq!(too_large_shape(&err)[0], joined);
            }
        }
        match stack(&many, 0) {
            Ok(s) => {
                prop_assert!(fits);
                prop_assert_eq!(s.len() as u128, joined * cols as u128);
            }
            Err(err) => {
                prop_assert!(!fits, "refused: {err}");
                prop_assert_eq!(too_large_shape(&err)[0], copies as u128);
            }
        }
    }

    /// Reshaping compares true element counts: a shape whose product wraps
    /// to the old one's is refused, not accepted.
    #[test]
    fn reshape_compares_true_counts(bits in 30u32..=40) {
        let n = 1usize << bits;
        let x = Array::<u8>::ones(&[n], whole(1)).unwrap();
        let flat = x.reshape(&[n >> 10, 1 << 10]).unwrap();
        prop_assert_eq!(flat.len(), n);
        // [2^32 * n, 2^32] has 2^64 * n elements: 0 modulo 2^64.
        let wrapped = x.reshape(&[1 << 32, 1 << 32]);
        prop_assert!(wrapped.is_err());
        let wrapped = x.reshape(&[n, 1 << 32, 1 << 32]).unwrap_err();
        prop_assert!(wrapped.to_string().contains("4294967296"), "{}", wrapped);
    }

    /// A matrix product's output is checked like any shape.
    #[test]
    fn dot_checks_its_output(m in 1usize..=1 << 34, n in 1usize..=1 << 34) {
        let a = Array::<f64>::ones(&[m, 3], whole(2)).unwrap();
        let b = Array::<f64>::ones(&[3, n], whole(2)).unwrap();
        match a.dot(&b) {
            Ok(c) if possible(&[m, n]) => prop_assert_eq!(c.len() as u128, m as u128 * n as u128),
            Ok(c) => prop_assert!(c.check().is_err(), "[{m}, {n}] accepted"),
            Err(err) => prop_assert!(!possible(&[m, n]), "refused: {err}"),
        }
    }
}

/// The two cases the issue reported: the element count wrapped to 0 (and
/// the sum was 0) or to 2^32 (32 GiB and a wrong sum).
#[test]
fn the_reported_shapes_are_refused_naming_them() {
    for shape in [[1usize << 32, 1 << 32], [1 << 32, (1 << 32) + 1]] {
        let err = Array::<f64>::ones(&shape, whole(2)).unwrap_err();
        assert!(
            err.to_string().contains(&format!("{shape:?}")),
            "the error names the shape: {err}"
        );
        assert_eq!(err.kind(), barrow_core::ErrorKind::InvalidArgument);
    }
}
