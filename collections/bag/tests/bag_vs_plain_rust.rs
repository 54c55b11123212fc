//! Every bag operation on sync and threads, on random data, random
//! partitionings and random tree widths, against the same computation in
//! plain Rust.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::HashMap;

use barrow_bag::Bag;
use barrow_core::{Options, compute_with};
use barrow_delayed::Delayed;
use proptest::prelude::*;

const SCHEDULERS: [&str; 2] = ["sync", "threads"];

fn options(scheduler: &str) -> Options {
    barrow_local::link();
    Options::new().scheduler(scheduler).num_workers(2)
}

/// A bag of `data` in `parts` partitions combining `every` results per task.
fn bag(data: &[i64], parts: usize, every: usize) -> Bag<i64> {
    Bag::from_sequence(data.to_vec(), parts)
        .unwrap()
        .split_every(every)
}

fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: 24,
        ..ProptestConfig::default()
    }
}

fn data() -> impl Strategy<Value = (Vec<i64>, usize, usize)> {
    (
        prop::collection::vec(-50i64..50, 0..120),
        1usize..9,
        2usize..5,
    )
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn element_wise_chains_match_iterators((data, parts, every) in data()) {
        let expected: Vec<i64> = data
            .iter()
            .map(|x| x * 3)
            .filter(|x| x % 2 == 0)
            .flat_map(|x| [x, -x])
            .filter(|x| *x >= -60)
            .collect();
        for s in SCHEDULERS {
            let b = bag(&data, parts, every)
                .map(|x| x * 3)
                .filter(|x| x % 2 == 0)
                .flat_map(|x| [x, -x])
                .remove(|x| *x < -60);
            prop_assert_eq!(&compute_with(&b, &options(s))?, &expected, "{}", s);
        }
    }

    #[test]
    fn scalar_reductions_match_iterators((data, parts, every) in data()) {
        let n = data.len() as f64;
        for s in SCHEDULERS {
            let b = bag(&data, parts, every);
            let o = options(s);
            let (count, sum, min, max) = compute_with((b.count(), b.sum(), b.min(), b.max()), &o)?;
            prop_assert_eq!(count, data.len() as u64);
            prop_assert_eq!(sum, data.iter().sum::<i64>());
            prop_assert_eq!(min, data.iter().copied().min());
            prop_assert_eq!(max, data.iter().copied().max());
            let folded = compute_with(b.fold(0i64, |a, x| a + x * x, |a, c| a + c), &o)?;
            prop_assert_eq!(folded, data.iter().map(|x| x * x).sum::<i64>());
            let longest = compute_with(
                b.reduction(|p| p.len(), |lens| lens.into_iter().max().unwrap_or(0)),
                &o,
            )?;
            let sizes = b.to_delayed();
            let sizes: Vec<usize> = compute_with(sizes, &o)?.iter().map(Vec::len).collect();
            prop_assert_eq!(longest, sizes.iter().copied().max().unwrap_or(0));
            let (any, all) = compute_with((b.map(|x| x > 40).any(), b.map(|x| x > -40).all()), &o)?;
            prop_assert_eq!(any, data.iter().any(|&x| x > 40));
            prop_assert_eq!(all, data.iter().all(|&x| x > -40));
            if data.len() >= 2 {
                let mean = data.iter().sum::<i64>() as f64 / n;
                let var = data.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
                let (m, v, sd) = compute_with((b.mean(), b.var(1), b.std(1)), &o)?;
                prop_assert!((m - mean).abs() < 1e-9);
                prop_assert!((v - var).abs() < 1e-6 * var.max(1.0));
                prop_assert!((sd - var.sqrt()).abs() < 1e-6 * var.max(1.0));
            } else {
                prop_assert!(compute_with(b.var(1), &o).is_err());
            }
        }
    }

    #[test]
    fn counting_and_ranking_match_plain_rust((data, parts, every) in data(), k in 0usize..12) {
        let mut counts: HashMap<i64, u64> = HashMap::new();
        for &x in &data {
            *counts.entry(x).or_default() += 1;
        }
        let mut expected_counts: Vec<(i64, u64)> = counts.into_iter().collect();
        expected_counts.sort();
        let mut sorted = data.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        let mut seen = std::collections::HashSet::new();
        let first_seen: Vec<i64> = data.iter().copied().filter(|x| seen.insert(*x)).collect();
        // Of equal keys, the earlier element first: a stable sort.
        let mut by_key: Vec<i64> = data.clone();
        by_key.sort_by_key(|x| std::cmp::Reverse(x.abs()));
        for s in SCHEDULERS {
            let b = bag(&data, parts, every);
            let o = options(s);
            let mut counted = compute_with(&b.frequencies(), &o)?;
            counted.sort();
            prop_assert_eq!(&counted, &expected_counts);
            prop_assert_eq!(compute_with(&b.topk(k), &o)?, sorted.iter().copied().take(k).collect::<Vec<_>>());
            prop_assert_eq!(compute_with(&b.topk_by(k, |x| x.abs()), &o)?, by_key.iter().copied().take(k).collect::<Vec<_>>());
            prop_assert_eq!(&compute_with(&b.distinct(), &o)?, &first_seen);
        }
    }

    #[test]
    fn grouping_matches_hash_maps((data, parts, every) in data(), groups in 1i64..7, out in 1usize..6) {
        let mut sums: HashMap<i64, i64> = HashMap::new();
        let mut members: HashMap<i64, Vec<i64>> = HashMap::new();
        for &x in &data {
            *sums.entry(x.rem_euclid(groups)).or_default() += x;
            members.entry(x.rem_euclid(groups)).or_default().push(x);
        }
        let mut expected_sums: Vec<(i64, i64)> = sums.into_iter().collect();
        expected_sums.sort();
        let mut expected_groups: Vec<(i64, Vec<i64>)> = members.into_iter().collect();
        expected_groups.sort();
        for s in SCHEDULERS {
            let b = bag(&data, parts, every);
            let o = options(s);
            let folded = b.foldby(move |x| x.rem_euclid(groups), 0i64, |a, x| a + x, |a, c| a + c);
            let mut folded = compute_with(&folded, &o)?;
            folded.sort();
            prop_assert_eq!(&folded, &expected_sums);
            let grouped = b.groupby_into(move |x| x.rem_euclid(groups), out)?;
            prop_assert_eq!(grouped.npartitions(), out);
            let mut grouped = compute_with(&grouped, &o)?;
            grouped.sort();
            prop_assert_eq!(&grouped, &expected_groups);
        }
    }

    #[test]
    fn reshaping_keeps_every_element_in_order((data, parts, every) in data(), n in 1usize..12, take in 0usize..150) {
        for s in SCHEDULERS {
            let b = bag(&data, parts, every);
            let o = options(s);
            let re = b.repartition(n)?;
            prop_assert_eq!(re.npartitions(), n);
            prop_assert_eq!(&compute_with(&re, &o)?, &data);
            prop_assert_eq!(b.take_with(take, &o)?, data.iter().copied().take(take).collect::<Vec<_>>());
            let streamed: Vec<i64> = b.map(|x| x + 1).stream(&o)?.collect::<Result<_, _>>()?;
            prop_assert_eq!(streamed, data.iter().map(|x| x + 1).collect::<Vec<_>>());
            let pairs = compute_with(&b.zip(&b.map(|x| x * 2))?, &o)?;
            prop_assert_eq!(pairs, data.iter().map(|&x| (x, 2 * x)).collect::<Vec<_>>());
            let chunks = compute_with(&b.map_partitions(|p| vec![p.len()]), &o)?;
            prop_assert_eq!(chunks.iter().sum::<usize>(), data.len());
            prop_assert_eq!(chunks.len(), b.npartitions());
        }
    }

    #[test]
    fn samples_are_reproducible_subsequences((data, parts, every) in data(), prob in 0.0f64..=1.0, seed in any::<u64>()) {
        let b = bag(&data, parts, every).map(|x| (x, 0u8));
        let mut results = Vec::new();
        for s in SCHEDULERS {
            results.push(compute_with(&b.random_sample(prob, seed)?, &options(s))?);
        }
        prop_assert_eq!(&results[0], &results[1]);
        // A subsequence of the data.
        let mut rest = data.iter();
        for (x, _) in &results[0] {
            prop_assert!(rest.any(|y| y == x));
        }
    }
}

#[test]
fn plucking_and_flattening_structs() {
    #[derive(Clone, Debug, PartialEq)]
    struct Order {
        id: u32,
        items: Vec<String>,
    }
    let orders = Bag::from_sequence(
        (0..20u32).map(|id| Order {
            id,
            items: (0..id % 3).map(|i| format!("item{i}")).collect(),
        }),
        4,
    )
    .unwrap();
    for s in SCHEDULERS {
        let o = options(s);
        let ids = compute_with(&orders.pluck(|o| &o.id), &o).unwrap();
        assert_eq!(ids, (0..20).collect::<Vec<_>>());
        let items = orders.map(|o| o.items).flatten();
        assert_eq!(compute_with(items.count(), &o).unwrap(), 19);
    }
}

#[test]
fn delayed_values_become_partitions_and_back() {
    let make = barrow_delayed::delayed("make", |n: &u32| (0..*n).collect::<Vec<u32>>());
    let parts: Vec<Delayed<Vec<u32>>> = (1..=4).map(|n| make.call(n)).collect();
    let bag = Bag::from_delayed(parts).unwrap();
    for s in SCHEDULERS {
        let o = options(s);
        assert_eq!(compute_with(bag.sum(), &o).unwrap(), 10);
        let back = compute_with(bag.map(|x| x * 10).to_delayed(), &o).unwrap();
        assert_eq!(back[3], [0, 10, 20, 30]);
    }
}

#[test]
fn shared_work_is_merged_when_results_are_computed_together() {
    let b = Bag::range(100, 4).unwrap();
    let o = options("sync");
    // The same reduction twice and two reductions of one bag, in one graph.
    let (a, c, n) = compute_with((b.count(), b.count(), b.sum()), &o).unwrap();
    assert_eq!((a, c, n), (100, 100, 4950));
    let persisted = barrow_core::persist_with(&b.map(|x| x + 1), &o).unwrap();
    assert_eq!(compute_with(persisted.sum(), &o).unwrap(), 5050);
}
