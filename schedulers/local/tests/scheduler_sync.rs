//! The conformance suite on the synchronous scheduler, plus what only the
//! synchronous scheduler promises.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::sync::Arc;

use barrow_core::arg::key;
use barrow_core::testing::{RecordedEvent, Recorder, run_with};
use barrow_core::{Func, Graph, Key, Options, Task};
use barrow_local::SyncScheduler;

barrow_core::scheduler_conformance!(Arc::new(SyncScheduler));

/// Tasks run on the caller's thread, so a debugger and backtraces see them.
#[test]
fn tasks_run_on_the_callers_thread() {
    let caller = std::thread::current().id();
    let where_ = Func::new("where", move |_: &i64| {
        std::thread::current().id() == caller
    });
    let graph = Graph::from_tasks([
        ("x", Task::literal(1i64)),
        ("y", Task::call(&where_, [key("x")])),
    ])
    .unwrap();
    let out = run_with(&SyncScheduler, &graph, &[Key::new("y")], &Options::new()).unwrap();
    assert!(*out[0].downcast_ref::<bool>().unwrap());
}

/// With one worker, tasks run exactly in `order`'s priority.
#[test]
fn tasks_run_in_priority_order() {
    let inc = Func::new("inc", |x: &i64| x + 1);
    let add = Func::new("add", |a: &i64, b: &i64| a + b);
    let graph = Graph::from_tasks([
        ("a0", Task::literal(1i64)),
        ("a1", Task::literal(2i64)),
        ("sa", Task::call(&add, [key("a0"), key("a1")])),
        ("b0", Task::literal(3i64)),
        ("b1", Task::literal(4i64)),
        ("sb", Task::call(&add, [key("b0"), key("b1")])),
        ("total", Task::call(&add, [key("sa"), key("sb")])),
        ("out", Task::call(&inc, [key("total")])),
    ])
    .unwrap();
    let plan = graph.lower(&[Key::new("out")]).unwrap();
    let mut expected: Vec<u32> = (0..plan.len() as u32).collect();
    expected.sort_by_key(|&id| plan.priority(id));
    let expected: Vec<RecordedEvent> = expected
        .iter()
        .map(|&id| RecordedEvent::Pretask(plan.key(id).clone()))
        .collect();
    let recorder = Recorder::new();
    let options = Options::new().callback(recorder.clone());
    run_with(&SyncScheduler, &graph, &[Key::new("out")], &options).unwrap();
    let seen: Vec<RecordedEvent> = recorder
        .events()
        .into_iter()
        .filter(|e| matches!(e, RecordedEvent::Pretask(_)))
        .collect();
    assert_eq!(seen, expected);
}
