//! The core model as a user meets it: building graphs, merging them, and
//! every kind of bad input answered by a clear error.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::sync::Arc;

use barrow_core::arg::{key, keys, lit};
use barrow_core::collection::GraphKeys;
use barrow_core::function::List;
use barrow_core::reference::{self, ReferenceScheduler};
use barrow_core::tokenize::{token_name, tokenize};
use barrow_core::{
    Collection, ErrorKind, Func, Graph, Key, Layer, Options, Registry, Task, Value, compute_with,
    persist_with,
};

fn add() -> Func {
    Func::new("add", |a: &i64, b: &i64| a + b)
}

fn inc() -> Func {
    Func::new("inc", |x: &i64| x + 1)
}

fn reference_options() -> Options {
    Options::new().scheduler_object(ReferenceScheduler::shared())
}

#[test]
fn the_seed_example_in_a_few_lines() {
    let sum = Func::new("sum", |xs: List<i64>| xs.iter().sum::<i64>());
    let graph = Graph::from_tasks([
        ("a", Task::literal(1i64)),
        ("b", Task::literal(2i64)),
        ("c", Task::call(&add(), [key("a"), key("b")])),
        ("d", Task::call(&sum, [keys(["a", "b", "c"])])),
    ])
    .unwrap();
    let out = reference::get(&graph, &[Key::new("d"), Key::new("c")]).unwrap();
    assert_eq!(*out[0].downcast_ref::<i64>().unwrap(), 6);
    assert_eq!(*out[1].downcast_ref::<i64>().unwrap(), 3);
}

#[test]
fn a_missing_dependency_names_both_keys() {
    let graph = Graph::from_tasks([("y", Task::call(&inc(), [key("x")]))]).unwrap();
    let err = graph.validate().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MissingDependency);
    assert_eq!(err.key(), Some(&Key::new("y")));
    assert_eq!(
        err.to_string(),
        "task y: depends on x, which is not in the graph; add a task for x or fix the reference"
    );
}

#[test]
fn a_cycle_lists_its_keys() {
    let graph = Graph::from_tasks([
        ("a", Task::call(&inc(), [key("b")])),
        ("b", Task::call(&inc(), [key("a")])),
        ("free", Task::literal(0i64)),
    ])
    .unwrap();
    let err = graph.validate().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cycle);
    assert!(err.to_string().contains("a -> b -> a") || err.to_string().contains("b -> a -> b"));
    assert_eq!(err.cycle().len(), 3);
    // The same through lowering for a requested key.
    let err = graph.lower(&[Key::new("a")]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cycle);
    // A task reading itself.
    let graph = Graph::from_tasks([("s", Task::call(&inc(), [key("s")]))]).unwrap();
    assert_eq!(graph.validate().unwrap_err().kind(), ErrorKind::Cycle);
}

#[test]
fn an_absent_requested_key_suggests_a_close_one() {
    let graph = Graph::from_tasks([
        (Key::from(("x", 0)), Task::literal(1i64)),
        (Key::new("total"), Task::literal(2i64)),
    ])
    .unwrap();
    let err = graph.lower(&[Key::new("totl")]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MissingKey);
    assert_eq!(
        err.to_string(),
        "task totl: requested key totl is not in the graph of 2 tasks (did you mean 'total'?)"
    );
}

#[test]
fn an_empty_graph_is_valid_but_has_no_keys() {
    let graph = Graph::new();
    graph.validate().unwrap();
    assert!(graph.lower(&[]).unwrap().is_empty());
    let err = graph.lower(&[Key::new("x")]).unwrap_err();
    assert!(err.to_string().contains("the graph is empty"), "{err}");
}

#[test]
fn a_wrong_value_type_names_both_types() {
    let graph = Graph::from_tasks([
        ("x", Task::literal(1.5f64)),
        ("y", Task::call(&inc(), [key("x")])),
    ])
    .unwrap();
    let err = reference::get(&graph, &[Key::new("y")]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType);
    assert_eq!(
        err.to_string(),
        "task y (function 'inc'): argument 1: wrong value type: expected i64, got f64"
    );
    let err = Value::new(1u8).downcast_ref::<String>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "wrong value type: expected alloc::string::String, got u8"
    );
}

#[test]
fn an_unregistered_function_name_is_refused() {
    let registry = Registry::new();
    registry.functions().register(inc()).unwrap();
    let err = registry.functions().get("inc2").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownFunction);
    assert!(err.to_string().contains("'inc2'"), "{err}");
    assert!(err.to_string().contains("did you mean 'inc'?"), "{err}");
}

#[test]
fn two_different_tasks_under_one_key_are_refused() {
    let err =
        Graph::from_tasks([("x", Task::literal(1i64)), ("x", Task::literal(2i64))]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyConflict);
    assert_eq!(err.key(), Some(&Key::new("x")));

    // The same task twice is fine.
    Graph::from_tasks([("x", Task::literal(1i64)), ("x", Task::literal(1i64))]).unwrap();

    // Merging graphs that disagree on a key.
    let a = Graph::from_tasks([("x", Task::call(&inc(), [lit(1i64)]))]).unwrap();
    let b = Graph::from_tasks([("x", Task::call(&add(), [lit(1i64), lit(1i64)]))]).unwrap();
    let err = Graph::merge_all([&a, &b]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeyConflict);
    assert!(
        err.to_string().contains("inc(1)") && err.to_string().contains("add(1, 1)"),
        "{err}"
    );
}

#[test]
fn merging_shares_layers_and_drops_duplicates() {
    let mut base = Layer::new("base");
    base.insert("x", Task::literal(1i64)).unwrap();
    let base = Arc::new(base);
    let mut left = Graph::from_layer(base.clone());
    left.insert("l", Task::call(&inc(), [key("x")])).unwrap();
    let mut right = Graph::from_layer(base);
    right.insert("r", Task::call(&inc(), [key("x")])).unwrap();
    // A layer that repeats an existing key with the same task.
    let mut again = Layer::new("again");
    again.insert("x", Task::literal(1i64)).unwrap();
    again.insert("z", Task::literal(3i64)).unwrap();
    right.add_layer(Arc::new(again)).unwrap();

    let merged = Graph::merge_all([&left, &right]).unwrap();
    assert_eq!(merged.len(), 4, "x, l, r, z once each");
    merged.validate().unwrap();
}

#[test]
fn compute_of_several_collections_runs_shared_work_once() {
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = calls.clone();
    let slow = Func::new("slow", move |x: &i64| {
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        x * 100
    });
    let graph = Graph::from_tasks([
        ("x", Task::literal(2i64)),
        ("s", Task::call(&slow, [key("x")])),
        ("a", Task::call(&inc(), [key("s")])),
        ("b", Task::call(&add(), [key("s"), key("x")])),
    ])
    .unwrap();
    let a = GraphKeys::new(graph.clone(), ["a"]);
    let b = GraphKeys::new(graph, ["b"]);
    let (va, vb) = compute_with((&a, &b), &reference_options()).unwrap();
    assert_eq!(*va[0].downcast_ref::<i64>().unwrap(), 201);
    assert_eq!(*vb[0].downcast_ref::<i64>().unwrap(), 202);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);

    // A list of collections computes together too.
    let out = compute_with(vec![a.clone(), b.clone()], &reference_options()).unwrap();
    assert_eq!(out.len(), 2);
}

#[test]
fn persist_replaces_work_with_results() {
    let graph = Graph::from_tasks([
        ("x", Task::literal(2i64)),
        ("y", Task::call(&inc(), [key("x")])),
    ])
    .unwrap();
    let persisted = persist_with(&GraphKeys::new(graph, ["y"]), &reference_options()).unwrap();
    let g = persisted.graph().unwrap();
    assert_eq!(g.len(), 1);
    let values = compute_with(&persisted, &reference_options()).unwrap();
    assert_eq!(*values[0].downcast_ref::<i64>().unwrap(), 3);
}

#[test]
fn an_unknown_scheduler_lists_the_registered_ones() {
    let registry = Arc::new(Registry::new());
    registry
        .schedulers()
        .register(&["reference", "ref"], |_| Ok(ReferenceScheduler::shared()))
        .unwrap();
    let graph = Graph::from_tasks([("x", Task::literal(1i64))]).unwrap();
    let options = Options::new().registry(registry.clone()).scheduler("REF");
    let out = compute_with(GraphKeys::new(graph.clone(), ["x"]), &options).unwrap();
    assert_eq!(*out[0].downcast_ref::<i64>().unwrap(), 1);
    let options = Options::new().registry(registry).scheduler("gpu");
    let err = compute_with(GraphKeys::new(graph, ["x"]), &options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownScheduler);
    assert_eq!(
        err.to_string(),
        "no scheduler is named 'gpu'; available: ref, reference"
    );
}

#[test]
fn tokens_name_what_produced_a_result() {
    let a = Task::call(&add(), [key("x"), lit(1i64)]);
    let b = Task::call(&add(), [key("x"), lit(1i64)]);
    assert_eq!(tokenize(&a), tokenize(&b));
    assert_eq!(token_name("add", &a).len(), "add-".len() + 32);
    assert_ne!(
        tokenize(&a),
        tokenize(&Task::call(&add(), [key("x"), lit(2i64)]))
    );
}
