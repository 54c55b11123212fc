//! Dataframes against references computed apart: in plain Rust on the whole
//! table's values, on `sync` and `threads`, over random tables and random
//! partitionings; CSV and Parquet files; and the errors of bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::DataType;
use barrow_core::{ErrorKind, compute_with};
use barrow_dataframe::{DataFrame, DataFrameError, Scalar, col, lit};
use proptest::prelude::*;

mod common;

use common::{Row, batch, close, floats, ints, options, partitioned, rows};

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// filter → with_column → select, and every reduction, equal what plain
    /// Rust computes on the whole table, however it is partitioned.
    #[test]
    fn a_pipeline_equals_the_whole_table_reference(
        rows in rows(),
        cuts in proptest::collection::vec(0usize..60, 0..6),
        threshold in -1000i64..1000,
        threads in any::<bool>(),
    ) {
        let options = options(if threads { "threads" } else { "sync" });
        let df = partitioned(&rows, &cuts)
            .filter(col("a").gt(lit(threshold)))
            .unwrap()
            .with_column("c", col("a") * lit(2) + col("b"))
            .unwrap()
            .select(["c", "s"])
            .unwrap();
        let kept: Vec<&Row> = rows.iter().filter(|r| r.a.is_some_and(|a| a > threshold)).collect();
        let expected: Vec<Option<f64>> = kept
            .iter()
            .map(|r| r.b.map(|b| r.a.unwrap_or(0) as f64 * 2.0 + b))
            .collect();

        let table = compute_with(&df, &options).unwrap();
        prop_assert_eq!(table.num_rows(), kept.len());
        let got = floats(&table, "c");
        for (g, e) in got.iter().zip(&expected) {
            prop_assert!(match (g, e) { (Some(g), Some(e)) => close(*g, *e), (None, None) => true, _ => false }, "{g:?} vs {e:?}");
        }
        let strings = table.column_by_name("s").unwrap();
        let strings = strings.as_any().downcast_ref::<StringArray>().unwrap();
        let got_s: Vec<&str> = strings.iter().map(|s| s.unwrap()).collect();
        let want_s: Vec<&str> = kept.iter().map(|r| r.s.as_str()).collect();
        prop_assert_eq!(got_s, want_s);

        let values: Vec<f64> = expected.iter().flatten().copied().collect();
        let count = compute_with(&df.count("c").unwrap(), &options).unwrap();
        prop_assert_eq!(count, Scalar::Int64(values.len() as i64));
        let sum = compute_with(&df.sum("c").unwrap(), &options).unwrap().as_f64().unwrap();
        prop_assert!(close(sum, values.iter().sum()));
        let mean = compute_with(&df.mean("c").unwrap(), &options).unwrap();
        match values.len() {
            0 => prop_assert_eq!(mean, Scalar::Null),
            n => prop_assert!(close(mean.as_f64().unwrap(), values.iter().sum::<f64>() / n as f64)),
        }
        let min = compute_with(&df.min("c").unwrap(), &options).unwrap();
        let max = compute_with(&df.max("c").unwrap(), &options).unwrap();
        prop_assert_eq!(min.as_f64(), values.iter().copied().reduce(f64::min));
        prop_assert_eq!(max.as_f64(), values.iter().copied().reduce(f64::max));

        // Integers sum as integers, strings have a min and max.
        let all = partitioned(&rows, &cuts);
        let int_sum = compute_with(&all.sum("a").unwrap(), &options).unwrap();
        prop_assert_eq!(int_sum, Scalar::Int64(rows.iter().filter_map(|r| r.a).sum()));
        let smallest = compute_with(&all.min("s").unwrap(), &options).unwrap();
        let want = rows.iter().map(|r| r.s.clone()).min().map_or(Scalar::Null, Scalar::Utf8);
        prop_assert_eq!(smallest, want);
    }
}

/// Three rows with a null in `a` and one in `b`.
fn three_rows() -> Vec<Row> {
    vec![
        Row {
            a: Some(1),
            b: None,
            s: "x".into(),
        },
        Row {
            a: None,
            b: Some(2.5),
            s: "y".into(),
        },
        Row {
            a: Some(3),
            b: Some(-1.0),
            s: "z".into(),
        },
    ]
}

#[test]
fn null_tests_boolean_logic_and_casts() {
    let rows = three_rows();
    let df = partitioned(&rows, &[1]);
    let options = options("sync");
    let nulls = df.filter(col("a").is_null() | col("b").is_null()).unwrap();
    assert_eq!(compute_with(&nulls, &options).unwrap().num_rows(), 2);
    let both = df
        .filter(col("a").is_not_null() & !col("b").is_null())
        .unwrap();
    let both = compute_with(&both, &options).unwrap();
    assert_eq!(both.num_rows(), 1);
    let as_text = df.with_column("t", col("a").cast(DataType::Utf8)).unwrap();
    let table = compute_with(&as_text, &options).unwrap();
    let t = table.column_by_name("t").unwrap();
    let t = t.as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(t.iter().collect::<Vec<_>>(), [Some("1"), None, Some("3")]);
    // True division makes floats of integers.
    let halves = df.with_column("h", col("a") / lit(2)).unwrap();
    let table = compute_with(&halves, &options).unwrap();
    assert_eq!(floats(&table, "h"), [Some(0.5), None, Some(1.5)]);
}

#[test]
fn head_reads_the_first_partition_only() {
    let rows: Vec<Row> = (0..10)
        .map(|i| Row {
            a: Some(i),
            b: Some(i as f64),
            s: format!("r{i}"),
        })
        .collect();
    let df = partitioned(&rows, &[4]);
    let head = compute_with(&df.head(2).unwrap(), &options("sync")).unwrap();
    assert_eq!(head.num_rows(), 2);
    let short = compute_with(&df.head(100).unwrap(), &options("sync")).unwrap();
    assert_eq!(short.num_rows(), 4, "only the first partition");
}

#[test]
fn a_missing_column_is_refused_when_the_plan_is_built() {
    let df = partitioned(&[], &[]);
    let err = df.filter(col("amout").gt(lit(1))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let text = err.to_string();
    assert!(text.contains("no column \"amout\""), "{text}");
    assert!(text.contains("a, b, s"), "{text}");
    let err = df.select(["a", "ss"]).unwrap_err().to_string();
    assert!(err.contains("did you mean \"s\""), "{err}");
    assert!(df.sum("nope").is_err());
}

#[test]
fn operands_that_do_not_go_together_are_refused() {
    let df = partitioned(&[], &[]);
    let err = df.with_column("x", col("s") + lit(1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType);
    assert!(err.to_string().contains("Utf8"), "{err}");
    let err = df.filter(col("a") + lit(1)).unwrap_err();
    assert!(err.to_string().contains("boolean"), "{err}");
    let err = df.sum("s").unwrap_err();
    assert!(err.to_string().contains("sum(s)"), "{err}");
    assert!(matches!(
        err.source_as::<DataFrameError>(),
        Some(DataFrameError::Types { .. })
    ));
}

#[test]
fn an_integer_sum_that_overflows_fails_instead_of_wrapping() {
    let big = |a| Row {
        a: Some(a),
        b: None,
        s: String::new(),
    };
    let df = partitioned(&[big(i64::MAX), big(1)], &[1]);
    let err = compute_with(&df.sum("a").unwrap(), &options("sync")).unwrap_err();
    assert!(err.to_string().contains("overflow"), "{err}");
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn csv_files_are_read_a_partition_each_with_only_the_columns_needed() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.csv",
        "id,price,name\n1,2.5,tea\n2,10.0,cake\n",
    );
    write(dir.path(), "b.csv", "id,price,name\n3,4.0,bun\n");
    let pattern = dir.path().join("*.csv");
    let df = DataFrame::read_csv(pattern.to_str().unwrap()).unwrap();
    assert_eq!(df.npartitions(), 2);
    assert_eq!(df.columns(), ["id", "price", "name"]);
    let dear = df
        .filter(col("price").gt(lit(3)))
        .unwrap()
        .select(["id"])
        .unwrap();
    let explained = dear.explain();
    assert!(
        explained.contains("columns [id, price] filter (price > 3)"),
        "{explained}"
    );
    for scheduler in ["sync", "threads"] {
        let table = compute_with(&dear, &options(scheduler)).unwrap();
        let ids = table
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(ids.values(), &[2, 3]);
    }
    let total = compute_with(&df.sum("price").unwrap(), &options("threads")).unwrap();
    assert_eq!(total, Scalar::Float64(16.5));
}

#[test]
fn a_csv_row_with_the_wrong_number_of_fields_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bad.csv", "a,b\n1,2\n3\n");
    // Found while inferring the types (the first rows), or while reading.
    let err = DataFrame::read_csv(dir.path().join("bad.csv").to_str().unwrap())
        .and_then(|df| compute_with(&df, &options("sync")).map(drop))
        .unwrap_err();
    let text = err.to_string();
    assert_eq!(err.kind(), ErrorKind::Io, "{text}");
    assert!(text.contains("bad.csv"), "{text}");
    assert!(text.contains("line"), "{text}");
}

#[test]
fn a_csv_value_that_does_not_parse_names_the_column_value_and_file() {
    let dir = tempfile::tempdir().unwrap();
    // The first rows make `n` an integer column; a later file breaks it.
    write(dir.path(), "1.csv", "n,s\n1,x\n2,y\n");
    write(dir.path(), "2.csv", "n,s\n3,z\nfour,w\n");
    let df = DataFrame::read_csv(dir.path().join("*.csv").to_str().unwrap()).unwrap();
    let err = compute_with(&df, &options("sync")).unwrap_err().to_string();
    assert!(err.contains("2.csv"), "{err}");
    assert!(err.contains("four"), "{err}");
    assert!(err.contains("\"n\""), "{err}");
}

#[test]
fn a_pattern_that_matches_nothing_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let pattern = dir.path().join("*.csv");
    let err = DataFrame::read_csv(pattern.to_str().unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().contains("no file matches"), "{err}");
    assert!(DataFrame::read_parquet(pattern.to_str().unwrap()).is_err());
}

#[test]
fn parquet_round_trips_with_projection_and_the_filter_in_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<Row> = (0..100)
        .map(|i| Row {
            a: (i % 7 != 0).then_some(i),
            b: Some(i as f64 / 4.0),
            s: format!("s{}", i % 5),
        })
        .collect();
    let df = partitioned(&rows, &[30, 30, 70]);
    let written = compute_with(&df.to_parquet(dir.path()).unwrap(), &options("threads")).unwrap();
    assert_eq!(written.len(), 4);
    assert!(written.iter().all(|p| p.exists()));

    let back = DataFrame::read_parquet(dir.path().join("*.parquet").to_str().unwrap()).unwrap();
    assert_eq!(
        back.npartitions(),
        3,
        "one per row group; the empty partition wrote none"
    );
    let whole = compute_with(&back, &options("sync")).unwrap();
    assert_eq!(whole.num_rows(), 100);

    let some = back
        .filter(col("a").gt_eq(lit(50)) & col("s").eq(lit("s0")))
        .unwrap()
        .select(["b"])
        .unwrap();
    let explained = some.explain();
    assert!(explained.contains("columns [b] filter"), "{explained}");
    let table = compute_with(&some, &options("threads")).unwrap();
    let want: Vec<Option<f64>> = rows
        .iter()
        .filter(|r| r.a.is_some_and(|a| a >= 50) && r.s == "s0")
        .map(|r| r.b)
        .collect();
    assert_eq!(floats(&table, "b"), want);
    let mean = compute_with(&back.mean("a").unwrap(), &options("sync")).unwrap();
    let values: Vec<i64> = rows.iter().filter_map(|r| r.a).collect();
    assert!(close(
        mean.as_f64().unwrap(),
        values.iter().sum::<i64>() as f64 / values.len() as f64
    ));
}

#[test]
fn batches_with_different_columns_are_refused() {
    let one = batch(&[]);
    let other = RecordBatch::try_from_iter([(
        "z",
        Arc::new(Int64Array::from(vec![1i64])) as Arc<dyn Array>,
    )])
    .unwrap();
    let err = DataFrame::from_record_batches([one, other]).unwrap_err();
    assert!(err.to_string().contains("batch 1"), "{err}");
    assert!(DataFrame::from_record_batches(Vec::<RecordBatch>::new()).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// groupby(s).agg(...) equals grouping the whole table in plain Rust,
    /// however it is partitioned (skewed and empty groups included).
    #[test]
    fn groupby_equals_the_whole_table_reference(
        rows in rows(),
        cuts in proptest::collection::vec(0usize..60, 0..12),
        threads in any::<bool>(),
    ) {
        use barrow_dataframe::Agg;
        use std::collections::BTreeMap;
        let options = options(if threads { "threads" } else { "sync" });
        let df = partitioned(&rows, &cuts);
        let grouped = df
            .groupby(["s"])
            .unwrap()
            .agg([("b", Agg::Sum), ("b", Agg::Mean), ("b", Agg::Count), ("a", Agg::Min), ("a", Agg::Max), ("b", Agg::Max)])
            .unwrap();
        let table = compute_with(&grouped, &options).unwrap();
        let mut groups: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
        for r in &rows {
            groups.entry(r.s.as_str()).or_default().push(r);
        }
        prop_assert_eq!(table.num_rows(), groups.len());
        let keys = table.column_by_name("s").unwrap();
        let keys = keys.as_any().downcast_ref::<StringArray>().unwrap();
        let (sums, means) = (floats(&table, "b_sum"), floats(&table, "b_mean"));
        let (counts, mins, maxs) = (ints(&table, "b_count"), ints(&table, "a_min"), ints(&table, "a_max"));
        for (i, (key, members)) in groups.iter().enumerate() {
            prop_assert_eq!(keys.value(i), *key);
            let bs: Vec<f64> = members.iter().filter_map(|r| r.b).collect();
            let as_: Vec<i64> = members.iter().filter_map(|r| r.a).collect();
            prop_assert!(close(sums[i].unwrap(), bs.iter().sum()));
            prop_assert_eq!(counts[i], Some(bs.len() as i64));
            match bs.len() {
                0 => prop_assert_eq!(means[i], None),
                n => prop_assert!(close(means[i].unwrap(), bs.iter().sum::<f64>() / n as f64)),
            }
            prop_assert_eq!(mins[i], as_.iter().copied().min());
            prop_assert_eq!(maxs[i], as_.iter().copied().max());
            prop_assert_eq!(floats(&table, "b_max")[i], bs.iter().copied().reduce(f64::max));
        }

        // Two keys, one of them with nulls: those rows are left out.
        let two = df.groupby(["s", "a"]).unwrap().agg([("b", Agg::Count)]).unwrap();
        let table = compute_with(&two, &options).unwrap();
        let mut pairs: BTreeMap<(&str, i64), i64> = BTreeMap::new();
        for r in &rows {
            if let Some(a) = r.a {
                *pairs.entry((r.s.as_str(), a)).or_default() += i64::from(r.b.is_some());
            }
        }
        prop_assert_eq!(table.num_rows(), pairs.len());
        let got_a = ints(&table, "a");
        let counts = ints(&table, "b_count");
        for (i, ((_, a), n)) in pairs.iter().enumerate() {
            prop_assert_eq!(got_a[i], Some(*a));
            prop_assert_eq!(counts[i], Some(*n));
        }
    }
}

#[test]
fn groupby_refuses_missing_columns_and_sums_of_strings() {
    use barrow_dataframe::Agg;
    let df = partitioned(&[], &[]);
    let err = df.groupby(["shop"]).unwrap_err().to_string();
    assert!(err.contains("no column \"shop\""), "{err}");
    let by_s = df.groupby(["s"]).unwrap();
    let err = by_s.agg([("s", Agg::Sum)]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType);
    assert!(by_s.agg([("s", Agg::Count)]).is_ok());
    assert!(by_s.agg(Vec::<(&str, Agg)>::new()).is_err());
}

#[test]
fn rename_dropna_fillna_and_astype() {
    let rows = three_rows();
    let df = partitioned(&rows, &[2]);
    let options = options("threads");

    // A filter on a renamed column stays after the rename, and is right.
    let renamed = df.rename([("a", "alpha")]).unwrap();
    assert_eq!(renamed.columns(), ["alpha", "b", "s"]);
    let big = renamed.filter(col("alpha").gt(lit(1))).unwrap();
    let explained = big.explain();
    assert!(
        explained.contains("  rename [a -> alpha]\n    filter (alpha > 1)"),
        "{explained}"
    );
    assert_eq!(
        ints(&compute_with(&big, &options).unwrap(), "alpha"),
        [Some(3)]
    );
    let err = df.rename([("a", "b")]).unwrap_err().to_string();
    assert!(err.contains("two columns named \"b\""), "{err}");

    assert_eq!(
        compute_with(&df.dropna(["a"]).unwrap(), &options)
            .unwrap()
            .num_rows(),
        2
    );
    assert_eq!(
        compute_with(&df.dropna(Vec::<&str>::new()).unwrap(), &options)
            .unwrap()
            .num_rows(),
        1
    );

    let filled = df.fillna("b", 0).unwrap();
    assert_eq!(
        floats(&compute_with(&filled, &options).unwrap(), "b"),
        [Some(0.0), Some(2.5), Some(-1.0)]
    );
    let err = df.fillna("a", "text").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType, "{err}");

    let as_float = df.astype("a", DataType::Float64).unwrap();
    assert_eq!(as_float.schema().field(0).data_type(), &DataType::Float64);
    assert_eq!(
        floats(&compute_with(&as_float, &options).unwrap(), "a"),
        [Some(1.0), None, Some(3.0)]
    );
}

#[test]
fn to_csv_writes_a_file_per_partition_that_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<Row> = (0..20)
        .map(|i| Row {
            a: (i % 3 != 0).then_some(i),
            b: Some(i as f64 * 0.5),
            s: format!("w{i}"),
        })
        .collect();
    let df = partitioned(&rows, &[7, 15]);
    let written = compute_with(
        &df.to_csv(dir.path().join("csv")).unwrap(),
        &options("threads"),
    )
    .unwrap();
    assert_eq!(written.len(), 3);
    let back = DataFrame::read_csv(dir.path().join("csv/*.csv").to_str().unwrap()).unwrap();
    assert_eq!(back.npartitions(), 3);
    assert_eq!(back.columns(), ["a", "b", "s"]);
    let total = compute_with(&back.sum("a").unwrap(), &options("sync")).unwrap();
    assert_eq!(total, Scalar::Int64(rows.iter().filter_map(|r| r.a).sum()));
    assert_eq!(
        compute_with(&back.count("a").unwrap(), &options("sync")).unwrap(),
        Scalar::Int64(13)
    );
}

#[test]
fn reductions_after_a_filter_in_the_reader_skip_the_rejected_rows_on_every_source() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<Row> = (0..90)
        .map(|i| Row {
            a: (i % 11 != 0).then_some(i),
            b: Some(i as f64 / 2.0),
            s: format!("s{}", i % 4),
        })
        .collect();
    let batches = partitioned(&rows, &[20, 55]);
    compute_with(&batches.to_parquet(dir.path()).unwrap(), &options("sync")).unwrap();
    compute_with(&batches.to_csv(dir.path()).unwrap(), &options("sync")).unwrap();
    let parquet = DataFrame::read_parquet(dir.path().join("*.parquet").to_str().unwrap()).unwrap();
    let csv = DataFrame::read_csv(dir.path().join("*.csv").to_str().unwrap()).unwrap();
    let kept: Vec<&Row> = rows
        .iter()
        .filter(|r| r.a.is_some_and(|a| a > 30))
        .collect();
    let want_sum: f64 = kept.iter().filter_map(|r| r.b).sum();
    let want_count = kept.iter().filter(|r| r.b.is_some()).count() as i64;
    let distinct: std::collections::BTreeSet<&str> = kept.iter().map(|r| r.s.as_str()).collect();
    for (name, df) in [("batches", batches), ("parquet", parquet), ("csv", csv)] {
        let big = df.filter(col("a").gt(lit(30))).unwrap();
        for scheduler in ["sync", "threads"] {
            let opts = options(scheduler);
            let sum = compute_with(&big.sum("b").unwrap(), &opts).unwrap();
            assert!(close(sum.as_f64().unwrap(), want_sum), "{name}: {sum:?}");
            let count = compute_with(&big.count("b").unwrap(), &opts).unwrap();
            assert_eq!(count, Scalar::Int64(want_count), "{name}");
            let n = compute_with(&big.nunique("s").unwrap(), &opts).unwrap();
            assert_eq!(n, Scalar::Int64(distinct.len() as i64), "{name}");
            // The filtered frame itself, in the same graph as a reduction
            // of it.
            let sum = big.sum("b").unwrap();
            let (_, table) = compute_with((&sum, &big), &opts).unwrap();
            assert_eq!(table.num_rows(), kept.len(), "{name}");
        }
        // A filter whose verdicts have no nulls (b is never null).
        let upper = df.filter(col("b").gt(lit(20.0))).unwrap();
        let got = compute_with(&upper.sum("b").unwrap(), &options("threads")).unwrap();
        let want: f64 = rows.iter().filter_map(|r| r.b).filter(|b| *b > 20.0).sum();
        assert!(close(got.as_f64().unwrap(), want), "{name}: {got:?}");
        // A step that computes on the rows keeps dropping them first.
        let doubled = big.with_column("d", col("a") * lit(2)).unwrap();
        let d = compute_with(&doubled.sum("d").unwrap(), &options("sync")).unwrap();
        let want: i64 = kept.iter().filter_map(|r| r.a).map(|a| 2 * a).sum();
        assert_eq!(d, Scalar::Int64(want), "{name}");
    }
}
