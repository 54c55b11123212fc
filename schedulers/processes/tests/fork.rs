//! The `fork` context, end to end. A test of its own with `harness = false`:
//! the hook must start the fork server first in `main`, before any thread
//! (libtest's harness runs tests on threads).
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::sync::Arc;

use barrow_core::arg::{key, lit};
use barrow_core::collection::GraphKeys;
use barrow_core::{ErrorKind, Graph, Key, Options, Task, compute_with};
use barrow_processes::{ProcessPool, ProcessesScheduler, worker_info};

/// The worker's pid, its parent's pid and its id in the pool.
#[barrow_core::task]
fn lineage(_x: &i64) -> Vec<u64> {
    let id = worker_info().map_or(0, |i| u64::from(i.id));
    println!("lineage task in worker {id}");
    vec![
        u64::from(std::process::id()),
        u64::from(std::os::unix::process::parent_id()),
        id,
    ]
}

/// Ends its own process with SIGKILL.
#[barrow_core::task]
fn kill_self(_x: &i64) -> i64 {
    let command = format!("kill -9 {}", std::process::id());
    let _ = std::process::Command::new("sh")
        .args(["-c", &command])
        .status();
    std::thread::sleep(std::time::Duration::from_secs(10));
    0
}

fn main() {
    barrow_core::config::Config::process()
        .set_global("processes.context", "fork")
        .unwrap();
    barrow_processes::worker_main_with(|_| Ok(())).unwrap();

    let pool = Arc::new(ProcessPool::new(2).unwrap());
    let options =
        Options::new().scheduler_object(Arc::new(ProcessesScheduler::with_pool(pool.clone())));
    let tasks: Vec<(Key, Task)> = (0..20u32)
        .map(|i| {
            (
                Key::from(("t", i)),
                Task::call(&lineage::func(), [lit(i64::from(i))]),
            )
        })
        .collect();
    let keys: Vec<Key> = tasks.iter().map(|(k, _)| k.clone()).collect();
    let graph = Graph::from_tasks(tasks).unwrap();
    let out = compute_with(GraphKeys::new(graph.clone(), keys.clone()), &options).unwrap();
    let me = u64::from(std::process::id());
    for value in &out {
        let row = value.downcast_ref::<Vec<u64>>().unwrap();
        assert_ne!(row[0], me, "a task ran in the program itself");
        assert_ne!(
            row[1], me,
            "workers are children of the fork server, not of the program"
        );
        assert_ne!(row[2], 0, "a forked worker knows its id");
    }

    // A worker killed by a signal is named, and replaced.
    let victim = Graph::from_tasks([
        ("x", Task::literal(1i64)),
        ("victim", Task::call(&kill_self::func(), [key("x")])),
    ])
    .unwrap();
    let err = compute_with(GraphKeys::new(victim, ["victim"]), &options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Worker);
    assert!(err.to_string().contains("signal 9"), "{err}");
    compute_with(GraphKeys::new(graph, keys), &options).unwrap();
    println!("fork context: tasks ran in forked workers; a killed one was named and replaced");
}
