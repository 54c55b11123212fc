//! Arrays, bags, dataframes and delayed calls give the same results on a
//! cluster as on `sync`: property tests over small random inputs, on a cluster of two
//! in-process workers (the real processes are in `cluster_binaries.rs`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::sync::OnceLock;

use barrow::array::random::Generator;
use barrow::bag::Bag;
use barrow::dataframe::arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use barrow::dataframe::{Agg, DataFrame, How, col, lit};
use barrow::delayed::DelayedFn;
use barrow::distributed::{Client, LocalCluster};
use barrow::{Options, compute_with};
use proptest::prelude::*;

/// Adds one.
#[barrow::task(name = "tests.collections.inc")]
fn inc(x: &i64) -> i64 {
    x + 1
}

/// Adds two.
#[barrow::task(name = "tests.collections.add")]
fn add(a: &i64, b: &i64) -> i64 {
    a + b
}

/// Keeps the multiples of three.
#[barrow::task(name = "tests.collections.third")]
fn third(x: &i64) -> bool {
    x % 3 == 0
}

/// One cluster for the file (its keys are tokens of the inputs, so cases
/// that share a key share its value, as on any scheduler).
fn client() -> &'static Client {
    static CLUSTER: OnceLock<(LocalCluster, Client)> = OnceLock::new();
    let (_, client) = CLUSTER.get_or_init(|| {
        let cluster = LocalCluster::new()
            .workers(2)
            .threads_per_worker(1)
            .processes(false)
            .validate(true)
            .start()
            .expect("a cluster");
        let client = cluster.client().expect("a client");
        (cluster, client)
    });
    client
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 12,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arrays_agree(
        rows in 1usize..24,
        cols in 1usize..24,
        chunk_rows in 1usize..9,
        chunk_cols in 1usize..9,
        seed in 0u64..1000,
    ) {
        let cluster = Options::new().scheduler(client());
        let sync = Options::new().scheduler("sync");
        let x = Generator::new(seed).random(&[rows, cols], [chunk_rows, chunk_cols]).unwrap();
        let y = (&x * 2.0 + 1.0).sum_axis(0usize);
        for stat in [x.sum(), x.mean(), x.max(), (&x * &x).sum()] {
            let (a, b) = (compute_with(&stat, &cluster).unwrap(), compute_with(&stat, &sync).unwrap());
            prop_assert!(close(a, b), "{a} != {b}");
        }
        let (a, b) = (compute_with(&y, &cluster).unwrap(), compute_with(&y, &sync).unwrap());
        prop_assert_eq!(a.shape(), b.shape());
        for (u, v) in a.iter().zip(b.iter()) {
            prop_assert!(close(*u, *v));
        }
    }

    #[test]
    fn bags_agree(items in proptest::collection::vec(-50i64..50, 0..200), partitions in 1usize..8) {
        let cluster = Options::new().scheduler(client());
        let sync = Options::new().scheduler("sync");
        let bag = Bag::from_sequence(items.clone(), partitions).unwrap();
        let kept = bag.filter_func(&third::func()).map_func::<i64>(&inc::func());
        prop_assert_eq!(compute_with(&kept.sum(), &cluster).unwrap(), compute_with(&kept.sum(), &sync).unwrap());
        prop_assert_eq!(compute_with(&bag.count(), &cluster).unwrap(), items.len() as u64);
        // Ties in `most_common` follow the order of the frequency table,
        // which changes when partial tables travel between processes:
        // the counts agree, the elements of equal counts may not.
        let top = bag.frequencies().most_common(3);
        let counts = |t: Vec<(i64, u64)>| t.into_iter().map(|(_, n)| n).collect::<Vec<_>>();
        prop_assert_eq!(
            counts(compute_with(&top, &cluster).unwrap()),
            counts(compute_with(&top, &sync).unwrap())
        );
        let frequencies = bag.frequencies();
        let mut on_cluster = compute_with(&frequencies, &cluster).unwrap();
        let mut on_sync = compute_with(&frequencies, &sync).unwrap();
        on_cluster.sort_unstable();
        on_sync.sort_unstable();
        prop_assert_eq!(on_cluster, on_sync);
    }

    #[test]
    fn delayed_chains_agree(start in -100i64..100, steps in proptest::collection::vec(0u8..2, 1..20)) {
        let cluster = Options::new().scheduler(client());
        let sync = Options::new().scheduler("sync");
        let inc = DelayedFn::<(i64,), i64>::from_func(inc::func());
        let add = DelayedFn::<(i64, i64), i64>::from_func(add::func());
        let mut value = barrow::delayed::Delayed::value(start);
        let first = value.clone();
        for step in steps {
            value = match step {
                0 => inc.call(&value),
                _ => add.call(&value, &first),
            };
        }
        prop_assert_eq!(compute_with(&value, &cluster).unwrap(), compute_with(&value, &sync).unwrap());
    }

    #[test]
    fn dataframes_agree(
        rows in proptest::collection::vec((0i64..12, -100i64..100, 0usize..4), 0..120),
        cuts in proptest::collection::vec(0usize..120, 0..5),
    ) {
        let cluster = Options::new().scheduler(client());
        let sync = Options::new().scheduler("sync");
        let names = ["ant", "bee", "cat", "dog"];
        let mut bounds: Vec<usize> = cuts.into_iter().filter(|&c| c < rows.len()).collect();
        bounds.extend([0, rows.len()]);
        bounds.sort_unstable();
        let parts = bounds.windows(2).map(|w| {
            let part = &rows[w[0]..w[1]];
            RecordBatch::try_from_iter([
                ("k", std::sync::Arc::new(Int64Array::from_iter_values(part.iter().map(|r| r.0))) as _),
                ("v", std::sync::Arc::new(Float64Array::from_iter_values(part.iter().map(|r| r.1 as f64 / 4.0))) as _),
                ("s", std::sync::Arc::new(StringArray::from_iter_values(part.iter().map(|r| names[r.2]))) as _),
            ])
            .unwrap()
        });
        let df = DataFrame::from_record_batches(parts).unwrap();
        let side = DataFrame::from_record_batches([RecordBatch::try_from_iter([
            ("k", std::sync::Arc::new(Int64Array::from_iter_values(0..8)) as _),
            ("w", std::sync::Arc::new(Int64Array::from_iter_values((0..8).map(|k| k * 10))) as _),
        ])
        .unwrap()])
        .unwrap()
        .repartition(2)
        .unwrap();
        // Each family once: a filtered group-by, a shuffled merge, a sort.
        let grouped = df
            .filter(col("v").gt(lit(-10.0)))
            .unwrap()
            .groupby(["s"])
            .unwrap()
            .agg([("v", Agg::Sum), ("k", Agg::Count), ("v", Agg::Std)])
            .unwrap();
        prop_assert_eq!(compute_with(&grouped, &cluster).unwrap(), compute_with(&grouped, &sync).unwrap());
        let joined = df.merge(&side, ["k"], How::Inner).unwrap().sum("w").unwrap();
        prop_assert_eq!(compute_with(&joined, &cluster).unwrap(), compute_with(&joined, &sync).unwrap());
        let sorted = df.sort_values(["v", "k"], true).unwrap().select(["v", "k"]).unwrap();
        prop_assert_eq!(compute_with(&sorted, &cluster).unwrap(), compute_with(&sorted, &sync).unwrap());
        let distinct = df.nunique("s").unwrap();
        prop_assert_eq!(compute_with(&distinct, &cluster).unwrap(), compute_with(&distinct, &sync).unwrap());
    }
}
