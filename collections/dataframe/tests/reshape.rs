//! The reductions beyond sums (`var`, `std`, `nunique` exact and
//! approximate, `value_counts`, `describe`, group-by `std`/`var`), and the
//! steps that move rows (`drop_duplicates`, `repartition`, the group-by
//! with `split_out`), against plain Rust on the whole table, over random
//! tables cut into random partitions, on `sync` and `threads`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::{Array, RecordBatch, StringArray};
use barrow_core::{ErrorKind, compute_with};
use barrow_dataframe::{Agg, DataFrame, Scalar};
use proptest::prelude::*;

mod common;

use common::{Row, batch, close, floats, ints, options, partitioned, rows};

fn strings(batch: &RecordBatch, name: &str) -> Vec<String> {
    let array = batch.column_by_name(name).unwrap();
    let array = array.as_any().downcast_ref::<StringArray>().unwrap();
    array.iter().map(|s| s.unwrap().to_owned()).collect()
}

/// The sample variance (`ddof=1`), as pandas.
fn variance(values: &[f64]) -> Option<f64> {
    let n = values.len();
    (n >= 2).then(|| {
        let mean = values.iter().sum::<f64>() / n as f64;
        values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64
    })
}

fn close_option(got: Option<f64>, want: Option<f64>) -> bool {
    match (got, want) {
        (None, None) => true,
        // Sums of squares lose a little where the values nearly agree.
        (Some(g), Some(w)) => (g - w).abs() <= 1e-6 * (1.0 + w.abs()),
        _ => false,
    }
}

fn scalar_f64(s: &Scalar) -> Option<f64> {
    match s {
        Scalar::Null => None,
        other => other.as_f64(),
    }
}

/// A row as text, to compare tables as sets of rows.
fn row_text(r: &Row) -> String {
    format!("{:?}|{:?}|{}", r.a, r.b.map(f64::to_bits), r.s)
}

fn table_rows(batch: &RecordBatch) -> Vec<Row> {
    let (a, b, s) = (ints(batch, "a"), floats(batch, "b"), strings(batch, "s"));
    (0..batch.num_rows())
        .map(|i| Row {
            a: a[i],
            b: b[i],
            s: s[i].clone(),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn spreads_and_distinct_counts_equal_the_whole_table_reference(
        rows in rows(),
        cuts in proptest::collection::vec(0usize..60, 0..6),
        threads in any::<bool>(),
    ) {
        let opts = options(if threads { "threads" } else { "sync" });
        let df = partitioned(&rows, &cuts);
        let bs: Vec<f64> = rows.iter().filter_map(|r| r.b).collect();
        let want = variance(&bs);
        let var = compute_with(&df.var("b").unwrap(), &opts).unwrap();
        prop_assert!(close_option(scalar_f64(&var), want), "{var:?} {want:?}");
        let std = compute_with(&df.std("b").unwrap(), &opts).unwrap();
        prop_assert!(close_option(scalar_f64(&std), want.map(f64::sqrt)));

        let distinct: BTreeSet<&str> = rows.iter().map(|r| r.s.as_str()).collect();
        let n = compute_with(&df.nunique("s").unwrap(), &opts).unwrap();
        prop_assert_eq!(n, Scalar::Int64(distinct.len() as i64));
        let distinct_a: BTreeSet<i64> = rows.iter().filter_map(|r| r.a).collect();
        let n = compute_with(&df.nunique("a").unwrap(), &opts).unwrap();
        prop_assert_eq!(n, Scalar::Int64(distinct_a.len() as i64));
        let approx = compute_with(&df.agg("a", Agg::NUniqueApprox).unwrap(), &opts).unwrap();
        let approx = approx.as_f64().unwrap();
        // Linear counting over 2^14 registers: exact but for the odd
        // collision of two values in one register (about 1 in 10 tables of
        // 60 values has one, 4 is next to impossible).
        prop_assert!((approx - distinct_a.len() as f64).abs() <= 3.0, "{approx} for {}", distinct_a.len());

        // value_counts: most frequent first, ties by value.
        let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
        for r in &rows {
            *counts.entry(r.s.as_str()).or_default() += 1;
        }
        let mut want: Vec<(&str, i64)> = counts.into_iter().collect();
        want.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(y.0)));
        let table = compute_with(&df.value_counts("s").unwrap(), &opts).unwrap();
        let got: Vec<(String, i64)> = strings(&table, "s")
            .into_iter()
            .zip(ints(&table, "count").into_iter().map(Option::unwrap))
            .collect();
        let want: Vec<(String, i64)> = want.into_iter().map(|(s, n)| (s.to_owned(), n)).collect();
        prop_assert_eq!(got, want);

        // describe: exact moments and extremes; quartiles that split the
        // values as a quartile does.
        let table = compute_with(&df.describe().unwrap(), &opts).unwrap();
        prop_assert_eq!(table.num_columns(), 3, "statistic, a, b");
        let stats = floats(&table, "b");
        prop_assert_eq!(stats[0], Some(bs.len() as f64));
        if bs.is_empty() {
            prop_assert!(stats[1..].iter().all(Option::is_none));
        } else {
            prop_assert!(close(stats[1].unwrap(), bs.iter().sum::<f64>() / bs.len() as f64));
            prop_assert!(close_option(stats[2], want_std(&bs)));
            prop_assert_eq!(stats[3], bs.iter().copied().reduce(f64::min));
            prop_assert_eq!(stats[7], bs.iter().copied().reduce(f64::max));
            for (q, got) in [0.25, 0.5, 0.75].into_iter().zip(&stats[4..7]) {
                let got = got.unwrap();
                let below = bs.iter().filter(|&&x| x < got).count() as f64;
                let upto = bs.iter().filter(|&&x| x <= got).count() as f64;
                prop_assert!(below <= q * bs.len() as f64 && q * bs.len() as f64 <= upto, "{q}: {got}");
            }
        }

        // Group-by variances.
        let grouped = df.groupby(["s"]).unwrap().agg([("b", Agg::Var), ("a", Agg::Std)]).unwrap();
        let table = compute_with(&grouped, &opts).unwrap();
        let mut groups: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
        for r in &rows {
            groups.entry(r.s.as_str()).or_default().push(r);
        }
        let (vars, stds) = (floats(&table, "b_var"), floats(&table, "a_std"));
        for (i, members) in groups.values().enumerate() {
            let b: Vec<f64> = members.iter().filter_map(|r| r.b).collect();
            let a: Vec<f64> = members.iter().filter_map(|r| r.a.map(|a| a as f64)).collect();
            prop_assert!(close_option(vars[i], variance(&b)), "{:?} {:?}", vars[i], variance(&b));
            prop_assert!(close_option(stds[i], variance(&a).map(f64::sqrt)));
        }
    }

    #[test]
    fn drop_duplicates_keeps_the_first_of_equal_rows(
        rows in rows(),
        cuts in proptest::collection::vec(0usize..60, 0..6),
        threads in any::<bool>(),
    ) {
        let opts = options(if threads { "threads" } else { "sync" });
        // Repeat some rows so that whole rows repeat too.
        let mut rows = rows;
        let again: Vec<Row> = rows.iter().step_by(3).cloned().collect();
        rows.extend(again);
        let df = partitioned(&rows, &cuts);

        let got = table_rows(&compute_with(&df.drop_duplicates(Vec::<String>::new()).unwrap(), &opts).unwrap());
        let mut got: Vec<String> = got.iter().map(row_text).collect();
        got.sort();
        let want: BTreeSet<String> = rows.iter().map(row_text).collect();
        prop_assert_eq!(got, want.into_iter().collect::<Vec<_>>());

        // On one column: the first row of each value survives.
        let got = table_rows(&compute_with(&df.drop_duplicates(["s"]).unwrap(), &opts).unwrap());
        let mut firsts: BTreeMap<&str, &Row> = BTreeMap::new();
        for r in &rows {
            firsts.entry(r.s.as_str()).or_insert(r);
        }
        let mut got: Vec<String> = got.iter().map(row_text).collect();
        got.sort();
        let mut want: Vec<String> = firsts.values().map(|r| row_text(r)).collect();
        want.sort();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn repartition_keeps_the_rows_in_order_and_split_out_groups_as_agg(
        rows in rows(),
        cuts in proptest::collection::vec(0usize..60, 0..6),
        n in 1usize..9,
        threads in any::<bool>(),
    ) {
        let opts = options(if threads { "threads" } else { "sync" });
        let df = partitioned(&rows, &cuts);
        let re = df.repartition(n).unwrap();
        prop_assert_eq!(re.npartitions(), n);
        let got: Vec<String> = table_rows(&compute_with(&re, &opts).unwrap()).iter().map(row_text).collect();
        let want: Vec<String> = rows.iter().map(row_text).collect();
        prop_assert_eq!(got, want);

        let by = df.groupby(["s"]).unwrap();
        let aggs = [("b", Agg::Sum), ("a", Agg::Count)];
        let spread = by.agg_split_out(aggs, n).unwrap();
        prop_assert_eq!(spread.npartitions(), n);
        let mut seen = BTreeSet::new();
        for i in 0..n {
            let part = compute_with(&spread.get_partition(i).unwrap(), &opts).unwrap();
            for s in strings(&part, "s") {
                prop_assert!(seen.insert(s.clone()), "group {s} in two partitions");
            }
        }
        let whole = compute_with(&by.agg(aggs).unwrap(), &opts).unwrap();
        let spread = compute_with(&spread, &opts).unwrap();
        let key = |t: &RecordBatch| {
            let (s, sums, counts) = (strings(t, "s"), floats(t, "b_sum"), ints(t, "a_count"));
            let mut rows: Vec<(String, u64, Option<i64>)> = (0..t.num_rows())
                .map(|i| (s[i].clone(), sums[i].unwrap().to_bits(), counts[i]))
                .collect();
            rows.sort();
            rows
        };
        // Sums over the same values in another order may differ in the
        // last bit: compare keys and counts exactly, sums closely.
        let (a, b) = (key(&whole), key(&spread));
        prop_assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            prop_assert_eq!(&x.0, &y.0);
            prop_assert_eq!(x.2, y.2);
            prop_assert!(close(f64::from_bits(x.1), f64::from_bits(y.1)));
        }
    }
}

fn want_std(values: &[f64]) -> Option<f64> {
    variance(values).map(f64::sqrt)
}

#[test]
fn steps_that_cannot_be_say_why() {
    let df = partitioned(&[], &[]);
    let err = df.repartition(0).unwrap_err();
    assert!(err.to_string().contains("0 partitions"), "{err}");
    let err = df.drop_duplicates(["ss"]).unwrap_err();
    assert!(err.to_string().contains("did you mean \"s\""), "{err}");
    let err = df.std("s").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType);
    let by = df.groupby(["s"]).unwrap();
    let err = by.agg([("a", Agg::NUnique)]).unwrap_err();
    assert!(err.to_string().contains("drop_duplicates"), "{err}");
    assert!(by.agg_split_out([("a", Agg::Sum)], 0).is_err());
    let text = DataFrame::from_record_batches([batch(&[])])
        .unwrap()
        .select(["s"])
        .unwrap();
    let err = text.describe().unwrap_err();
    assert!(err.to_string().contains("no numeric column"), "{err}");
}

#[test]
fn persist_keeps_the_computed_partitions_and_from_delayed_takes_lazy_batches() {
    use barrow_core::persist_with;
    use barrow_dataframe::{col, lit};
    use barrow_delayed::Delayed;

    let opts = options("threads");
    let rows: Vec<Row> = (0..50)
        .map(|i| Row {
            a: Some(i),
            b: Some(i as f64),
            s: format!("s{}", i % 4),
        })
        .collect();
    let df = partitioned(&rows, &[10, 30])
        .filter(col("a").gt(lit(5)))
        .unwrap();
    let kept = persist_with(&df, &opts).unwrap();
    assert_eq!(kept.npartitions(), 3);
    assert!(kept.explain().contains("persisted"), "{}", kept.explain());
    assert_eq!(
        compute_with(&kept, &opts).unwrap(),
        compute_with(&df, &opts).unwrap()
    );
    // Steps after it run on the stored batches.
    let sum = compute_with(&kept.sum("a").unwrap(), &opts).unwrap();
    assert_eq!(sum, Scalar::Int64((6..50).sum()));

    // Partitions of another frame, as lazy batches.
    let parts: Vec<Delayed<RecordBatch>> = (0..df.npartitions())
        .map(|i| df.get_partition(i).unwrap())
        .collect();
    let again = DataFrame::from_delayed(parts, df.schema()).unwrap();
    assert_eq!(again.npartitions(), 3);
    assert_eq!(
        compute_with(&again.sum("a").unwrap(), &opts).unwrap(),
        Scalar::Int64((6..50).sum())
    );
    // A partition without the declared columns fails, naming both.
    let odd = DataFrame::from_record_batches([batch(&rows[..2]).project(&[0]).unwrap()])
        .unwrap()
        .get_partition(0)
        .unwrap();
    let wrong = DataFrame::from_delayed([odd], df.schema()).unwrap();
    let err = compute_with(&wrong, &opts).unwrap_err().to_string();
    assert!(
        err.contains("from_delayed partition has the columns [a: Int64]"),
        "{err}"
    );
    assert!(DataFrame::from_delayed(Vec::new(), df.schema()).is_err());
}
