//! A graph is checked before any optimization rewrites it, so its errors
//! name the keys as the user wrote them (Dask checks `dsk` before it
//! fuses).
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::sync::{Arc, Mutex};

use barrow_config::Sandbox;
use barrow_core::arg::key;
use barrow_core::collection::GraphKeys;
use barrow_core::reference::ReferenceScheduler;
use barrow_core::{
    ErrorKind, Func, Graph, Key, Options, Result, RunContext, Scheduler, Task, Value, compute_with,
};

fn inc() -> Func {
    Func::new("inc", |x: &i64| x + 1)
}

/// Default options, with a configuration that reads nothing of this
/// machine.
fn options(sandbox: &Sandbox) -> Options {
    Options::new()
        .scheduler_object(ReferenceScheduler::shared())
        .config(sandbox.config().snapshot().unwrap())
}

fn cycle_keys(err: &barrow_core::Error) -> Vec<String> {
    let mut keys: Vec<String> = err.cycle().iter().map(Key::to_string).collect();
    keys.sort();
    keys.dedup();
    keys
}

#[test]
fn a_two_key_cycle_is_reported_with_both_keys_when_fusion_is_on() {
    let sandbox = Sandbox::new().unwrap();
    // a needs b, b needs a: fusing first would make it `a -> a`.
    let graph = Graph::from_tasks([
        ("a", Task::call(&inc(), [key("b")])),
        ("b", Task::call(&inc(), [key("a")])),
    ])
    .unwrap();
    for optimize in [None, Some(true), Some(false)] {
        let mut options = options(&sandbox);
        if let Some(on) = optimize {
            options = options.optimize_graph(on);
        }
        let err = compute_with(GraphKeys::new(graph.clone(), ["a"]), &options).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cycle, "{err}");
        assert_eq!(cycle_keys(&err), ["a", "b"], "{err}");
        assert!(err.to_string().contains("b -> a -> b"), "{err}");
    }
}

#[test]
fn a_cycle_behind_a_chain_names_its_own_keys() {
    let sandbox = Sandbox::new().unwrap();
    // out -> x -> y -> z -> y: the chain out, x would fuse; the cycle is y, z.
    let graph = Graph::from_tasks([
        ("out", Task::call(&inc(), [key("x")])),
        ("x", Task::call(&inc(), [key("y")])),
        ("y", Task::call(&inc(), [key("z")])),
        ("z", Task::call(&inc(), [key("y")])),
    ])
    .unwrap();
    let err = compute_with(GraphKeys::new(graph, ["out"]), &options(&sandbox)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cycle);
    assert_eq!(cycle_keys(&err), ["y", "z"], "{err}");
}

#[test]
fn a_missing_dependency_names_the_task_that_reads_it_before_fusing() {
    let sandbox = Sandbox::new().unwrap();
    // y would be fused into z; the error still names y.
    let graph = Graph::from_tasks([
        ("y", Task::call(&inc(), [key("nowhere")])),
        ("z", Task::call(&inc(), [key("y")])),
    ])
    .unwrap();
    let err = compute_with(GraphKeys::new(graph, ["z"]), &options(&sandbox)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MissingDependency);
    assert_eq!(err.key(), Some(&Key::new("y")));
    assert!(err.to_string().contains("nowhere"), "{err}");
}

/// Runs graphs with the reference scheduler, recording how many tasks
/// each graph it was given has.
#[derive(Default)]
struct Counting(Mutex<Vec<usize>>);

impl Scheduler for Counting {
    fn get(&self, graph: &Graph, keys: &[Key], ctx: &mut RunContext<'_>) -> Result<Vec<Value>> {
        self.0.lock().unwrap().push(graph.len());
        ReferenceScheduler.get(graph, keys, ctx)
    }
}

#[test]
fn compute_fuses_as_the_configuration_of_the_call_says() {
    let sandbox = Sandbox::new().unwrap();
    // b1 and b2 both read a and feed c: ave-width 2 fuses them into c.
    let f = Func::new("f", |a: &i64, b: &i64| a + b);
    let graph = Graph::from_tasks([
        ("a", Task::literal(1i64)),
        ("b1", Task::call(&inc(), [key("a")])),
        ("b2", Task::call(&inc(), [key("a")])),
        ("c", Task::call(&f, [key("b1"), key("b2")])),
    ])
    .unwrap();
    let counting = Arc::new(Counting::default());
    let run = |settings: &[(&str, barrow_config::Value)]| {
        let mut options = options(&sandbox).scheduler_object(counting.clone());
        for (key, value) in settings {
            options = options.set(*key, value.clone());
        }
        let c = compute_with(GraphKeys::new(graph.clone(), ["c"]), &options).unwrap();
        assert_eq!(*c[0].downcast_ref::<i64>().unwrap(), 4);
        counting.0.lock().unwrap().pop().unwrap()
    };
    assert_eq!(run(&[]), 4);
    assert_eq!(run(&[("optimization.fuse.ave-width", 2.0.into())]), 2);
    // Renamed: the fused task, its alias c, and a.
    let renamed = [
        ("optimization.fuse.ave-width", 2.0.into()),
        ("optimization.fuse.rename-keys", true.into()),
    ];
    assert_eq!(run(&renamed), 3);
    // Off: every task as written.
    let off = [
        ("optimization.fuse.ave-width", 2.0.into()),
        ("optimization.fuse.active", false.into()),
    ];
    assert_eq!(run(&off), 4);
}
