//! Bad input: every mistake is an error that says what was wrong, never a
//! panic, on every scheduler.

use barrow_array::{Array, ArrayError, Axes, ChunkSpec, concatenate, stack};
use barrow_core::Error;
use ndarray::{ArrayD, IxDyn, SliceInfoElem, s};

use super::errors_all;

fn iota(shape: &[usize]) -> ArrayD<i64> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n as i64).collect()).unwrap()
}

fn typed(e: &Error) -> &ArrayError {
    e.source_as::<ArrayError>()
        .unwrap_or_else(|| panic!("no ArrayError in {e}"))
}

#[test]
fn mismatched_broadcast_shapes_name_both() {
    let a = Array::from_array(iota(&[3, 4]), 2).unwrap();
    let b = Array::from_array(iota(&[5]), 2).unwrap();
    let sum = &a + &b;
    assert!(sum.check().is_err(), "check() reports the problem early");
    for msg in errors_all(&sum, "[3, 4] + [5]") {
        assert!(msg.contains("[3, 4]") && msg.contains("[5]"), "{msg}");
    }
    let c = Array::from_array(iota(&[2, 1, 3]), 1).unwrap();
    let d = Array::from_array(iota(&[4, 2]), 1).unwrap();
    for msg in errors_all(&c.equal(&d), "[2, 1, 3] == [4, 2]") {
        assert!(msg.contains("[2, 1, 3]") && msg.contains("[4, 2]"), "{msg}");
    }
    // A problem stays with everything built on it.
    let later = (&sum * 2).sum_axis(0usize);
    for msg in errors_all(&later, "(bad + ) * 2, summed") {
        assert!(msg.contains("broadcast"), "{msg}");
    }
    let cond = Array::from_array(ArrayD::from_elem(IxDyn(&[3]), true), 1).unwrap();
    errors_all(
        &barrow_array::where_(&cond, &a, 0),
        "where with [3] and [3, 4]",
    );
}

#[test]
fn explicit_chunks_must_add_up() {
    let err = Array::from_array(iota(&[5, 4]), vec![vec![2, 2], vec![4]]).unwrap_err();
    assert!(
        matches!(typed(&err), ArrayError::SumMismatch { axis: 0, .. }),
        "{err}"
    );
    assert!(err.to_string().contains('5'), "{err}");
    let err = Array::from_array(iota(&[5]), vec![vec![2, 0, 3]]).unwrap_err();
    assert!(matches!(typed(&err), ArrayError::ZeroBlock { .. }), "{err}");
    let err = Array::from_array(iota(&[5, 4]), vec![vec![5]]).unwrap_err();
    assert!(
        matches!(typed(&err), ArrayError::DimensionMismatch { .. }),
        "{err}"
    );
    let err = Array::<i64>::zeros(&[0, 3], vec![vec![0, 0], vec![3]]).unwrap_err();
    assert!(
        matches!(typed(&err), ArrayError::SplitEmptyAxis { .. }),
        "{err}"
    );
    let a = Array::from_array(iota(&[6]), 2).unwrap();
    assert!(a.rechunk(vec![vec![3, 2]]).is_err(), "rechunk to 5 of 6");
}

#[test]
fn zero_chunk_size_is_an_error() {
    let err = Array::from_array(iota(&[5, 4]), 0usize).unwrap_err();
    assert!(
        matches!(typed(&err), ArrayError::ZeroChunkSize { .. }),
        "{err}"
    );
    assert!(Array::<f64>::ones(&[3], [0usize]).is_err());
    assert!(
        Array::<f64>::ones(&[3], -2).is_err(),
        "negative sizes other than -1"
    );
    // 0 is fine on an empty axis.
    assert!(Array::<f64>::ones(&[0], 0usize).is_ok());
}

#[test]
fn auto_chunks_with_an_impossible_target() {
    // One f64 is 8 bytes: a 4-byte target cannot be met.
    let err = Array::<f64>::zeros(&[10, 10], ChunkSpec::Bytes(4)).unwrap_err();
    assert!(
        matches!(typed(&err), ArrayError::AutoLimitUnreachable { .. }),
        "{err}"
    );
    let err = barrow_core::config::with_scoped([("array.chunk-size", "4B")], || {
        Array::<f64>::zeros(&[10, 10], ChunkSpec::Auto)
    })
    .unwrap()
    .unwrap_err();
    assert!(
        matches!(typed(&err), ArrayError::AutoLimitUnreachable { .. }),
        "{err}"
    );
    // A whole row of 10 f64 is 80 bytes, over a 64-byte target.
    let err = barrow_core::config::with_scoped([("array.chunk-size", "64B")], || {
        Array::<f64>::zeros(
            &[10, 10],
            vec![
                barrow_array::AxisChunks::Auto,
                barrow_array::AxisChunks::Full,
            ],
        )
    })
    .unwrap()
    .unwrap_err();
    assert!(err.to_string().contains("64"), "{err}");
    // Outside the scope the default target applies again.
    assert!(Array::<f64>::zeros(&[10, 10], ChunkSpec::Auto).is_ok());
}

#[test]
fn out_of_range_slices_and_indices() {
    let a = Array::from_array(iota(&[4, 5]), [3usize, 2]).unwrap();
    for info in [
        s![4, ..].as_ref().to_vec(),
        s![-5, ..].as_ref().to_vec(),
        s![.., 0..6].as_ref().to_vec(),
        s![.., -6..].as_ref().to_vec(),
        s![5.., ..].as_ref().to_vec(),
        vec![
            SliceInfoElem::from(..),
            SliceInfoElem::Slice {
                start: 0,
                end: None,
                step: 0,
            },
        ],
        s![0, 0, 0].as_ref().to_vec(),
    ] {
        let err = a.slice(&info).unwrap_err();
        assert!(!err.to_string().is_empty(), "{info:?}");
    }
    let err = a.slice(s![7, ..]).unwrap_err();
    assert!(
        matches!(typed(&err), ArrayError::OutOfRange { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains('7') && err.to_string().contains("axis 0"),
        "{err}"
    );
    assert!(a.take(&[0, 5], 1).is_err(), "take past the end");
    assert!(a.take(&[0], 2).is_err(), "take along a missing axis");
    assert!(
        a.compress(&[true; 3], 0).is_err(),
        "mask of the wrong length"
    );
    assert!(a.swap_axes(0, 2).is_err());
    assert!(a.permute_axes(&[0, 0]).is_err());
    assert!(a.permute_axes(&[1]).is_err());
}

#[test]
fn npy_of_another_dtype() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    let x = Array::<f64>::linspace(0.0, 1.0, 7, 3).unwrap();
    barrow_core::compute_with(&x.to_npy(&path).unwrap(), &super::options("sync")).unwrap();
    let err = Array::<i32>::from_npy(&path, 3).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("float64") || msg.contains("<f8"), "{msg}");
    assert!(msg.contains("i32"), "{msg}");
    assert!(
        matches!(typed(&err), ArrayError::DtypeMismatch { .. }),
        "{err}"
    );
    assert!(Array::<f64>::from_npy(dir.path().join("missing.npy"), 3).is_err());
    assert!(Array::<f64>::from_npy(&path, 3).is_ok());
}

#[test]
fn reductions_over_bad_axes() {
    let a = Array::from_array(iota(&[3, 4]), 2).unwrap();
    for msg in errors_all(&a.sum_axis(2usize), "sum over axis 2 of 2-d") {
        assert!(msg.contains("axis 2") && msg.contains("[3, 4]"), "{msg}");
    }
    for msg in errors_all(&a.mean_axis(-3isize), "mean over axis -3 of 2-d") {
        assert!(msg.contains("-3"), "{msg}");
    }
    for msg in errors_all(&a.max_axis(Axes::from([1usize, 1])), "repeated axis") {
        assert!(msg.contains("repeated"), "{msg}");
    }
    errors_all(&a.argmin_axis(5), "argmin over axis 5");
    errors_all(
        &a.var_axis(Axes::from([0usize, 9]).keepdims(), 0),
        "var over 9",
    );
    let empty = Array::<i64>::zeros(&[0, 3], 2).unwrap();
    errors_all(&empty.min(), "min of empty");
    errors_all(&empty.argmax(), "argmax of empty");
    errors_all(&empty.max_axis(0usize), "max along an empty axis");
    errors_all(&empty.argmin_axis(0), "argmin along an empty axis");
}

#[test]
fn map_blocks_of_the_wrong_shape() {
    let a = Array::from_array(iota(&[5, 4]), 2).unwrap();
    let bad = a.map_blocks(|b| Ok(b.slice(s![..1, ..]).to_owned().into_dyn()));
    for msg in errors_all(&bad, "map_blocks that drops rows") {
        assert!(msg.contains("shape"), "{msg}");
    }
    let err = barrow_core::compute_with(&bad, &super::options("sync")).unwrap_err();
    assert!(
        matches!(typed(&err), ArrayError::BlockShape { .. }),
        "{err}"
    );
    // The message names the block and both shapes.
    let msg = err.to_string();
    assert!(
        msg.contains("block [") && msg.contains("[1, 2]") && msg.contains("[2, 2]"),
        "{msg}"
    );
    let failing = a.map_blocks(|_| -> barrow_core::Result<ArrayD<i64>> {
        Err(barrow_core::Error::new(
            barrow_core::ErrorKind::InvalidArgument,
            "refused",
        ))
    });
    for msg in errors_all(&failing, "map_blocks that fails") {
        assert!(msg.contains("refused"), "{msg}");
    }
    let bad_fn = Array::<i64>::from_fn(&[4], 2, |_, _| Ok(ArrayD::zeros(IxDyn(&[3])))).unwrap();
    errors_all(&bad_fn, "from_fn of the wrong shape");
}

#[test]
fn map_blocks_of_the_wrong_shape_downstream() {
    let a = Array::from_array(iota(&[5, 4]), 2).unwrap();
    let bad = a.map_blocks(|b| Ok(b.slice(s![..1, ..]).to_owned().into_dyn()));
    // Computing `bad` itself fails (its blocks do not fit its chunks), but
    // a reduction of it sums whatever the blocks hold.
    errors_all(&bad.sum(), "sum of a bad map_blocks");
    errors_all(&(&bad + 1).sum_axis(0usize), "sum_axis of a bad map_blocks");
}

#[test]
fn joining_mismatched_arrays() {
    let a = Array::from_array(iota(&[2, 3]), 2).unwrap();
    let b = Array::from_array(iota(&[2, 4]), 2).unwrap();
    let err = concatenate(&[a.clone(), b.clone()], 0).unwrap_err();
    assert!(
        err.to_string().contains("[2, 3]") && err.to_string().contains("[2, 4]"),
        "{err}"
    );
    assert!(concatenate(&[a.clone(), b.clone()], 1).is_ok());
    assert!(concatenate(&[a.clone(), b.clone()], 2).is_err());
    assert!(concatenate::<i64>(&[], 0).is_err());
    assert!(stack(&[a.clone(), b], 0).is_err());
    assert!(stack(&[a.clone(), a.clone()], 3).is_err());
    assert!(a.reshape(&[7]).is_err());
    assert!(Array::<i64>::arange(0, 5, 0, 2).is_err());
    assert!(
        barrow_array::random::Generator::new(1)
            .uniform(1.0, 1.0, &[3], 2)
            .is_err()
    );
}

#[test]
fn panics_in_tasks_are_errors() {
    // Integer division by zero panics in Rust; the task's panic comes back
    // as an error naming it, on every scheduler.
    let x = Array::<i64>::from_vec(vec![1, 2, 3, 4], 2).unwrap();
    for msg in errors_all(&(&x / 0), "integer division by zero") {
        assert!(msg.contains("divide by zero"), "{msg}");
    }
    let zeros = Array::<i64>::zeros(&[4], 3).unwrap();
    errors_all(&(&x % &zeros), "integer remainder by zero");
}

#[test]
fn extremes_along_an_empty_axis_of_an_empty_result() {
    let empty = Array::<i64>::zeros(&[0, 0], 1).unwrap();
    errors_all(&empty.min_axis(0usize), "min along axis 0 of shape [0, 0]");
    errors_all(&empty.argmax_axis(1), "argmax along axis 1 of shape [0, 0]");
}
