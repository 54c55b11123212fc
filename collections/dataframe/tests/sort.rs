//! `sort_values` and `set_index` against a sort of the whole table in plain
//! Rust, over random tables (nulls, repeated and skewed keys, empty
//! partitions) cut into random partitions, in every direction and with
//! nulls first or last; the divisions bound every partition; and the
//! errors of a sort that cannot be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cmp::Ordering;
use std::sync::Arc;

use arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use barrow_core::{ErrorKind, Options, compute_with};
use barrow_dataframe::{DataFrame, SortBy, col, lit};
use proptest::prelude::*;

fn options(scheduler: &str) -> Options {
    barrow_local::link();
    Options::new().scheduler(scheduler)
}

/// A row: two sort keys and a payload that tells rows apart.
type Row = (Option<i64>, Option<String>, i64);

fn batch(rows: &[Row]) -> RecordBatch {
    RecordBatch::try_from_iter([
        (
            "a",
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )) as _,
        ),
        (
            "b",
            Arc::new(StringArray::from(
                rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
            )) as _,
        ),
        (
            "id",
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )) as _,
        ),
    ])
    .unwrap()
}

fn rows(batch: &RecordBatch) -> Vec<Row> {
    let a = batch
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    let b = batch
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let id = batch
        .column(2)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    (0..batch.num_rows())
        .map(|i| {
            (
                a.is_valid(i).then(|| a.value(i)),
                b.is_valid(i).then(|| b.value(i).to_owned()),
                id.value(i),
            )
        })
        .collect()
}

/// One key compared as pandas does: nulls first or last whatever the
/// direction.
fn compare<T: Ord>(x: &Option<T>, y: &Option<T>, ascending: bool, nulls_first: bool) -> Ordering {
    match (x, y) {
        (None, None) => Ordering::Equal,
        (None, _) => {
            if nulls_first {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (_, None) => {
            if nulls_first {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (Some(x), Some(y)) => {
            if ascending {
                x.cmp(y)
            } else {
                y.cmp(x)
            }
        }
    }
}

/// The order of two rows by `a` alone (`single`), or by `a` then `b`.
fn key_order(x: &Row, y: &Row, ascending: [bool; 2], nulls_first: bool, single: bool) -> Ordering {
    let first = compare(&x.0, &y.0, ascending[0], nulls_first);
    if single {
        return first;
    }
    first.then_with(|| compare(&x.1, &y.1, ascending[1], nulls_first))
}

fn row_strategy() -> impl Strategy<Value = Row> {
    (
        prop_oneof![1 => Just(None), 4 => (0i64..6).prop_map(Some), 1 => Just(Some(3))],
        proptest::option::of("[ab]{0,2}"),
    )
        .prop_map(|(a, b)| (a, b, 0))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn a_sort_orders_every_row_across_partitions(
        mut table in proptest::collection::vec(row_strategy(), 0..80),
        cuts in proptest::collection::vec(0usize..80, 0..5),
        out in 1usize..6,
        ascending in any::<[bool; 2]>(),
        nulls_first in any::<bool>(),
        threads in any::<bool>(),
        single in any::<bool>(),
    ) {
        for (i, r) in table.iter_mut().enumerate() {
            r.2 = i as i64;
        }
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(table.len())).collect();
        cuts.sort_unstable();
        let mut parts = Vec::new();
        let mut start = 0;
        for c in cuts.into_iter().chain([table.len()]) {
            parts.push(batch(&table[start..c]));
            start = c;
        }
        let df = DataFrame::from_record_batches(parts).unwrap();
        // One integer column takes a path of its own (values, not rows).
        let by = if single {
            SortBy::columns(["a"]).ascending(ascending[0])
        } else {
            SortBy::columns(["a", "b"]).ascending(ascending)
        };
        let by = by
            .nulls_first(nulls_first)
            .npartitions(out);
        let sorted = df.sort_values_with(&by).unwrap();
        prop_assert_eq!(sorted.npartitions(), out);
        let opts = options(if threads { "threads" } else { "sync" });
        let got = rows(&compute_with(&sorted, &opts).unwrap());

        let mut expected = table.clone();
        expected.sort_by(|x, y| key_order(x, y, ascending, nulls_first, single));
        let keys = |rs: &[Row]| {
            rs.iter().map(|r| (r.0, if single { None } else { r.1.clone() })).collect::<Vec<_>>()
        };
        prop_assert_eq!(keys(&got), keys(&expected));
        let mut ids: Vec<i64> = got.iter().map(|r| r.2).collect();
        ids.sort_unstable();
        prop_assert_eq!(ids, (0..table.len() as i64).collect::<Vec<_>>());

        // Every partition lies between its divisions.
        let divisions = rows(&{
            let d = compute_with(&sorted.divisions().unwrap(), &opts).unwrap();
            // The divisions have the sort columns only: pad the payload.
            let n = d.num_rows();
            RecordBatch::try_from_iter([
                ("a", d.column(0).clone()),
                ("b", if single {
                    Arc::new(StringArray::from(vec![None::<&str>; n])) as _
                } else {
                    d.column(1).clone()
                }),
                ("id", Arc::new(Int64Array::from(vec![0; n])) as _),
            ]).unwrap()
        });
        // (None cut a table without rows.)
        prop_assert_eq!(divisions.len(), if table.is_empty() { 0 } else { out - 1 });
        for i in 0..out {
            let part = compute_with(&sorted.get_partition(i).unwrap(), &opts).unwrap();
            for r in rows(&part) {
                if i > 0 {
                    prop_assert!(key_order(&divisions[i - 1], &r, ascending, nulls_first, single).is_le());
                }
                if i < divisions.len() {
                    prop_assert!(key_order(&r, &divisions[i], ascending, nulls_first, single).is_lt());
                }
            }
        }
    }
}

#[test]
fn set_index_sorts_floats_with_nan_and_nulls_last_and_moves_the_column_first() {
    let part = |v: Vec<Option<f64>>| {
        let n = v.len() as i64;
        RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(Int64Array::from((0..n).collect::<Vec<_>>())) as _,
            ),
            ("x", Arc::new(Float64Array::from(v)) as _),
        ])
        .unwrap()
    };
    let df = DataFrame::from_record_batches([
        part(vec![Some(2.5), None, Some(f64::NAN), Some(-1.0)]),
        part(vec![Some(0.0), Some(-7.25), Some(2.5)]),
        part(vec![]),
    ])
    .unwrap();
    let indexed = df.set_index("x").unwrap();
    assert_eq!(indexed.columns(), ["x", "id"]);
    let table = compute_with(&indexed, &options("threads")).unwrap();
    let x = table
        .column(0)
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    let shown: Vec<String> = (0..x.len())
        .map(|i| {
            if x.is_null(i) {
                "null".into()
            } else {
                x.value(i).to_string()
            }
        })
        .collect();
    assert_eq!(shown, ["-7.25", "-1", "0", "2.5", "2.5", "NaN", "null"]);
    // A filter keeps the order, and so the divisions.
    assert!(
        indexed
            .filter(col("x").gt(lit(0.0)))
            .unwrap()
            .divisions()
            .is_some()
    );
    // Replacing the sort column loses them.
    assert!(
        indexed
            .with_column("x", lit(1.0))
            .unwrap()
            .divisions()
            .is_none()
    );
    assert!(df.divisions().is_none());
}

#[test]
fn a_sort_that_cannot_be_says_why() {
    let df = DataFrame::from_record_batches([batch(&[(Some(1), None, 0)])]).unwrap();
    let err = df.sort_values(["aa"], true).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("did you mean \"a\""), "{err}");
    let err = df
        .sort_values_with(&SortBy::columns(["a", "b"]).ascending([true]))
        .unwrap_err();
    assert!(
        err.to_string().contains("1 ascending flags for 2 columns"),
        "{err}"
    );
    let err = df
        .sort_values_with(&SortBy::columns(["a"]).npartitions(0))
        .unwrap_err();
    assert!(err.to_string().contains("0 partitions"), "{err}");
    let err = df.sort_values(Vec::<String>::new(), true).unwrap_err();
    assert!(err.to_string().contains("at least one column"), "{err}");
}

#[test]
fn a_presorted_frame_gets_divisions_without_a_shuffle_and_bad_orders_are_named() {
    use arrow::array::Int64Array;
    let part = |ids: &[i64]| {
        RecordBatch::try_from_iter([
            (
                "v",
                std::sync::Arc::new(Int64Array::from(
                    ids.iter().map(|i| i * 10).collect::<Vec<_>>(),
                )) as _,
            ),
            (
                "id",
                std::sync::Arc::new(Int64Array::from(ids.to_vec())) as _,
            ),
        ])
        .unwrap()
    };
    let opts = options("threads");
    // An empty partition between, and one at the end.
    let df = DataFrame::from_record_batches([
        part(&[1, 2, 2]),
        part(&[]),
        part(&[5, 9]),
        part(&[12]),
        part(&[]),
    ])
    .unwrap();
    let indexed = df.set_index_sorted("id").unwrap();
    assert_eq!(indexed.columns(), ["id", "v"]);
    assert_eq!(indexed.npartitions(), 5);
    let divisions = compute_with(&indexed.divisions().unwrap(), &opts).unwrap();
    let got: Vec<i64> = divisions
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .values()
        .to_vec();
    assert_eq!(
        got,
        [5, 5, 12, 12],
        "the next partition's first key, or the last key"
    );
    let table = compute_with(&indexed, &opts).unwrap();
    assert_eq!(table.num_rows(), 6);
    assert!(
        indexed.explain().contains("set_index_sorted"),
        "{}",
        indexed.explain()
    );

    // The error computing the divisions of these partitions.
    let divisions_error = |parts: &[&[i64]]| -> String {
        let df = DataFrame::from_record_batches(parts.iter().map(|p| part(p))).unwrap();
        let divisions = df.set_index_sorted("id").unwrap().divisions().unwrap();
        compute_with(&divisions, &opts).unwrap_err().to_string()
    };
    let err = divisions_error(&[&[1, 3, 2]]);
    assert!(err.contains("not sorted by [id]"), "{err}");
    let err = divisions_error(&[&[1, 4], &[4, 6]]);
    assert!(err.contains("partition 1 starts at or below"), "{err}");
    assert!(err.contains("use set_index"), "{err}");
    assert!(
        df.set_index_sorted("idd")
            .unwrap_err()
            .to_string()
            .contains("\"id\"")
    );
}
