//! `from_array`: a 2-D array's blocks as partitions, its columns as
//! columns, equal to the array's own values for any chunking; and the
//! errors of an array that does not fit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use arrow::array::{Array as _, Float64Array, Int64Array};
use barrow_array::Array;
use barrow_core::compute_with;
use barrow_dataframe::DataFrame;
use ndarray::Array2;
use proptest::prelude::*;

mod common;

use common::options;

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn columns_hold_the_arrays_values_whatever_the_chunks(
        rows in 0usize..30,
        cols in 1usize..6,
        row_chunk in 1usize..8,
        col_chunk in 1usize..4,
        threads in any::<bool>(),
    ) {
        let data = Array2::from_shape_fn((rows, cols), |(i, j)| (i * 10 + j) as f64 * 0.5);
        let x = Array::from_array(data.clone(), [row_chunk, col_chunk]).unwrap();
        let df = DataFrame::from_array(&x, None).unwrap();
        prop_assert_eq!(df.npartitions(), rows.div_ceil(row_chunk).max(1));
        let names: Vec<String> = (0..cols).map(|j| j.to_string()).collect();
        prop_assert_eq!(df.columns(), names.clone());
        let table = compute_with(&df, &options(if threads { "threads" } else { "sync" })).unwrap();
        prop_assert_eq!(table.num_rows(), rows);
        for (j, name) in names.iter().enumerate() {
            let column = table.column_by_name(name).unwrap();
            let column = column.as_any().downcast_ref::<Float64Array>().unwrap();
            let want: Vec<f64> = data.column(j).to_vec();
            prop_assert_eq!(column.values().to_vec(), want);
        }
    }
}

#[test]
fn integer_arrays_and_named_columns_and_arrays_that_do_not_fit() {
    let data = Array2::from_shape_fn((5, 2), |(i, j)| (i * 2 + j) as i64);
    let x = Array::from_array(data, [2, 1]).unwrap();
    let df = DataFrame::from_array(&x, Some(vec!["even".into(), "odd".into()])).unwrap();
    let table = compute_with(&df, &options("threads")).unwrap();
    let odd = table.column_by_name("odd").unwrap();
    let odd = odd.as_any().downcast_ref::<Int64Array>().unwrap();
    assert_eq!(odd.values().to_vec(), [1, 3, 5, 7, 9]);
    assert!(odd.null_count() == 0);

    let err = DataFrame::from_array(&x, Some(vec!["one".into()])).unwrap_err();
    assert!(
        err.to_string().contains("1 column names for an array of 2"),
        "{err}"
    );
    let err = DataFrame::from_array(&x, Some(vec!["a".into(), "a".into()])).unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");
    let flat = Array::<f64>::ones(&[4], [2]).unwrap();
    let err = DataFrame::from_array(&flat, None).unwrap_err();
    assert!(err.to_string().contains("2-D array"), "{err}");
}
