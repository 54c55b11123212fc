//! Dask's `dask/tests/test_multiprocessing.py` (at Dask's commit 817e5ff),
//! ported one test per Dask test onto Barrow's `processes` scheduler.
//!
//! Ported (each under its Dask name): `test_errors_propagate`,
//! `test_lambda_with_cloudpickle`, `test_unpicklable_args_generate_errors`,
//! `test_reuse_pool`, `test_fuse_doesnt_clobber_intermediates`,
//! `test_optimize_graph_false`.
//!
//! Barrow differs on purpose where Dask pickles: only functions registered
//! by name (`#[barrow::task]`) and values with a codec cross a process
//! boundary, so `test_lambda_with_cloudpickle` and
//! `test_unpicklable_args_generate_errors` check that such a graph is
//! refused before anything runs, naming the task and the way out.
//!
//! Left out, and why:
//! - `test_pickle_globals`, `test_pickle_locals`, `test_out_of_band_pickling`,
//!   `test_dumps_loads`, `test_lambda_results_with_cloudpickle`: Python's
//!   pickling of functions and of functions as results; Barrow never ships
//!   code, only names.
//! - `test_remote_exception`: Dask's helper that rebuilds an exception type
//!   with the worker's traceback; a Barrow worker's error comes back as the
//!   same error as locally (the crate's own tests).
//! - `test_works_with_highlevel_graph`: a regression of Dask's graph types.
//! - `test_random_seeds`: reseeding Python's global generators after a
//!   fork; Barrow's random arrays take explicit seeds and each worker's
//!   own seed is tested in `barrow-processes` (`processes.rs`).
//! - `test_process_initializer`: a worker initializer function; Barrow's
//!   counterpart is a plugin's worker set-up step (`barrow-plugin-host`'s
//!   tests).
//! - `test_custom_context_used_python3_posix`,
//!   `test_get_context_using_python3_posix`,
//!   `test_custom_context_ignored_elsewhere`,
//!   `test_get_context_always_default`: Python's `multiprocessing`
//!   contexts; Barrow's `processes.context` (spawn or fork) is tested in
//!   `barrow-processes`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::sync::Arc;

use barrow::arg::{key, lit};
use barrow::collection::GraphKeys;
use barrow::processes::{ProcessPool, ProcessesScheduler};
use barrow::{ErrorKind, Func, Graph, Key, Options, Result, Task, Value, compute_with};
use barrow_core::testing::functions::{add, fail, inc};
use barrow_core::testing::{RecordedEvent, Recorder};

barrow::processes::worker_entry!();

fn processes() -> Options {
    Options::new().scheduler("processes").num_workers(2)
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

/// `{"x": 1, "y": (inc, "x"), "z": (add, 10, "y")}`
fn xyz() -> Graph {
    Graph::from_tasks([
        ("x", Task::literal(1i64)),
        ("y", Task::call(&inc(), [key("x")])),
        ("z", Task::call(&add(), [lit(10i64), key("y")])),
    ])
    .unwrap()
}

#[test]
fn test_errors_propagate() {
    let graph = Graph::from_tasks([("x", Task::call(&fail(), [lit(1i64)]))]).unwrap();
    let err = get(&graph, &["x"], &processes()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TaskFailed, "{err}");
    assert_eq!(err.key(), Some(&Key::new("x")), "{err}");
    assert!(
        err.to_string().contains("no"),
        "the worker's message: {err}"
    );
}

#[test]
fn test_lambda_with_cloudpickle() {
    // {"x": 2, "y": (lambda x: x + 1, "x")}: a closure cannot cross.
    let closure = Func::new("tests.dask-multiprocessing.plus-one", |x: &i64| x + 1);
    let graph = Graph::from_tasks([
        ("x", Task::literal(2i64)),
        ("y", Task::call(&closure, [key("x")])),
    ])
    .unwrap();
    let recorder = Recorder::new();
    let options = processes().callback(recorder.clone());
    let err = get(&graph, &["y"], &options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotShippable, "{err}");
    let message = err.to_string();
    assert!(message.contains('y'), "names the task: {message}");
    assert!(message.contains("#[barrow::task]"), "says how: {message}");
    assert!(
        !recorder
            .events()
            .iter()
            .any(|e| matches!(e, RecordedEvent::Pretask(_))),
        "refused before anything ran"
    );
}

/// A value with no codec: it cannot be sent to a worker.
#[derive(Debug)]
struct NoCodec;

#[test]
fn test_unpicklable_args_generate_errors() {
    let is_some = Func::new("tests.dask-multiprocessing.is-some", |_: &NoCodec| true);
    // As an argument of the task, and as a task of its own.
    let inline = Graph::from_tasks([("x", Task::call(&is_some, [lit(NoCodec)]))]).unwrap();
    let separate = Graph::from_tasks([
        ("a", Task::literal(NoCodec)),
        ("x", Task::call(&is_some, [key("a")])),
    ])
    .unwrap();
    for graph in [inline, separate] {
        let err = get(&graph, &["x"], &processes()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotShippable, "{err}");
    }
}

#[test]
fn test_reuse_pool() {
    let pool = Arc::new(ProcessPool::new(2).unwrap());
    let options =
        Options::new().scheduler_object(Arc::new(ProcessesScheduler::with_pool(pool.clone())));
    let graph = Graph::from_tasks([("x", Task::call(&inc(), [lit(1i64)]))]).unwrap();
    let workers = pool.start().unwrap();
    for _ in 0..2 {
        assert_eq!(int(&get(&graph, &["x"], &options).unwrap()[0]), 2);
    }
    assert_eq!(pool.start().unwrap(), workers, "the same workers ran both");
}

#[test]
fn test_fuse_doesnt_clobber_intermediates() {
    let both = get(&xyz(), &["y", "z"], &processes()).unwrap();
    assert_eq!((int(&both[0]), int(&both[1])), (2, 12));
}

#[test]
fn test_optimize_graph_false() {
    // Without optimization the two calls run as two tasks, not one fused
    // one. (Dask counts 2 events: its literal `x` is data; Barrow's
    // callbacks also see literal tasks, so `x` is there too.)
    let recorder = Recorder::new();
    let options = processes().callback(recorder.clone()).optimize_graph(false);
    assert_eq!(int(&get(&xyz(), &["z"], &options).unwrap()[0]), 12);
    let ran: Vec<Key> = recorder
        .events()
        .into_iter()
        .filter_map(|e| match e {
            RecordedEvent::Pretask(key) => Some(key),
            _ => None,
        })
        .collect();
    assert_eq!(ran, [Key::new("x"), Key::new("y"), Key::new("z")]);
}
