//! `merge` against a nested-loop reference in plain Rust, for every `how`,
//! broadcast and shuffled, over random tables (null and skewed keys) cut
//! into random partitions; and the errors of keys that do not go together.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::DataType;
use barrow_core::{ErrorKind, Options, compute_with};
use barrow_dataframe::{Agg, DataFrame, How, JoinStrategy, MergeOptions, col, lit};
use proptest::prelude::*;

fn options(scheduler: &str) -> Options {
    barrow_local::link();
    Options::new().scheduler(scheduler)
}

/// A left row: a key and a value.
type Left = (Option<i64>, i64);
/// A right row: a key and a label.
type Right = (Option<i64>, String);
/// A result row: key, the left value, the right label.
type Joined = (Option<i64>, Option<i64>, Option<String>);

fn left_batch(rows: &[Left]) -> RecordBatch {
    RecordBatch::try_from_iter([
        (
            "k",
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )) as _,
        ),
        (
            "v",
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )) as _,
        ),
    ])
    .unwrap()
}

fn right_batch(rows: &[Right]) -> RecordBatch {
    RecordBatch::try_from_iter([
        (
            "k",
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            )) as _,
        ),
        (
            "w",
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.1.as_str()),
            )) as _,
        ),
    ])
    .unwrap()
}

/// `rows` cut into `n` partitions of about equal size (some may be empty).
fn cut<T>(rows: &[T], n: usize, batch: fn(&[T]) -> RecordBatch) -> DataFrame {
    let size = rows.len().div_ceil(n.max(1)).max(1);
    let mut parts: Vec<RecordBatch> = rows.chunks(size).map(batch).collect();
    while parts.len() < n.max(1) {
        parts.push(batch(&[]));
    }
    DataFrame::from_record_batches(parts).unwrap()
}

/// What pandas' merge gives, up to row order (nulls match nothing).
fn reference(left: &[Left], right: &[Right], how: How) -> Vec<Joined> {
    let mut out = Vec::new();
    let mut matched = vec![false; right.len()];
    for (k, v) in left {
        let mut any = false;
        for (j, (rk, w)) in right.iter().enumerate() {
            if k.is_some() && k == rk {
                out.push((*k, Some(*v), Some(w.clone())));
                matched[j] = true;
                any = true;
            }
        }
        if !any && matches!(how, How::Left | How::Outer) {
            out.push((*k, Some(*v), None));
        }
    }
    if matches!(how, How::Right | How::Outer) {
        for ((rk, w), m) in right.iter().zip(&matched) {
            if !m {
                out.push((*rk, None, Some(w.clone())));
            }
        }
    }
    out.sort();
    out
}

fn joined(table: &RecordBatch) -> Vec<Joined> {
    let ints = |name: &str| {
        table
            .column_by_name(name)
            .unwrap()
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .clone()
    };
    let (k, v) = (ints("k"), ints("v"));
    let w = table.column_by_name("w").unwrap();
    let w = w.as_any().downcast_ref::<StringArray>().unwrap();
    let mut out: Vec<Joined> = (0..table.num_rows())
        .map(|i| {
            (
                k.is_valid(i).then(|| k.value(i)),
                v.is_valid(i).then(|| v.value(i)),
                w.is_valid(i).then(|| w.value(i).to_owned()),
            )
        })
        .collect();
    out.sort();
    out
}

fn lefts() -> impl Strategy<Value = Vec<Left>> {
    // Few distinct keys, so that keys repeat on both sides (many-to-many).
    let key = proptest::option::weighted(0.85, 0i64..6);
    proptest::collection::vec((key, -50i64..50), 0..40)
}

fn rights() -> impl Strategy<Value = Vec<Right>> {
    let key = proptest::option::weighted(0.85, 0i64..8);
    proptest::collection::vec((key, "[a-d]{1,2}"), 0..25)
}

fn hows() -> impl Strategy<Value = How> {
    prop_oneof![
        Just(How::Inner),
        Just(How::Left),
        Just(How::Right),
        Just(How::Outer)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every join equals the nested-loop reference, whatever the
    /// partitioning (one-partition sides are broadcast where the join
    /// allows), the strategy and the scheduler.
    #[test]
    fn a_merge_equals_the_nested_loop_reference(
        left in lefts(),
        right in rights(),
        nl in 1usize..5,
        nr in 1usize..4,
        how in hows(),
        shuffle in any::<bool>(),
        npartitions in 1usize..5,
        threads in any::<bool>(),
        text in any::<bool>(),
    ) {
        let options = options(if threads { "threads" } else { "sync" });
        let mut l = cut(&left, nl, left_batch);
        let mut r = cut(&right, nr, right_batch);
        if text {
            // Text keys take the row-format path; integer keys their own.
            l = l.astype("k", DataType::Utf8).unwrap();
            r = r.astype("k", DataType::Utf8).unwrap();
        }
        let mut merge = MergeOptions::on(["k"]).how(how);
        if shuffle {
            merge = merge.strategy(JoinStrategy::Shuffle).npartitions(npartitions);
        }
        let mut df = l.merge_with(&r, &merge).unwrap();
        if text {
            df = df.astype("k", DataType::Int64).unwrap();
        }
        prop_assert_eq!(df.columns(), vec!["k", "v", "w"]);
        let table = compute_with(&df, &options).unwrap();
        prop_assert_eq!(joined(&table), reference(&left, &right, how));
    }
}

#[test]
fn steps_after_a_merge_run_on_its_partitions() {
    let options = options("threads");
    let left: Vec<Left> = (0..30).map(|i| (Some(i % 5), i)).collect();
    let right: Vec<Right> = (0..5).map(|k| (Some(k), format!("g{}", k % 2))).collect();
    let merged = cut(&left, 3, left_batch)
        .merge(&cut(&right, 2, right_batch), ["k"], How::Inner)
        .unwrap();
    assert_eq!(
        merged.npartitions(),
        3,
        "the shuffle makes the larger side's count"
    );
    let big = merged.filter(col("v").gt_eq(lit(10))).unwrap();
    let sums = compute_with(
        &big.groupby(["w"]).unwrap().agg([("v", Agg::Sum)]).unwrap(),
        &options,
    )
    .unwrap();
    // v = 10..30; k = v % 5 is even (g0) for k in {0, 2, 4}.
    let g0: i64 = (10..30).filter(|v| (v % 5) % 2 == 0).sum();
    let g1: i64 = (10..30).filter(|v| (v % 5) % 2 == 1).sum();
    let got = sums.column_by_name("v_sum").unwrap();
    let got = got.as_any().downcast_ref::<Int64Array>().unwrap();
    assert_eq!(got.values().to_vec(), vec![g0, g1]);
    let explained = big.explain();
    assert!(
        explained.contains("merge inner on [k] = [k], hash shuffle (3 partitions) columns [k, v, w] filter (v >= 10)"),
        "{explained}"
    );
}

#[test]
fn columns_both_sides_have_get_suffixes_and_different_key_names_stay() {
    let options = options("sync");
    let left =
        DataFrame::from_record_batches([left_batch(&[(Some(1), 10), (Some(2), 20)])]).unwrap();
    let right = DataFrame::from_record_batches([RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(vec![2, 3])) as _),
        ("v", Arc::new(Int64Array::from(vec![200, 300])) as _),
    ])
    .unwrap()])
    .unwrap();
    let df = left
        .merge_with(
            &right,
            &MergeOptions::left_right(["k"], ["id"]).how(How::Outer),
        )
        .unwrap();
    assert_eq!(df.columns(), vec!["k", "v_x", "id", "v_y"]);
    let table = compute_with(&df, &options).unwrap();
    assert_eq!(table.num_rows(), 3);
    let renamed = left
        .merge_with(
            &right,
            &MergeOptions::left_right(["k"], ["id"]).suffixes("_l", "_r"),
        )
        .unwrap();
    assert_eq!(renamed.columns(), vec!["k", "v_l", "id", "v_r"]);
}

#[test]
fn keys_that_do_not_go_together_are_refused_before_anything_runs() {
    let left = DataFrame::from_record_batches([left_batch(&[(Some(1), 1)])]).unwrap();
    let right = DataFrame::from_record_batches([right_batch(&[(Some(1), "a".into())])]).unwrap();
    let err = left
        .merge_with(&right, &MergeOptions::left_right(["k"], ["w"]))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("Int64") && text.contains("Utf8") && text.contains("astype"),
        "{text}"
    );

    let err = left.merge(&right, ["kk"], How::Inner).unwrap_err();
    assert!(err.to_string().contains("did you mean \"k\"?"), "{err}");

    let err = left
        .merge_with(&right, &MergeOptions::left_right(["k", "v"], ["k"]))
        .unwrap_err();
    assert!(err.to_string().contains("as many on each side"), "{err}");
}

#[test]
fn a_frame_joined_with_itself_shares_its_partitions() {
    let rows: Vec<Left> = (0..12).map(|i| (Some(i % 4), i)).collect();
    let df = cut(&rows, 3, left_batch);
    let pairs = df
        .merge_with(&df, &MergeOptions::on(["k"]).suffixes("_a", "_b"))
        .unwrap();
    let table = compute_with(&pairs, &options("threads")).unwrap();
    // Each of the 4 keys is on 3 rows: 9 pairs each.
    assert_eq!(table.num_rows(), 36);
    assert_eq!(pairs.columns(), ["k", "v_a", "v_b"]);
}

#[test]
fn a_merge_reads_and_shuffles_only_the_columns_after_it_uses() {
    let options = options("threads");
    let left: Vec<Left> = (0..40).map(|i| (Some(i % 8), i)).collect();
    let right: Vec<Right> = (0..8).map(|k| (Some(k), format!("g{k}"))).collect();
    // A column that fails wherever it is computed: an integer overflow.
    let poisoned = cut(&left, 4, left_batch)
        .with_column("bad", col("v") + lit(i64::MAX))
        .unwrap();
    let merged = poisoned
        .merge_with(
            &cut(&right, 2, right_batch),
            &MergeOptions::on(["k"]).strategy(JoinStrategy::Shuffle),
        )
        .unwrap();
    assert_eq!(merged.columns(), ["k", "v", "bad", "w"]);
    let total = compute_with(&merged.sum("v").unwrap(), &options).unwrap();
    assert_eq!(total, barrow_dataframe::Scalar::Int64((0..40).sum()));
    let explained = merged.select(["w"]).unwrap().explain();
    assert!(explained.contains("columns [w]"), "{explained}");
    let err = compute_with(&merged.sum("bad").unwrap(), &options).unwrap_err();
    assert!(err.to_string().to_lowercase().contains("overflow"), "{err}");

    // A column both sides have stays suffixed when only one is used.
    let twin = cut(&left, 2, left_batch);
    let pairs = twin
        .merge_with(&twin, &MergeOptions::on(["k"]).suffixes("_a", "_b"))
        .unwrap()
        .select(["v_a"])
        .unwrap();
    let table = compute_with(&pairs, &options).unwrap();
    assert_eq!(pairs.columns(), ["v_a"]);
    // Each key is on 5 rows: each left row pairs with 5.
    let got = table
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!(got.iter().flatten().sum::<i64>(), 5 * (0..40).sum::<i64>());
}
