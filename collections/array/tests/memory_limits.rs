//! Work whose size is known before it starts and cannot fit is refused at
//! once, naming what it needs against what there is: computing an array
//! into memory, and graphs of tens of millions of tasks. Each case that
//! would abort the process without the check runs in a child process, so
//! that an abort is a failed test, not a dead test runner.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use barrow_array::{Array, AxisChunks, ChunkSpec};
use barrow_core::testing::child;
use barrow_core::{ErrorKind, Options, compute_with};

fn whole(ndim: usize) -> ChunkSpec {
    ChunkSpec::Axes(vec![AxisChunks::Full; ndim])
}

/// The error of an array that should not have been made (an array's
/// `Debug` lists its chunks, too long to print here).
fn refused<T>(made: barrow_core::Result<Array<T>>) -> barrow_core::Error {
    match made {
        Ok(_) => panic!("the array should have been refused"),
        Err(err) => err,
    }
}

#[test]
fn computing_an_array_larger_than_memory_is_refused_before_it_starts() {
    let name = "computing_an_array_larger_than_memory_is_refused_before_it_starts";
    let Some(output) = child::run(name, &[]) else {
        barrow_local::link();
        // 8 TiB of ones: one element of memory until it is materialized.
        let x = Array::<f64>::ones(&[1 << 20, 1 << 20], whole(2)).unwrap();
        let err = compute_with(&x, &Options::new().scheduler("sync")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLarge);
        let text = err.to_string();
        assert!(text.contains("[1048576, 1048576] of float64"), "{text}");
        assert!(text.contains("needs 8.0 TiB in memory"), "{text}");
        assert!(text.contains("available"), "{text}");
        // Reductions of it hold no more than a block: they run.
        assert_eq!(x.sum().compute().unwrap(), (1u64 << 40) as f64);
        return;
    };
    child::assert_passed(name, &output);
}

#[test]
fn local_memory_limit_sets_the_budget_and_names_its_origin() {
    barrow_local::link();
    let x = Array::<f64>::ones(&[512, 1024], whole(2)).unwrap(); // 4 MiB
    let options = Options::new()
        .scheduler("sync")
        .set("local.memory-limit", "1MiB");
    let err = compute_with(&x, &options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    let text = err.to_string();
    assert!(text.contains("needs 4.0 MiB"), "{text}");
    assert!(
        text.contains("1.0 MiB (local.memory-limit, from call option)"),
        "{text}"
    );
    // Two results computed together count together.
    let half = Array::<f64>::ones(&[256, 512], whole(2)).unwrap(); // 1 MiB
    let options = Options::new()
        .scheduler("sync")
        .set("local.memory-limit", "1536KiB");
    assert!(compute_with(&half, &options).is_ok());
    let err = compute_with((&half, &half), &options).unwrap_err();
    assert!(err.to_string().contains("needs 2.0 MiB"), "{err}");
    // Persisting keeps the blocks where they are: nothing is refused.
    assert!(barrow_core::persist_with(&x, &options).is_ok());
}

#[test]
fn tens_of_millions_of_tasks_are_refused_with_the_count_and_the_way_out() {
    let _limit = barrow_core::config::scoped([("local.memory-limit", "2GiB")]).unwrap();
    let err = refused(Array::<f64>::ones(&[30_000_000], 1usize));
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    let text = err.to_string();
    assert!(text.contains("30000000 tasks"), "{text}");
    assert!(text.contains("28.6 GiB"), "the estimate: {text}");
    assert!(text.contains("2.0 GiB (local.memory-limit"), "{text}");
    assert!(text.contains("use bigger chunks"), "{text}");
    // Fewer, bigger chunks pass.
    assert!(Array::<f64>::ones(&[30_000_000], 1_000_000usize).is_ok());
    // Operations that multiply the blocks are refused too.
    let x = Array::<f64>::ones(&[3000, 1], [1usize, 1]).unwrap();
    let y = Array::<f64>::ones(&[1, 3000], [1usize, 1]).unwrap();
    let err = (&x + &y).check().unwrap_err();
    assert!(err.to_string().contains("9000000 tasks"), "{err}");
}

#[test]
fn a_graph_past_any_memory_is_refused_without_a_limit_set() {
    let name = "a_graph_past_any_memory_is_refused_without_a_limit_set";
    let Some(output) = child::run(name, &[]) else {
        // 10^10 blocks of one element each.
        let err = refused(Array::<f64>::ones(&[100_000, 100_000], 1usize));
        assert_eq!(err.kind(), ErrorKind::TooLarge);
        assert!(err.to_string().contains("10000000000 tasks"), "{err}");
        return;
    };
    child::assert_passed(name, &output);
}
