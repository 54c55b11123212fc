//! Dask's `dask/tests/test_local.py` (the synchronous scheduler's tests,
//! at Dask's commit 817e5ff), ported one test per Dask test and run on
//! every local scheduler: `sync`, `threads` and `processes`. The graphs
//! call the functions of `barrow::testing::functions`, which are
//! registered by name, so the same graph runs in worker processes too.
//!
//! Ported (each under its Dask name): `test_get_sync_num_workers`,
//! `test_callback`, `test_exceptions_propagate`, `test_ordering`,
//! `test_complex_ordering`, `test_ensure_calculate_only_whats_needed`,
//! `test_detect_malformed_graph`, and the `get` tests Dask's file runs
//! through `GetFunctionTestMixin` (`test_get`, `test_badkey`,
//! `test_nested_badkey`, `test_data_not_in_dict_is_ok`,
//! `test_get_with_list`, `test_nested_tasks`,
//! `test_get_stack_limit`).
//!
//! Left out, and why:
//! - `test_start_state`, `test_start_state_looks_at_cache`,
//!   `test_start_state_with_redirects`,
//!   `test_start_state_with_independent_but_runnable_tasks`,
//!   `test_start_state_with_tasks_no_deps`, `test_finish_task`: they test
//!   the dictionaries inside Dask's `local.py` (`start_state_from_dask`,
//!   `finish_task`), which Barrow's engine does not have; what they
//!   guarantee (ready tasks, released inputs) is in the engine's own tests.
//! - `test_cache_options`: Dask's `cache=` dict as a result store; Barrow's
//!   store is chosen on the run context (the conformance suite's
//!   `store_from_the_context`).
//! - `test_sort_key`: Dask's `sortkey` for mixed string/tuple keys; Barrow
//!   keys are typed and ordered by `Key`'s own `Ord`.
//! - The mixin's `test_get_with_nested_list` (Barrow's requests are a flat
//!   list of keys: there is no nested request to keep the shape of),
//!   `test_get_with_list_top_level` and
//!   `test_get_works_with_unhashables_in_values`: Barrow has no lists as
//!   tasks of their own (a list is an argument) and no unhashable literals;
//!   `test_with_HighLevelGraph`: layers are covered by the graph's tests.
//! - The second half of `test_detect_malformed_graph` (`cache={"x": 1}`
//!   fills the missing key): see `test_cache_options`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use barrow::arg::{call, key, keys, lit};
use barrow::collection::GraphKeys;
use barrow::{ErrorKind, Graph, Key, Options, Result, Task, Value, compute_with};
use barrow_core::testing::functions::{add, fail, inc, sum};
use barrow_core::testing::{RecordedEvent, Recorder};

barrow::processes::worker_entry!();

/// The local schedulers every test runs on.
const SCHEDULERS: [&str; 3] = ["sync", "threads", "processes"];

fn options(scheduler: &str) -> Options {
    Options::new().scheduler(scheduler).num_workers(2)
}

/// Dask's `get(dsk, keys)` on `scheduler`.
fn get(graph: &Graph, wanted: &[&str], options: &Options) -> Result<Vec<Value>> {
    compute_with(
        GraphKeys::new(graph.clone(), wanted.iter().copied()),
        options,
    )
}

fn int(value: &Value) -> i64 {
    *value.downcast_ref::<i64>().unwrap()
}

/// `{":x": 1, ":y": (inc, ":x"), ":z": (add, ":x", ":y")}`
fn xyz() -> Graph {
    Graph::from_tasks([
        (":x", Task::literal(1i64)),
        (":y", Task::call(&inc(), [key(":x")])),
        (":z", Task::call(&add(), [key(":x"), key(":y")])),
    ])
    .unwrap()
}

/// `{"x": 1, "y": 2, "z": (sum, ["x", "y"])}`
fn summed() -> Graph {
    Graph::from_tasks([
        ("x", Task::literal(1i64)),
        ("y", Task::literal(2i64)),
        ("z", Task::call(&sum(), [keys(["x", "y"])])),
    ])
    .unwrap()
}

#[test]
fn test_get() {
    for scheduler in SCHEDULERS {
        let o = options(scheduler);
        let graph = xyz();
        assert_eq!(int(&get(&graph, &[":x"], &o).unwrap()[0]), 1, "{scheduler}");
        assert_eq!(int(&get(&graph, &[":y"], &o).unwrap()[0]), 2, "{scheduler}");
        assert_eq!(int(&get(&graph, &[":z"], &o).unwrap()[0]), 3, "{scheduler}");
    }
}

#[test]
fn test_badkey() {
    for scheduler in SCHEDULERS {
        let err = get(&xyz(), &["badkey"], &options(scheduler)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MissingKey, "{scheduler}: {err}");
        assert!(err.to_string().contains("badkey"), "{scheduler}: {err}");
    }
}

#[test]
fn test_nested_badkey() {
    // Dask asks for `[["badkey"], "y"]`; Barrow's requests are flat, and a
    // missing key among others fails the whole request, naming it.
    for scheduler in SCHEDULERS {
        let err = get(&summed(), &["badkey", "y"], &options(scheduler)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MissingKey, "{scheduler}: {err}");
        assert!(err.to_string().contains("badkey"), "{scheduler}: {err}");
    }
}

#[test]
fn test_data_not_in_dict_is_ok() {
    for scheduler in SCHEDULERS {
        let graph = Graph::from_tasks([
            ("x", Task::literal(1i64)),
            ("y", Task::call(&add(), [key("x"), lit(10i64)])),
        ])
        .unwrap();
        let y = get(&graph, &["y"], &options(scheduler)).unwrap();
        assert_eq!(int(&y[0]), 11, "{scheduler}");
    }
}

#[test]
fn test_get_with_list() {
    for scheduler in SCHEDULERS {
        let o = options(scheduler);
        let both = get(&summed(), &["x", "y"], &o).unwrap();
        assert_eq!((int(&both[0]), int(&both[1])), (1, 2), "{scheduler}");
        assert_eq!(
            int(&get(&summed(), &["z"], &o).unwrap()[0]),
            3,
            "{scheduler}"
        );
    }
}

#[test]
fn test_nested_tasks() {
    // {"x": 1, "y": (inc, "x"), "z": (add, (inc, "x"), "y")}
    for scheduler in SCHEDULERS {
        let graph = Graph::from_tasks([
            ("x", Task::literal(1i64)),
            ("y", Task::call(&inc(), [key("x")])),
            (
                "z",
                Task::call(&add(), [call(&inc(), [key("x")]), key("y")]),
            ),
        ])
        .unwrap();
        let z = get(&graph, &["z"], &options(scheduler)).unwrap();
        assert_eq!(int(&z[0]), 4, "{scheduler}");
    }
}

#[test]
fn test_get_stack_limit() {
    // A chain of 10,000 tasks: no recursion in the scheduler (or in fusing
    // it) may overflow the stack.
    let mut graph = Graph::new();
    graph.insert("x0", Task::literal(0i64)).unwrap();
    for i in 0..10_000 {
        let task = Task::call(&inc(), [key(format!("x{i}"))]);
        graph.insert(format!("x{}", i + 1), task).unwrap();
    }
    for scheduler in SCHEDULERS {
        let last = get(&graph, &["x10000"], &options(scheduler)).unwrap();
        assert_eq!(int(&last[0]), 10_000, "{scheduler}");
    }
}

#[test]
fn test_get_sync_num_workers() {
    // A worker count is accepted everywhere, and meaningless on `sync`.
    for scheduler in SCHEDULERS {
        let graph = Graph::from_tasks([
            ("x", Task::call(&inc(), [key("y")])),
            ("y", Task::literal(1i64)),
        ])
        .unwrap();
        let x = get(&graph, &["x"], &options(scheduler).num_workers(2)).unwrap();
        assert_eq!(int(&x[0]), 2, "{scheduler}");
    }
}

#[test]
fn test_callback() {
    // {"a": (f, 1)}: the callbacks see the task's key, before and after
    // it runs, between the run's start and its finish.
    for scheduler in SCHEDULERS {
        let recorder = Recorder::new();
        let graph = Graph::from_tasks([("a", Task::call(&inc(), [lit(1i64)]))]).unwrap();
        let o = options(scheduler).callback(recorder.clone());
        let a = get(&graph, &["a"], &o).unwrap();
        assert_eq!(int(&a[0]), 2, "{scheduler}");
        let a_key = Key::new("a");
        assert_eq!(
            recorder.events(),
            [
                RecordedEvent::Start(1),
                RecordedEvent::Pretask(a_key.clone()),
                RecordedEvent::Posttask(a_key),
                RecordedEvent::Finish { failed: false },
            ],
            "{scheduler}"
        );
    }
}

#[test]
fn test_exceptions_propagate() {
    // The task's own error reaches the caller: its message, and the key of
    // the task that raised it.
    for scheduler in SCHEDULERS {
        let graph = Graph::from_tasks([("x", Task::call(&fail(), [lit(1i64)]))]).unwrap();
        let err = get(&graph, &["x"], &options(scheduler)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TaskFailed, "{scheduler}: {err}");
        assert_eq!(err.key(), Some(&Key::new("x")), "{scheduler}: {err}");
        assert!(
            err.to_string().contains("no"),
            "{scheduler}: the task's message: {err}"
        );
    }
}

/// The order in which `sync` starts the tasks of `graph` for `wanted`.
fn started(graph: &Graph, wanted: &[&str], scheduler: &str) -> Vec<Key> {
    let recorder = Recorder::new();
    let o = options(scheduler)
        .callback(recorder.clone())
        .optimize_graph(false);
    get(graph, wanted, &o).unwrap();
    recorder
        .events()
        .into_iter()
        .filter_map(|e| match e {
            RecordedEvent::Pretask(key) => Some(key),
            _ => None,
        })
        .collect()
}

/// The keys of `graph` in `order`'s priority for `wanted`.
fn ordered(graph: &Graph, wanted: &[&str]) -> Vec<Key> {
    let wanted: Vec<Key> = wanted.iter().map(|k| Key::new(*k)).collect();
    let plan = graph.lower(&wanted).unwrap();
    let mut keys: Vec<(u32, Key)> = (0..plan.len())
        .map(|i| (plan.priority(i as u32), plan.key(i as u32).clone()))
        .collect();
    keys.sort();
    keys.into_iter().map(|(_, k)| k).collect()
}

#[test]
fn test_ordering() {
    // Ten independent tasks and one that reads them all: `sync` runs them
    // one after the other in `order`'s priority (Dask checks the order its
    // own `order` gives, highest key first).
    let mut graph = Graph::new();
    for i in 0..10u32 {
        graph
            .insert(
                Key::with_index("x", [i]),
                Task::call(&inc(), [lit(i64::from(i))]),
            )
            .unwrap();
    }
    let xs: Vec<Key> = (0..10u32).map(|i| Key::with_index("x", [i])).collect();
    graph
        .insert("y", Task::call(&sum(), [keys(xs.clone())]))
        .unwrap();
    let order = started(&graph, &["y"], "sync");
    assert_eq!(order, ordered(&graph, &["y"]));
    assert_eq!(order.last(), Some(&Key::new("y")));
}

#[test]
fn test_complex_ordering() {
    // A graph with shared inputs and several reductions (a stand-in for
    // Dask's `(x.dot(x.T) - x.mean(axis=0)).std()`): `sync` starts its
    // tasks exactly in `order`'s priority.
    let mut graph = Graph::new();
    for i in 0..6i64 {
        graph.insert(format!("x{i}"), Task::literal(i)).unwrap();
    }
    for i in 0..6 {
        let j = (i + 1) % 6;
        let pair = Task::call(&add(), [key(format!("x{i}")), key(format!("x{j}"))]);
        graph.insert(format!("p{i}"), pair).unwrap();
    }
    graph
        .insert("left", Task::call(&sum(), [keys(["p0", "p1", "p2"])]))
        .unwrap();
    graph
        .insert(
            "right",
            Task::call(&sum(), [keys(["p3", "p4", "p5", "x0"])]),
        )
        .unwrap();
    graph
        .insert("res", Task::call(&add(), [key("left"), key("right")]))
        .unwrap();
    let order = started(&graph, &["res"], "sync");
    assert_eq!(order, ordered(&graph, &["res"]));
}

#[test]
fn test_ensure_calculate_only_whats_needed() {
    // x1 is in the graph but nothing asked for needs it: it never runs.
    for scheduler in SCHEDULERS {
        let recorder = Recorder::new();
        let graph = Graph::from_tasks([
            ("x1", Task::call(&inc(), [lit(0i64)])),
            ("x2", Task::call(&inc(), [lit(0i64)])),
            ("y", Task::call(&add(), [lit(1i64), key("x2")])),
        ])
        .unwrap();
        let o = options(scheduler).callback(recorder.clone());
        let y = get(&graph, &["y"], &o).unwrap();
        assert_eq!(int(&y[0]), 2, "{scheduler}");
        assert_eq!(
            recorder.count(&RecordedEvent::Pretask(Key::new("x1"))),
            0,
            "{scheduler}"
        );
    }
}

#[test]
fn test_detect_malformed_graph() {
    // {"y": (identity, "x")} without "x": an error naming the missing
    // dependency and the task that reads it, before anything runs.
    for scheduler in SCHEDULERS {
        let recorder = Recorder::new();
        let graph = Graph::from_tasks([("y", Task::call(&inc(), [key("x")]))]).unwrap();
        let o = options(scheduler).callback(recorder.clone());
        let err = get(&graph, &["y"], &o).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::MissingDependency,
            "{scheduler}: {err}"
        );
        let message = err.to_string();
        assert!(
            message.contains('x') && message.contains('y'),
            "{scheduler}: {message}"
        );
        let ran = recorder
            .events()
            .iter()
            .filter(|e| matches!(e, RecordedEvent::Pretask(_)))
            .count();
        assert_eq!(ran, 0, "{scheduler}: nothing runs");
    }
}
