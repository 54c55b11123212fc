//! Dask's `dask/tests/test_threaded.py` (at Dask's commit 817e5ff),
//! ported one test per Dask test onto Barrow's `threads` scheduler.
//!
//! Ported (each under its Dask name): `test_get`, `test_nested_get`,
//! `test_get_without_computation`, `test_exceptions_rise_to_top`,
//! `test_reuse_pool`, `test_pool_kwarg`, `test_threaded_within_thread`,
//! `test_thread_safety`.
//!
//! Left out, and why:
//! - `test_broken_callback`: Barrow's callbacks return nothing, so there is
//!   no error of a callback to raise to the caller.
//! - `test_dont_spawn_too_many_threads` and
//!   `test_dont_spawn_too_many_threads_CPU_COUNT`: they count the process's
//!   threads, which the other tests of the same test binary change while
//!   they run; the pool's bound is tested in `barrow-local`'s own tests
//!   (a shared pool per worker count, capped at 32 threads per core).
//! - `test_interrupt`: Ctrl-C (`SIGINT`) into a running `get` is Python's
//!   `KeyboardInterrupt`; a Rust program has no such exception.
//! - `test_contextvars`, `test_context_aware_warnings`: Python's
//!   `contextvars` and `warnings`; Barrow's counterpart, the configuration
//!   seen by tasks, is the run context (the conformance suite's cases).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use barrow::arg::{key, keys, lit};
use barrow::collection::GraphKeys;
use barrow::local::ThreadsScheduler;
use barrow::{ErrorKind, Func, Graph, Options, Result, Task, Value, compute_with};
use barrow_core::function::List;
use barrow_core::testing::functions::{add, inc, sum};

fn threads() -> Options {
    Options::new().scheduler("threads").num_workers(2)
}

fn get(graph: &Graph, wanted: &[&str], options: &Options) -> Result<Vec<Value>> {
    compute_with(
        GraphKeys::new(graph.clone(), wanted.iter().copied()),
        options,
    )
}

fn int(value: &Value) -> i64 {
    *value.downcast_ref::<i64>().unwrap()
}

#[test]
fn test_get() {
    // {"x": 1, "y": 2, "z": (inc, "x"), "w": (add, "z", "y")}
    let graph = Graph::from_tasks([
        ("x", Task::literal(1i64)),
        ("y", Task::literal(2i64)),
        ("z", Task::call(&inc(), [key("x")])),
        ("w", Task::call(&add(), [key("z"), key("y")])),
    ])
    .unwrap();
    assert_eq!(int(&get(&graph, &["w"], &threads()).unwrap()[0]), 4);
    let both = get(&graph, &["w", "z"], &threads()).unwrap();
    assert_eq!((int(&both[0]), int(&both[1])), (4, 2));
}

#[test]
fn test_nested_get() {
    // {"x": 1, "y": 2, "a": (add, "x", "y"), "b": (sum, ["x", "y"])}
    let graph = Graph::from_tasks([
        ("x", Task::literal(1i64)),
        ("y", Task::literal(2i64)),
        ("a", Task::call(&add(), [key("x"), key("y")])),
        ("b", Task::call(&sum(), [keys(["x", "y"])])),
    ])
    .unwrap();
    let ab = get(&graph, &["a", "b"], &threads()).unwrap();
    assert_eq!((int(&ab[0]), int(&ab[1])), (3, 3));
}

#[test]
fn test_get_without_computation() {
    let graph = Graph::from_tasks([("x", Task::literal(1i64))]).unwrap();
    assert_eq!(int(&get(&graph, &["x"], &threads()).unwrap()[0]), 1);
}

#[test]
fn test_exceptions_rise_to_top() {
    let bad = Func::try_new("tests.dask-threaded.bad", |_: &i64| {
        Err::<i64, _>("bad input")
    });
    let graph = Graph::from_tasks([
        ("x", Task::literal(1i64)),
        ("y", Task::call(&bad, [key("x")])),
    ])
    .unwrap();
    let err = get(&graph, &["y"], &threads()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TaskFailed, "{err}");
    assert!(err.to_string().contains("bad input"), "{err}");
}

/// A pool of `n` threads of the caller's, as Dask's `pool=` takes.
fn pool(n: usize) -> Arc<rayon::ThreadPool> {
    Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap(),
    )
}

#[test]
fn test_reuse_pool() {
    let scheduler = Arc::new(ThreadsScheduler::with_pool(pool(2)));
    let options = Options::new().scheduler_object(scheduler);
    let graph = Graph::from_tasks([("x", Task::call(&inc(), [lit(1i64)]))]).unwrap();
    for _ in 0..2 {
        assert_eq!(int(&get(&graph, &["x"], &options).unwrap()[0]), 2);
    }
}

#[test]
fn test_pool_kwarg() {
    // Thirty tasks that each take 10 ms and say which thread ran them, on a
    // pool of three: all three threads take part, and no other thread.
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let record = {
        let seen = seen.clone();
        Func::new("tests.dask-threaded.thread-of", move |i: &i64| {
            std::thread::sleep(Duration::from_millis(10));
            seen.lock().unwrap().insert(std::thread::current().id());
            *i
        })
    };
    let count = Func::new("tests.dask-threaded.count", |xs: List<i64>| {
        xs.iter().count() as i64
    });
    let mut graph = Graph::new();
    let mut parts = Vec::new();
    for i in 0..30i64 {
        let part = format!("x-{i}");
        graph
            .insert(part.as_str(), Task::call(&record, [lit(i)]))
            .unwrap();
        parts.push(part);
    }
    graph
        .insert("x", Task::call(&count, [keys(parts)]))
        .unwrap();
    let options = Options::new()
        .scheduler_object(Arc::new(ThreadsScheduler::with_pool(pool(3))))
        .optimize_graph(false);
    assert_eq!(int(&get(&graph, &["x"], &options).unwrap()[0]), 30);
    assert_eq!(
        seen.lock().unwrap().len(),
        3,
        "the pool's three threads ran them"
    );
}

#[test]
fn test_threaded_within_thread() {
    // A computation started from a thread of the program's own, twenty
    // times one after the other.
    for _ in 0..20 {
        let got = std::thread::spawn(|| {
            let one = Func::new("tests.dask-threaded.one", |i: &i64| *i);
            let graph = Graph::from_tasks([("x", Task::call(&one, [lit(1i64)]))]).unwrap();
            int(&get(&graph, &["x"], &threads()).unwrap()[0])
        })
        .join()
        .unwrap();
        assert_eq!(got, 1);
    }
}

#[test]
fn test_thread_safety() {
    // Twenty threads compute the same graph at once; each gets its answer.
    let nap = Func::new("tests.dask-threaded.nap", |ms: &u64| {
        std::thread::sleep(Duration::from_millis(*ms));
        0i64
    });
    let one = Func::new("tests.dask-threaded.one-of", |_: &i64| 1i64);
    let graph = Graph::from_tasks([
        ("x", Task::call(&nap, [lit(50u64)])),
        ("y", Task::call(&one, [key("x")])),
    ])
    .unwrap();
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let graph = graph.clone();
            std::thread::spawn(move || int(&get(&graph, &["y"], &threads()).unwrap()[0]))
        })
        .collect();
    let results: Vec<i64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results, [1; 20]);
}
