//! A program without the worker hook, and workers that are not Barrow
//! programs: clear errors, no hang. (No `worker_entry!` in this file.)
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::sync::Arc;
use std::time::Duration;

use barrow_core::arg::lit;
use barrow_core::collection::GraphKeys;
use barrow_core::testing::functions::inc;
use barrow_core::{ErrorKind, Graph, Options, Task, compute_with};
use barrow_processes::{ProcessPool, ProcessesScheduler};

fn compute_on(pool: ProcessPool) -> barrow_core::Error {
    let graph = Graph::from_tasks([("y", Task::call(&inc(), [lit(1i64)]))]).unwrap();
    let scheduler = Arc::new(ProcessesScheduler::with_pool(Arc::new(pool)));
    let options = Options::new().scheduler_object(scheduler);
    compute_with(GraphKeys::new(graph, ["y"]), &options).unwrap_err()
}

#[test]
fn a_program_without_the_hook_is_told_the_line_to_add() {
    let err = compute_on(ProcessPool::new(1).unwrap());
    assert_eq!(err.kind(), ErrorKind::Worker);
    let text = err.to_string();
    assert!(text.contains("barrow::processes::worker_main();"), "{text}");
    assert!(text.contains("first line of `fn main()`"), "{text}");
    assert!(text.contains("worker_entry!"), "{text}");
}

#[test]
fn a_worker_that_is_not_a_barrow_program_is_named_with_its_exit() {
    let pool = ProcessPool::new(1)
        .unwrap()
        .with_program("/bin/sh", &["-c", "echo I am a shell; exit 4"]);
    let err = compute_on(pool);
    let text = err.to_string();
    assert!(text.contains("/bin/sh"), "{text}");
    assert!(
        text.contains("exited with code 4 before connecting"),
        "{text}"
    );
    assert!(text.contains("not a Barrow program"), "{text}");
}

#[test]
fn a_worker_that_never_connects_times_out() {
    let pool = ProcessPool::new(1)
        .unwrap()
        .with_program("/bin/sleep", &["30"])
        .with_start_timeout(Duration::from_millis(300));
    let err = compute_on(pool);
    let text = err.to_string();
    assert!(text.contains("did not connect within"), "{text}");
    assert!(text.contains("raise processes.start-timeout"), "{text}");
    assert!(
        !text.contains("worker_main"),
        "another program runs as the worker: adding the hook is no advice: {text}"
    );
}
