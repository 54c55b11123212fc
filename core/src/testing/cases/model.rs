//! Cases on what a graph computes: the model, arguments, keys, bad graphs.

use super::*;

/// Dask's seed example: `{'a': 1, 'b': 2, 'c': (add, 'a', 'b'), 'd': (sum, ['a', 'b', 'c'])}`.
pub fn seed_example<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        ("a", Task::literal(1i64)),
        ("b", Task::literal(2i64)),
        ("c", Task::call(&add(), [key("a"), key("b")])),
        ("d", Task::call(&sum(), [keys(["a", "b", "c"])])),
    ])
    .expect("a valid graph");
    assert_eq!(get_ints(s, &graph, &["c"]), [3]);
    assert_eq!(get_ints(s, &graph, &["d"]), [6]);
    assert_eq!(get_ints(s, &graph, &["a", "b", "c"]), [1, 2, 3]);
}

/// Dask's `test_get`: single keys and lists of keys.
pub fn get_single_and_many<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        (":x", Task::literal(1i64)),
        (":y", Task::call(&inc(), [key(":x")])),
        (":z", Task::call(&add(), [key(":x"), key(":y")])),
    ])
    .expect("a valid graph");
    assert_eq!(get_ints(s, &graph, &[":x"]), [1]);
    assert_eq!(get_ints(s, &graph, &[":y"]), [2]);
    assert_eq!(get_ints(s, &graph, &[":z"]), [3]);
    assert_eq!(get_ints(s, &graph, &[":x", ":y", ":z"]), [1, 2, 3]);
}

/// Dask's `test_data_not_in_dict_is_ok`: literals inside calls.
pub fn literal_arguments<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        ("x", Task::literal(1i64)),
        ("y", Task::call(&add(), [key("x"), lit(10i64)])),
    ])
    .expect("a valid graph");
    assert_eq!(get_ints(s, &graph, &["y"]), [11]);
}

/// Dask's `test_nested_tasks`: `(add, (inc, 'x'), 'y')`, and deeper.
pub fn nested_calls<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        ("x", Task::literal(1i64)),
        ("y", Task::call(&inc(), [key("x")])),
        (
            "z",
            Task::call(&add(), [call(&inc(), [key("x")]), key("y")]),
        ),
        (
            "deep",
            Task::call(
                &inc(),
                [call(
                    &inc(),
                    [call(&add(), [call(&inc(), [key("z")]), lit(10i64)])],
                )],
            ),
        ),
    ])
    .expect("a valid graph");
    assert_eq!(get_ints(s, &graph, &["z"]), [4]);
    assert_eq!(get_ints(s, &graph, &["deep"]), [17]);
}

/// List arguments with keys, literals, nested calls and nested lists.
pub fn lists_of_arguments<S: Scheduler + ?Sized>(s: &S) {
    let total = crate::testing::functions::nested_total();
    let graph = Graph::from_tasks([
        ("a", Task::literal(1i64)),
        ("b", Task::literal(2i64)),
        (
            "s",
            Task::call(
                &sum(),
                [list([key("a"), lit(10i64), call(&inc(), [key("b")])])],
            ),
        ),
        (
            "n",
            Task::call(
                &total,
                [list([list([key("a"), lit(5i64)]), list([]), key("s")])],
            ),
        ),
        ("empty", Task::call(&sum(), [list([])])),
    ])
    .expect("a valid graph");
    assert_eq!(get_ints(s, &graph, &["s", "n", "empty"]), [14, 20, 0]);
}

/// Aliases, chained.
pub fn aliases<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        ("a", Task::literal(1i64)),
        ("b", Task::alias("a")),
        ("c", Task::alias("b")),
        ("d", Task::call(&inc(), [key("c")])),
    ])
    .expect("a valid graph");
    assert_eq!(get_ints(s, &graph, &["c", "d", "b"]), [1, 2, 1]);
}

/// Tuple keys such as `('x', 0)`.
pub fn tuple_keys<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        (Key::from(("x", 0)), Task::literal(1i64)),
        (Key::from(("x", 1)), Task::literal(2i64)),
        (
            Key::from(("y", 0, 0)),
            Task::call(&add(), [key(("x", 0)), key(("x", 1))]),
        ),
        (Key::new("x"), Task::literal(100i64)),
    ])
    .expect("a valid graph");
    let out = run(s, &graph, &[Key::from(("y", 0, 0)), Key::new("x")]).expect("the graph runs");
    assert_eq!(ints(&out), [3, 100]);
}

/// A literal task asked for directly.
pub fn literal_requested_directly<S: Scheduler + ?Sized>(s: &S) {
    let graph =
        Graph::from_tasks([("x", Task::literal(String::from("hello")))]).expect("a valid graph");
    let out = run(s, &graph, &[Key::new("x")]).expect("the graph runs");
    assert_eq!(out[0].downcast_ref::<String>().expect("a string"), "hello");
}

/// One key asked for twice comes back twice.
pub fn repeated_requests<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        ("x", Task::literal(1i64)),
        ("y", Task::call(&inc(), [key("x")])),
    ])
    .expect("a valid graph");
    assert_eq!(get_ints(s, &graph, &["y", "x", "y"]), [2, 1, 2]);
}

/// `(add, 'x', 'x')` reads one result twice.
pub fn same_key_read_twice<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        ("x", Task::literal(21i64)),
        ("y", Task::call(&add(), [key("x"), key("x")])),
        ("z", Task::call(&add(), [key("y"), key("y")])),
    ])
    .expect("a valid graph");
    assert_eq!(get_ints(s, &graph, &["z"]), [84]);
}

/// Dask's `test_badkey`: a requested key not in the graph.
pub fn missing_key<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([("x", Task::literal(1i64))]).expect("a valid graph");
    let err = run(s, &graph, &[Key::new("badkey")]).expect_err("badkey is not in the graph");
    assert_eq!(err.kind(), ErrorKind::MissingKey);
    assert_eq!(err.key(), Some(&Key::new("badkey")));
    assert!(err.to_string().contains("badkey"), "{err}");
}

/// A dependency no task produces.
pub fn missing_dependency<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([("y", Task::call(&inc(), [key("nowhere")]))]).expect("a graph");
    let err = run(s, &graph, &[Key::new("y")]).expect_err("nowhere is missing");
    assert_eq!(err.kind(), ErrorKind::MissingDependency);
    assert_eq!(err.key(), Some(&Key::new("y")));
    assert!(err.to_string().contains("nowhere"), "{err}");
}

/// A cycle is an error listing its keys, never a hang.
pub fn cycle<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::from_tasks([
        ("a", Task::call(&inc(), [key("c")])),
        ("b", Task::call(&inc(), [key("a")])),
        ("c", Task::call(&inc(), [key("b")])),
        ("out", Task::call(&inc(), [key("c")])),
    ])
    .expect("a graph");
    let err = run(s, &graph, &[Key::new("out")]).expect_err("a cycle");
    assert_eq!(err.kind(), ErrorKind::Cycle);
    let mut on_cycle: Vec<String> = err.cycle().iter().map(Key::to_string).collect();
    on_cycle.sort();
    on_cycle.dedup();
    assert_eq!(on_cycle, ["a", "b", "c"]);
}

/// Through `compute`, with its default optimizations (cull, fuse): a
/// two-key cycle is reported with both keys as written, never fused first
/// into a self-dependency `a -> a`; a missing dependency names the task
/// that reads it even when that task would be fused away.
pub fn cycle_as_written(s: std::sync::Arc<dyn Scheduler>) {
    use crate::collection::{GraphKeys, compute_with};
    let options = Options::new().scheduler_object(s);
    let graph = Graph::from_tasks([
        ("a", Task::call(&inc(), [key("b")])),
        ("b", Task::call(&inc(), [key("a")])),
    ])
    .expect("a graph");
    let err = compute_with(GraphKeys::new(graph, ["a"]), &options).expect_err("a cycle");
    assert_eq!(err.kind(), ErrorKind::Cycle, "{err}");
    let mut on_cycle: Vec<String> = err.cycle().iter().map(Key::to_string).collect();
    on_cycle.sort();
    on_cycle.dedup();
    assert_eq!(on_cycle, ["a", "b"], "{err}");
    assert!(err.to_string().contains("b -> a -> b"), "{err}");

    let graph = Graph::from_tasks([
        ("y", Task::call(&inc(), [key("nowhere")])),
        ("z", Task::call(&inc(), [key("y")])),
    ])
    .expect("a graph");
    let err = compute_with(GraphKeys::new(graph, ["z"]), &options).expect_err("nowhere is missing");
    assert_eq!(err.kind(), ErrorKind::MissingDependency, "{err}");
    assert_eq!(err.key(), Some(&Key::new("y")), "{err}");
}

/// Nothing asked of an empty graph gives nothing; a key asked of it is an
/// error saying the graph is empty.
pub fn empty_graph<S: Scheduler + ?Sized>(s: &S) {
    let graph = Graph::new();
    assert!(run(s, &graph, &[]).expect("nothing to do").is_empty());
    let err = run(s, &graph, &[Key::new("x")]).expect_err("x is not there");
    assert_eq!(err.kind(), ErrorKind::MissingKey);
    assert!(err.to_string().contains("empty"), "{err}");
}
