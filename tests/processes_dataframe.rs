//! Dataframes on the `processes` scheduler, with real worker processes: a
//! pipeline of each family (row-wise steps from CSV and Parquet files,
//! reductions, group-by, a shuffled and a broadcast merge, a sort,
//! `drop_duplicates`, `repartition`, writing files) gives what `threads` gives. Partitions cross the process boundary as
//! Arrow IPC frames; the plans travel as the task functions' parameters.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::sync::Arc;

use barrow::dataframe::arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use barrow::dataframe::{Agg, DataFrame, How, JoinStrategy, MergeOptions, Scalar, col, lit};
use barrow::{Options, compute_with};

barrow::processes::worker_entry!();

fn processes() -> Options {
    Options::new().scheduler("processes").num_workers(2)
}

fn threads() -> Options {
    Options::new().scheduler("threads").num_workers(2)
}

/// Orders: (user, amount, shop), in three partitions.
fn orders() -> DataFrame {
    let part = |start: i64| {
        let users: Vec<i64> = (start..start + 20).map(|i| i % 7).collect();
        let amounts: Vec<f64> = (start..start + 20).map(|i| i as f64 * 1.5).collect();
        let shops: Vec<&str> = (start..start + 20)
            .map(|i| if i % 3 == 0 { "north" } else { "south" })
            .collect();
        RecordBatch::try_from_iter([
            ("user", Arc::new(Int64Array::from(users)) as _),
            ("amount", Arc::new(Float64Array::from(amounts)) as _),
            ("shop", Arc::new(StringArray::from(shops)) as _),
        ])
        .unwrap()
    };
    DataFrame::from_record_batches([part(0), part(20), part(40)]).unwrap()
}

/// Users: (user, name), in two partitions.
fn users() -> DataFrame {
    let part = |ids: Vec<i64>| {
        let names: Vec<String> = ids.iter().map(|i| format!("u{i}")).collect();
        RecordBatch::try_from_iter([
            ("user", Arc::new(Int64Array::from(ids)) as _),
            ("name", Arc::new(StringArray::from(names)) as _),
        ])
        .unwrap()
    };
    DataFrame::from_record_batches([part(vec![0, 1, 2]), part(vec![3, 4, 5, 9])]).unwrap()
}

fn sorted_rows(batch: &RecordBatch) -> Vec<String> {
    let mut rows: Vec<String> = (0..batch.num_rows())
        .map(|i| {
            batch
                .columns()
                .iter()
                .map(|c| {
                    barrow::dataframe::arrow::util::display::array_value_to_string(c, i).unwrap()
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn row_steps_and_reductions_from_files_run_on_processes() {
    let dir = tempfile::tempdir().unwrap();
    let written = compute_with(
        &orders().to_csv(dir.path().join("csv")).unwrap(),
        &processes(),
    )
    .unwrap();
    assert_eq!(written.len(), 3);
    compute_with(
        &orders().to_parquet(dir.path().join("parquet")).unwrap(),
        &processes(),
    )
    .unwrap();
    for df in [
        DataFrame::read_csv(dir.path().join("csv/*.csv").to_str().unwrap()).unwrap(),
        DataFrame::read_parquet(dir.path().join("parquet/*.parquet").to_str().unwrap()).unwrap(),
    ] {
        let big = df
            .filter(col("amount").gt(lit(20.0)))
            .unwrap()
            .with_column("tax", col("amount") * lit(0.2))
            .unwrap();
        let on_processes = compute_with(&big, &processes()).unwrap();
        assert_eq!(on_processes, compute_with(&big, &threads()).unwrap());
        assert_eq!(on_processes.num_rows(), 60 - 14);
        let total = compute_with(&big.sum("tax").unwrap(), &processes()).unwrap();
        let expected: f64 = (14..60).map(|i| i as f64 * 1.5 * 0.2).sum();
        assert!(
            (total.as_f64().unwrap() - expected).abs() < 1e-9,
            "{total:?}"
        );
        assert_eq!(
            compute_with(&big.count("shop").unwrap(), &processes()).unwrap(),
            Scalar::Int64(46)
        );
        let head = compute_with(&big.head(2).unwrap(), &processes()).unwrap();
        assert_eq!(head.num_rows(), 2);
    }
}

#[test]
fn group_by_and_merges_run_on_processes() {
    let by_shop = orders()
        .groupby(["shop"])
        .unwrap()
        .agg([("amount", Agg::Sum), ("user", Agg::Count)])
        .unwrap();
    let on_processes = compute_with(&by_shop, &processes()).unwrap();
    assert_eq!(on_processes, compute_with(&by_shop, &threads()).unwrap());
    assert_eq!(on_processes.num_rows(), 2);

    for options in [
        MergeOptions::on(["user"]).how(How::Outer),
        MergeOptions::on(["user"])
            .how(How::Inner)
            .strategy(JoinStrategy::Shuffle)
            .npartitions(4),
    ] {
        let merged = orders().merge_with(&users(), &options).unwrap();
        let on_processes = compute_with(&merged, &processes()).unwrap();
        assert_eq!(
            sorted_rows(&on_processes),
            sorted_rows(&compute_with(&merged, &threads()).unwrap())
        );
    }
    // A right side of one partition is broadcast, not shuffled.
    let one =
        DataFrame::from_record_batches([compute_with(&users(), &threads()).unwrap()]).unwrap();
    let broadcast = orders().merge(&one, ["user"], How::Left).unwrap();
    assert!(broadcast.explain().contains("right side broadcast"));
    let table = compute_with(&broadcast, &processes()).unwrap();
    assert_eq!(table.num_rows(), 60);
}

#[test]
fn a_sort_across_partitions_runs_on_processes() {
    // Amounts descending, then users: a range shuffle into 4 partitions.
    let sorted = orders()
        .sort_values_with(
            &barrow::dataframe::SortBy::columns(["shop", "amount"])
                .ascending([true, false])
                .npartitions(4),
        )
        .unwrap();
    let on_processes = compute_with(&sorted, &processes()).unwrap();
    assert_eq!(on_processes, compute_with(&sorted, &threads()).unwrap());
    assert_eq!(on_processes.num_rows(), 60);
    let by_amount = orders().set_index("amount").unwrap();
    let table = compute_with(&by_amount, &processes()).unwrap();
    let amounts = table
        .column(0)
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    assert!(amounts.values().windows(2).all(|w| w[0] <= w[1]));
    let divisions = compute_with(&by_amount.divisions().unwrap(), &processes()).unwrap();
    assert_eq!(divisions.num_rows(), 2);
}

#[test]
fn spreads_distinct_counts_and_reshaping_run_on_processes() {
    for agg in [Agg::Std, Agg::Var, Agg::NUnique, Agg::NUniqueApprox] {
        let reduced = orders().agg("user", agg).unwrap();
        assert_eq!(
            compute_with(&reduced, &processes()).unwrap(),
            compute_with(&reduced, &threads()).unwrap(),
            "{agg:?}"
        );
    }
    assert_eq!(
        compute_with(&orders().nunique("user").unwrap(), &processes()).unwrap(),
        Scalar::Int64(7)
    );
    for table in [
        orders().describe().unwrap(),
        orders().value_counts("shop").unwrap(),
    ] {
        assert_eq!(
            compute_with(&table, &processes()).unwrap(),
            compute_with(&table, &threads()).unwrap()
        );
    }
    let unique = orders().drop_duplicates(["user", "shop"]).unwrap();
    let on_processes = compute_with(&unique, &processes()).unwrap();
    assert_eq!(
        sorted_rows(&on_processes),
        sorted_rows(&compute_with(&unique, &threads()).unwrap())
    );
    assert_eq!(on_processes.num_rows(), 14);
    for n in [2, 5] {
        let re = orders().repartition(n).unwrap();
        assert_eq!(
            compute_with(&re, &processes()).unwrap(),
            compute_with(&orders(), &threads()).unwrap()
        );
    }
    let spread = orders()
        .groupby(["user"])
        .unwrap()
        .agg_split_out([("amount", Agg::Sum)], 3)
        .unwrap();
    let on_processes = compute_with(&spread, &processes()).unwrap();
    assert_eq!(on_processes.num_rows(), 7);
    assert_eq!(
        sorted_rows(&on_processes),
        sorted_rows(&compute_with(&spread, &threads()).unwrap())
    );
}

#[test]
fn a_frame_from_an_array_runs_on_processes() {
    use barrow::array::Array;
    let x = Array::<f64>::ones(&[10, 4], [3, 2]).unwrap();
    let df = DataFrame::from_array(&x, None).unwrap();
    let total = compute_with(&df.sum("3").unwrap(), &processes()).unwrap();
    assert_eq!(total, Scalar::Float64(10.0));
    assert_eq!(
        compute_with(&df, &processes()).unwrap(),
        compute_with(&df, &threads()).unwrap()
    );
}
