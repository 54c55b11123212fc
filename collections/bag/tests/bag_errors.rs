//! Bad input: clear errors, naming what was wrong and where.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use barrow_bag::{Bag, BagError};
use barrow_core::{ErrorKind, Options, compute_with};

fn options(scheduler: &str) -> Options {
    barrow_local::link();
    Options::new().scheduler(scheduler).num_workers(2)
}

#[test]
fn zero_partitions_are_refused_by_every_constructor() {
    let errors = [
        Bag::from_sequence(vec![1], 0).unwrap_err(),
        Bag::from_sequence_sized(vec![1], 0).unwrap_err(),
        Bag::<i32>::from_partitions(Vec::new()).unwrap_err(),
        Bag::<i32>::from_delayed(Vec::new()).unwrap_err(),
        Bag::range(10, 0).unwrap_err(),
        Bag::range(10, 2).unwrap().repartition(0).unwrap_err(),
        Bag::range(10, 2)
            .unwrap()
            .groupby_into(|x| *x, 0)
            .unwrap_err(),
    ];
    for error in errors {
        assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error}");
        assert!(error.to_string().contains("must be at least 1"), "{error}");
        assert!(matches!(
            error.source_as::<BagError>(),
            Some(BagError::ZeroPartitions { .. })
        ));
    }
}

#[test]
fn a_panic_on_one_element_names_its_partition() {
    for s in ["sync", "threads"] {
        // 10 elements in 5 partitions of 2: 7 is in partition 3.
        let bag = Bag::from_sequence(0..10, 5).unwrap().map(|x: i32| {
            assert_ne!(x, 7, "cannot handle seven");
            x
        });
        let error = compute_with(bag.count(), &options(s)).unwrap_err();
        assert!(error.is_panic(), "{error}");
        assert_eq!(error.key().unwrap().index(), [3], "{error}");
        assert!(error.to_string().contains("cannot handle seven"), "{error}");
        assert!(error.to_string().contains("map-count"), "{error}");
    }
}

#[test]
fn an_error_on_one_element_names_its_partition_and_keeps_its_source() {
    let bag = Bag::from_sequence(["1", "2", "3", "four"], 2)
        .unwrap()
        .try_map(|s| s.parse::<u8>());
    let error = compute_with(bag.sum(), &options("threads")).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TaskFailed);
    assert!(
        error
            .to_string()
            .contains("try_map failed on an element of partition 1"),
        "{error}"
    );
    assert_eq!(error.key().unwrap().index(), [1]);
    assert!(error.source_as::<std::num::ParseIntError>().is_some());
}

#[test]
fn zipping_unlike_bags_is_refused() {
    let a = Bag::range(10, 2).unwrap();
    let error = a.zip(&Bag::range(10, 3).unwrap()).unwrap_err();
    assert!(
        error.to_string().contains("2 partitions with a bag of 3"),
        "{error}"
    );

    // Same partition count, different lengths: found when computing.
    let b = Bag::from_partitions(vec![vec![1u64, 2, 3], vec![4]]).unwrap();
    let zipped = a.zip(&b).unwrap();
    let error = compute_with(&zipped, &options("sync")).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("partition 0 of the zipped bags has 5 elements on the left and 3"),
        "{error}"
    );
}

#[test]
fn taking_more_than_the_bag_holds_gives_what_there_is() {
    let bag = Bag::range(5, 3).unwrap();
    assert_eq!(
        bag.take_with(100, &options("sync")).unwrap(),
        [0, 1, 2, 3, 4]
    );
    assert_eq!(
        bag.take_with(0, &options("sync")).unwrap(),
        Vec::<u64>::new()
    );
}

#[test]
fn statistics_of_too_few_elements_are_errors() {
    let empty = Bag::from_sequence(Vec::<f64>::new(), 1).unwrap();
    let o = options("sync");
    assert!(
        compute_with(empty.mean(), &o)
            .unwrap_err()
            .to_string()
            .contains("empty bag")
    );
    assert_eq!(compute_with(empty.max(), &o).unwrap(), None);
    assert_eq!(compute_with(empty.count(), &o).unwrap(), 0);
    let one = Bag::from_sequence(vec![1.0f64], 1).unwrap();
    let error = compute_with(one.var(1), &o).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("ddof = 1 needs more than 1 elements"),
        "{error}"
    );
    assert_eq!(compute_with(one.var(0), &o).unwrap(), 0.0);
}

#[test]
fn a_stream_reports_a_failing_partition_once_then_ends() {
    let bag = Bag::range(100, 10).unwrap().map(|x| {
        assert!(x != 55, "bad element");
        x
    });
    let items: Vec<_> = bag.stream(&options("sync")).unwrap().collect();
    let errors: Vec<_> = items.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].to_string().contains("bad element"),
        "{}",
        errors[0]
    );
    assert!(items.last().unwrap().is_err(), "the error comes last");
    // What came before the failing partition, in order.
    let good: Vec<u64> = items
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    assert_eq!(good, (0..good.len() as u64).collect::<Vec<_>>());
}

#[test]
fn a_dropped_stream_stops_its_computation() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let bag = Bag::range(1000, 1000).unwrap().map(move |x| {
        counter.fetch_add(1, Ordering::SeqCst);
        x
    });
    let mut stream = bag.stream(&options("sync")).unwrap();
    assert_eq!(stream.next().unwrap().unwrap(), 0);
    drop(stream);
    // The computation ends at its next send; wait for it, with a bound.
    let mut last = seen.load(Ordering::SeqCst);
    for _ in 0..200 {
        std::thread::sleep(std::time::Duration::from_millis(5));
        let now = seen.load(Ordering::SeqCst);
        if now == last {
            break;
        }
        last = now;
    }
    assert!(
        last < 1000,
        "all {last} partitions ran after the reader left"
    );
}

#[test]
fn a_shuffle_of_too_many_pieces_is_refused_before_it_is_built() {
    let _limit = barrow_core::config::scoped([("local.memory-limit", "1GiB")]).unwrap();
    let bag = Bag::range(1000, 100).unwrap();
    // 100 inputs into 1,000,000 outputs: 10^8 pieces.
    let err = match bag.groupby_into(|x| *x, 1_000_000) {
        Ok(_) => panic!("the shuffle should be refused"),
        Err(err) => err,
    };
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    let text = err.to_string();
    assert!(text.contains("100000000 tasks"), "{text}");
    assert!(text.contains("1.0 GiB (local.memory-limit"), "{text}");
    assert!(bag.groupby_into(|x| *x, 10).is_ok());
}
