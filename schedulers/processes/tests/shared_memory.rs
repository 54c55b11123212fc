//! Large values between the program and its workers: through shared memory
//! (reused from one computation to the next) or, when it is turned off,
//! through the sockets; intact either way, whatever their element type.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]
#![allow(
    clippy::ptr_arg,
    reason = "a task's argument is a reference to the stored type, a Vec"
)]

use std::sync::{Arc, OnceLock};

use barrow_core::arg::{key, lit};
use barrow_core::collection::GraphKeys;
use barrow_core::{Graph, Options, Task, Value, compute_with};
use barrow_processes::{ProcessPool, ProcessesScheduler};

barrow_processes::worker_entry!();

/// Twice every element: a new vector of the same size.
#[barrow_core::task]
fn doubled(x: &Vec<f64>) -> Vec<f64> {
    x.iter().map(|v| v * 2.0).collect()
}

/// The sum of the elements.
#[barrow_core::task]
fn total(x: &Vec<f64>) -> f64 {
    x.iter().sum()
}

/// The bytes reversed.
#[barrow_core::task]
fn reversed(x: &Vec<u8>) -> Vec<u8> {
    x.iter().rev().copied().collect()
}

/// Every element plus `by`.
#[barrow_core::task]
fn shifted(x: &Vec<i32>, by: &i32) -> Vec<i32> {
    x.iter().map(|v| v + by).collect()
}

/// Four mebibytes of f64: above the default threshold of one.
const N: usize = 1 << 19;

fn input() -> Vec<f64> {
    (0..N).map(|i| (i % 1000) as f64 * 0.25).collect()
}

fn on(pool: &Arc<ProcessPool>) -> Options {
    Options::new()
        .optimize_graph(false)
        .scheduler_object(Arc::new(ProcessesScheduler::with_pool(pool.clone())))
}

fn pool() -> Arc<ProcessPool> {
    static POOL: OnceLock<Arc<ProcessPool>> = OnceLock::new();
    POOL.get_or_init(|| Arc::new(ProcessPool::new(2).unwrap()))
        .clone()
}

/// Runs x -> doubled -> total and returns (doubled, total).
fn double_and_total(options: &Options) -> (Vec<f64>, f64) {
    let graph = Graph::from_tasks([
        ("x", Task::literal(input())),
        ("y", Task::call(&doubled::func(), [key("x")])),
        ("z", Task::call(&total::func(), [key("y")])),
    ])
    .unwrap();
    let out = compute_with(&GraphKeys::new(graph, ["y", "z"]), options).unwrap();
    (
        out[0].downcast_ref::<Vec<f64>>().unwrap().clone(),
        *out[1].downcast_ref::<f64>().unwrap(),
    )
}

fn expected() -> (Vec<f64>, f64) {
    let doubled: Vec<f64> = input().iter().map(|v| v * 2.0).collect();
    let total = doubled.iter().sum();
    (doubled, total)
}

#[test]
fn large_vectors_arrive_intact_and_their_shared_memory_is_reused() {
    let pool = pool();
    let (want, want_total) = expected();
    for _ in 0..5 {
        let (got, got_total) = double_and_total(&on(&pool));
        assert!(got == want, "the doubled vector differs");
        assert_eq!(got_total, want_total);
    }
    let stats = pool.shared_memory_stats();
    assert!(
        stats.iter().any(|(_, s)| s.bytes >= N * 8),
        "no worker was sent the vector through shared memory: {stats:?}"
    );
    // And back: five doubled vectors.
    assert!(
        pool.shared_memory_received() >= 5 * N as u64 * 8,
        "{} bytes of results came through shared memory",
        pool.shared_memory_received()
    );
    for (worker, stats) in stats {
        // Ten vectors sent (x, then y for the sum) in five computations,
        // through the one segment per worker: a worker gives it back before
        // it sends its last results, so it is free for the next batch.
        assert!(stats.created <= 1, "worker {worker}: {stats:?}");
        assert_eq!(stats.busy, 0, "worker {worker}: {stats:?}");
    }
}

#[test]
fn with_shared_memory_off_large_vectors_go_through_the_socket() {
    let config = barrow_core::config::snapshot()
        .unwrap()
        .with_options([("processes.shared-memory", false)])
        .unwrap();
    let pool = Arc::new(ProcessPool::with_config(1, &config).unwrap());
    let (got, got_total) = double_and_total(&on(&pool));
    let (want, want_total) = expected();
    assert!(got == want, "the doubled vector differs");
    assert_eq!(got_total, want_total);
    assert!(pool.shared_memory_stats().is_empty());
    assert_eq!(pool.shared_memory_received(), 0);
}

#[test]
fn a_low_threshold_sends_every_value_through_shared_memory() {
    let config = barrow_core::config::snapshot()
        .unwrap()
        .with_options([("processes.shared-memory-above", "1KiB")])
        .unwrap();
    let pool = Arc::new(ProcessPool::with_config(1, &config).unwrap());
    let bytes: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let ints: Vec<i32> = (0..3000).collect();
    let graph = Graph::from_tasks([
        ("bytes", Task::literal(bytes.clone())),
        ("ints", Task::literal(ints.clone())),
        ("r", Task::call(&reversed::func(), [key("bytes")])),
        ("s", Task::call(&shifted::func(), [key("ints"), lit(7i32)])),
        // A small vector stays in the socket.
        ("t", Task::call(&reversed::func(), [lit(vec![1u8, 2, 3])])),
    ])
    .unwrap();
    let collection = GraphKeys::new(graph, ["r", "s", "t"]);
    for _ in 0..3 {
        let out: Vec<Value> = compute_with(&collection, &on(&pool)).unwrap();
        let want: Vec<u8> = bytes.iter().rev().copied().collect();
        assert_eq!(out[0].downcast_ref::<Vec<u8>>().unwrap(), &want);
        let want: Vec<i32> = ints.iter().map(|v| v + 7).collect();
        assert_eq!(out[1].downcast_ref::<Vec<i32>>().unwrap(), &want);
        assert_eq!(out[2].downcast_ref::<Vec<u8>>().unwrap(), &[3, 2, 1]);
    }
    let stats = pool.shared_memory_stats();
    assert_eq!(stats.len(), 1);
    assert!(stats[0].1.created >= 1, "{stats:?}");
    // Both large results came back through shared memory, three times.
    assert!(pool.shared_memory_received() >= 3 * (5000 + 12000));
}

#[test]
fn a_bad_shared_memory_setting_is_refused_naming_it() {
    let config = barrow_core::config::snapshot()
        .unwrap()
        .with_options([("processes.shared-memory-above", "lots")]);
    let text = match config {
        Ok(config) => ProcessPool::with_config(1, &config)
            .unwrap_err()
            .to_string(),
        Err(error) => error.to_string(),
    };
    assert!(text.contains("processes.shared-memory-above"), "{text}");
}
