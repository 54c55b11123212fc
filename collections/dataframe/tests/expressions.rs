//! String and date functions in expressions (Dask's `.str` and `.dt`)
//! against plain Rust, on random strings cut into random partitions, on a
//! CSV file's inferred dates and timestamps, and the errors of a function
//! given the wrong type.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch, StringArray};
use barrow_core::{ErrorKind, compute_with};
use barrow_dataframe::{DataFrame, col, lit};
use proptest::prelude::*;

mod common;

use common::{ints, options};

fn texts(values: &[Option<String>], cut: usize) -> DataFrame {
    let batch = |rows: &[Option<String>]| {
        RecordBatch::try_from_iter([(
            "s",
            Arc::new(StringArray::from(rows.to_vec())) as Arc<dyn Array>,
        )])
        .unwrap()
    };
    let cut = cut.min(values.len());
    DataFrame::from_record_batches([batch(&values[..cut]), batch(&values[cut..])]).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn string_functions_equal_plain_rust(
        values in proptest::collection::vec(proptest::option::weighted(0.85, "[aAbé]{0,4}"), 0..40),
        cut in 0usize..40,
        needle in "[ab]{0,2}",
        threads in any::<bool>(),
    ) {
        let opts = options(if threads { "threads" } else { "sync" });
        let df = texts(&values, cut)
            .with_column("has", col("s").contains(&needle)).unwrap()
            .with_column("starts", col("s").starts_with(&needle)).unwrap()
            .with_column("ends", col("s").ends_with(&needle)).unwrap()
            .with_column("lower", col("s").lower()).unwrap()
            .with_column("upper", col("s").upper()).unwrap()
            .with_column("len", col("s").str_len()).unwrap()
            .with_column("re", col("s").matches(&format!("{needle}$|^A"))).unwrap();
        let table = compute_with(&df, &opts).unwrap();
        let bools = |name: &str| -> Vec<Option<bool>> {
            let a = table.column_by_name(name).unwrap();
            a.as_any().downcast_ref::<BooleanArray>().unwrap().iter().collect()
        };
        let strings = |name: &str| -> Vec<Option<String>> {
            let a = table.column_by_name(name).unwrap();
            let a = a.as_any().downcast_ref::<StringArray>().unwrap();
            a.iter().map(|s| s.map(str::to_owned)).collect()
        };
        let each = |f: &dyn Fn(&str) -> bool| -> Vec<Option<bool>> {
            values.iter().map(|v| v.as_deref().map(f)).collect()
        };
        prop_assert_eq!(bools("has"), each(&|s| s.contains(needle.as_str())));
        prop_assert_eq!(bools("starts"), each(&|s| s.starts_with(needle.as_str())));
        prop_assert_eq!(bools("ends"), each(&|s| s.ends_with(needle.as_str())));
        prop_assert_eq!(bools("re"), each(&|s| s.ends_with(needle.as_str()) || s.starts_with('A')));
        let map = |f: fn(&str) -> String| -> Vec<Option<String>> {
            values.iter().map(|v| v.as_deref().map(f)).collect()
        };
        prop_assert_eq!(strings("lower"), map(str::to_lowercase));
        prop_assert_eq!(strings("upper"), map(str::to_uppercase));
        let lengths: Vec<Option<i64>> =
            values.iter().map(|v| v.as_ref().map(|s| s.chars().count() as i64)).collect();
        prop_assert_eq!(ints(&table, "len"), lengths);
    }
}

#[test]
fn date_parts_of_a_csv_files_dates_and_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("trips.csv"),
        "day,at,fare\n2024-02-29,2024-02-29T23:59:58,10\n2026-12-07,2026-12-07T08:05:09,4\n\
         2025-01-05,,7\n",
    )
    .unwrap();
    let trips = DataFrame::read_csv(dir.path().join("trips.csv").to_str().unwrap()).unwrap();
    let parts = trips
        .with_column("y", col("day").year())
        .unwrap()
        .with_column("m", col("day").month())
        .unwrap()
        .with_column("d", col("day").day())
        .unwrap()
        .with_column("dow", col("day").day_of_week())
        .unwrap()
        .with_column("h", col("at").hour())
        .unwrap()
        .with_column("min", col("at").minute())
        .unwrap()
        .with_column("s", col("at").second())
        .unwrap()
        .filter(col("day").year().gt(lit(2024)))
        .unwrap();
    let table = compute_with(&parts, &options("threads")).unwrap();
    assert_eq!(ints(&table, "y"), [Some(2026), Some(2025)]);
    assert_eq!(ints(&table, "m"), [Some(12), Some(1)]);
    assert_eq!(ints(&table, "d"), [Some(7), Some(5)]);
    // 2026-12-07 is a Monday, 2025-01-05 a Sunday.
    assert_eq!(ints(&table, "dow"), [Some(0), Some(6)]);
    assert_eq!(ints(&table, "h"), [Some(8), None]);
    assert_eq!(ints(&table, "min"), [Some(5), None]);
    assert_eq!(ints(&table, "s"), [Some(9), None]);
    assert!(
        parts.explain().contains("day.year()"),
        "{}",
        parts.explain()
    );

    // A function given the wrong type is refused when the plan is built.
    let err = trips
        .with_column("x", col("fare").contains("1"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType);
    assert!(
        err.to_string().contains("string functions take strings"),
        "{err}"
    );
    let err = trips.with_column("x", col("day").hour()).unwrap_err();
    assert!(err.to_string().contains("only timestamps"), "{err}");
    // So is a pattern that is not a regular expression.
    let err = trips
        .with_column(
            "x",
            col("day")
                .cast(arrow::datatypes::DataType::Utf8)
                .matches("(unclosed"),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(
        err.to_string().contains("not a regular expression"),
        "{err}"
    );
}
