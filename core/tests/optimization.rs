//! `cull`, `fuse_linear`, `inline` and `inline_functions`, on the cases of
//! Dask's `dask/tests/test_optimization.py` (with `rename_keys=False`: fused
//! tasks keep the key of the last task of their chain).
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use barrow_core::arg::{call, key, list, lit};
use barrow_core::function::List;
use barrow_core::optimize::{cull, fuse_linear, inline, inline_functions};
use barrow_core::{ErrorKind, Func, Graph, Key, Task};

fn inc() -> Func {
    Func::new("inc", |x: &i64| x + 1)
}
fn add() -> Func {
    Func::new("add", |a: &i64, b: &i64| a + b)
}
fn double() -> Func {
    Func::new("double", |x: &i64| 2 * x)
}
fn pack() -> Func {
    Func::new("pack", |xs: List<i64>| {
        xs.iter().copied().collect::<Vec<i64>>()
    })
}
fn len() -> Func {
    Func::new("len", |xs: &Vec<i64>| xs.len() as i64)
}

fn graph(tasks: Vec<(&str, Task)>) -> Graph {
    Graph::from_tasks(tasks).unwrap()
}

/// Graphs are equal when they have the same keys, each with the same task.
#[track_caller]
fn assert_same(actual: &Graph, expected: &Graph) {
    let mut a: Vec<String> = actual.keys().map(Key::to_string).collect();
    let mut e: Vec<String> = expected.keys().map(Key::to_string).collect();
    a.sort();
    e.sort();
    assert_eq!(a, e, "different keys");
    for (key, task) in expected.iter() {
        let got = actual.get(key).unwrap();
        assert!(got.same_as(task), "{key}: expected {task}, got {got}");
    }
}

#[test]
fn cull_keeps_what_the_outputs_need() {
    // 'out' depends on 'x' and 'y', but not 'z'
    let d = graph(vec![
        ("x", Task::literal(1i64)),
        ("y", Task::call(&inc(), [key("x")])),
        ("z", Task::call(&inc(), [key("x")])),
        ("out", Task::call(&add(), [key("y"), lit(10i64)])),
    ]);
    let culled = cull(&d, &[Key::new("out")]).unwrap();
    assert_same(
        &culled,
        &graph(vec![
            ("x", Task::literal(1i64)),
            ("y", Task::call(&inc(), [key("x")])),
            ("out", Task::call(&add(), [key("y"), lit(10i64)])),
        ]),
    );
    assert_same(&cull(&d, &[Key::new("out"), Key::new("z")]).unwrap(), &d);
    let err = cull(&d, &[Key::new("badkey")]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MissingKey);
}

#[test]
fn cull_keeps_whole_layers_shared() {
    let d = graph(vec![("x", Task::literal(1i64))]);
    let culled = cull(&d, &[Key::new("x")]).unwrap();
    assert!(std::sync::Arc::ptr_eq(&culled.layers()[0], &d.layers()[0]));
}

#[test]
fn fuse_a_whole_chain() {
    let d = graph(vec![
        ("w", Task::call(&inc(), [key("x")])),
        ("x", Task::call(&inc(), [key("y")])),
        ("y", Task::call(&inc(), [key("z")])),
        ("z", Task::call(&add(), [key("a"), key("b")])),
        ("a", Task::literal(1i64)),
        ("b", Task::literal(2i64)),
    ]);
    let expected = graph(vec![
        (
            "w",
            Task::call(
                &inc(),
                [call(
                    &inc(),
                    [call(&inc(), [call(&add(), [key("a"), key("b")])])],
                )],
            ),
        ),
        ("a", Task::literal(1i64)),
        ("b", Task::literal(2i64)),
    ]);
    assert_same(&fuse_linear(&d, &[Key::new("w")]).unwrap(), &expected);
}

#[test]
fn fuse_stops_at_a_shared_dependency() {
    let d = graph(vec![
        ("NEW", Task::call(&inc(), [key("y")])),
        ("w", Task::call(&inc(), [key("x")])),
        ("x", Task::call(&inc(), [key("y")])),
        ("y", Task::call(&inc(), [key("z")])),
        ("z", Task::call(&add(), [key("a"), key("b")])),
        ("a", Task::literal(1i64)),
        ("b", Task::literal(2i64)),
    ]);
    let expected = graph(vec![
        ("NEW", Task::call(&inc(), [key("y")])),
        ("w", Task::call(&inc(), [call(&inc(), [key("y")])])),
        (
            "y",
            Task::call(&inc(), [call(&add(), [key("a"), key("b")])]),
        ),
        ("a", Task::literal(1i64)),
        ("b", Task::literal(2i64)),
    ]);
    assert_same(
        &fuse_linear(&d, &[Key::new("NEW"), Key::new("w")]).unwrap(),
        &expected,
    );
}

#[test]
fn fuse_several_chains_and_literals() {
    let d = graph(vec![
        ("v", Task::call(&inc(), [key("y")])),
        ("u", Task::call(&inc(), [key("w")])),
        ("w", Task::call(&inc(), [key("x")])),
        ("x", Task::call(&inc(), [key("y")])),
        ("y", Task::call(&inc(), [key("z")])),
        ("z", Task::call(&add(), [key("a"), key("b")])),
        ("a", Task::call(&inc(), [key("c")])),
        ("b", Task::call(&inc(), [key("d")])),
        ("c", Task::literal(1i64)),
        ("d", Task::literal(2i64)),
    ]);
    let expected = graph(vec![
        (
            "u",
            Task::call(&inc(), [call(&inc(), [call(&inc(), [key("y")])])]),
        ),
        ("v", Task::call(&inc(), [key("y")])),
        (
            "y",
            Task::call(&inc(), [call(&add(), [key("a"), key("b")])]),
        ),
        ("a", Task::call(&inc(), [lit(1i64)])),
        ("b", Task::call(&inc(), [lit(2i64)])),
    ]);
    assert_same(
        &fuse_linear(&d, &[Key::new("u"), Key::new("v")]).unwrap(),
        &expected,
    );
}

#[test]
fn fuse_a_branch_off_a_shared_input() {
    let d = graph(vec![
        ("a", Task::call(&inc(), [key("x")])),
        ("b", Task::call(&inc(), [key("x")])),
        ("c", Task::call(&inc(), [key("x")])),
        ("d", Task::call(&inc(), [key("c")])),
        ("x", Task::call(&inc(), [key("y")])),
        ("y", Task::literal(0i64)),
    ]);
    let expected = graph(vec![
        ("a", Task::call(&inc(), [key("x")])),
        ("b", Task::call(&inc(), [key("x")])),
        ("d", Task::call(&inc(), [call(&inc(), [key("x")])])),
        ("x", Task::call(&inc(), [lit(0i64)])),
    ]);
    let outputs = [Key::new("a"), Key::new("b"), Key::new("d")];
    assert_same(&fuse_linear(&d, &outputs).unwrap(), &expected);
}

#[test]
fn fuse_never_substitutes_a_key_read_twice() {
    // Substituting 'b' twice into 'c' would compute it twice.
    let d = graph(vec![
        ("a", Task::literal(1i64)),
        ("b", Task::call(&inc(), [key("a")])),
        ("c", Task::call(&add(), [key("b"), key("b")])),
    ]);
    let expected = graph(vec![
        ("b", Task::call(&inc(), [lit(1i64)])),
        ("c", Task::call(&add(), [key("b"), key("b")])),
    ]);
    assert_same(&fuse_linear(&d, &[Key::new("c")]).unwrap(), &expected);
}

#[test]
fn fuse_keeps_requested_keys() {
    let d = graph(vec![
        ("a", Task::literal(1i64)),
        ("b", Task::call(&inc(), [key("a")])),
        ("c", Task::call(&inc(), [key("b")])),
    ]);
    let expected = graph(vec![
        ("b", Task::call(&inc(), [lit(1i64)])),
        ("c", Task::call(&inc(), [key("b")])),
    ]);
    assert_same(
        &fuse_linear(&d, &[Key::new("b"), Key::new("c")]).unwrap(),
        &expected,
    );

    let d = graph(vec![
        ("w", Task::call(&inc(), [key("x")])),
        ("x", Task::call(&inc(), [key("y")])),
        ("y", Task::call(&inc(), [key("z")])),
        ("z", Task::call(&add(), [key("a"), key("b")])),
        ("a", Task::literal(1i64)),
        ("b", Task::literal(2i64)),
    ]);
    let expected = graph(vec![
        ("w", Task::call(&inc(), [key("x")])),
        ("x", Task::call(&inc(), [call(&inc(), [key("z")])])),
        ("z", Task::call(&add(), [key("a"), key("b")])),
        ("a", Task::literal(1i64)),
        ("b", Task::literal(2i64)),
    ]);
    let outputs = [Key::new("w"), Key::new("x"), Key::new("z")];
    assert_same(&fuse_linear(&d, &outputs).unwrap(), &expected);
}

#[test]
fn fuse_bounds_the_length_of_a_fused_chain() {
    let n = 1000u32;
    let mut tasks = vec![(Key::from(("c", 0)), Task::literal(0i64))];
    for i in 1..n {
        tasks.push((Key::from(("c", i)), Task::call(&inc(), [key(("c", i - 1))])));
    }
    let d = Graph::from_tasks(tasks).unwrap();
    let out = Key::from(("c", n - 1));
    let fused = fuse_linear(&d, std::slice::from_ref(&out)).unwrap();
    // Each fused task holds at most MAX_FUSED_CHAIN steps, and chains are
    // cut into few pieces.
    let max = barrow_core::optimize::MAX_FUSED_CHAIN as usize;
    let least = (n as usize).div_ceil(max);
    assert!(
        (least..=2 * least).contains(&fused.len()),
        "{} tasks",
        fused.len()
    );
    let value = barrow_core::reference::get(&fused, &[out]).unwrap();
    assert_eq!(*value[0].downcast_ref::<i64>().unwrap(), i64::from(n) - 1);
}

#[test]
fn fuse_does_not_merge_tasks_with_different_annotations() {
    let d = graph(vec![
        ("a", Task::literal(1i64)),
        (
            "b",
            Task::call(&inc(), [key("a")])
                .with_annotations(barrow_core::Annotations::new().priority(5)),
        ),
        ("c", Task::call(&inc(), [key("b")])),
    ]);
    let fused = fuse_linear(&d, &[Key::new("c")]).unwrap();
    assert_same(&fused, &d);
}

#[test]
fn inline_constants_and_keys() {
    let d = graph(vec![
        ("a", Task::literal(1i64)),
        ("b", Task::call(&inc(), [key("a")])),
        ("c", Task::call(&inc(), [key("b")])),
        ("d", Task::call(&add(), [key("a"), key("c")])),
    ]);
    assert_same(
        &inline(&d, &[], true).unwrap(),
        &graph(vec![
            ("a", Task::literal(1i64)),
            ("b", Task::call(&inc(), [lit(1i64)])),
            ("c", Task::call(&inc(), [key("b")])),
            ("d", Task::call(&add(), [lit(1i64), key("c")])),
        ]),
    );
    let keys = [Key::new("a"), Key::new("b"), Key::new("c")];
    assert_same(
        &inline(&d, &keys, true).unwrap(),
        &graph(vec![
            ("a", Task::literal(1i64)),
            ("b", Task::call(&inc(), [lit(1i64)])),
            ("c", Task::call(&inc(), [call(&inc(), [lit(1i64)])])),
            (
                "d",
                Task::call(
                    &add(),
                    [lit(1i64), call(&inc(), [call(&inc(), [lit(1i64)])])],
                ),
            ),
        ]),
    );

    let d = graph(vec![
        ("x", Task::literal(1i64)),
        ("y", Task::call(&inc(), [key("x")])),
        ("z", Task::call(&add(), [key("x"), key("y")])),
    ]);
    assert_same(
        &inline(&d, &[], true).unwrap(),
        &graph(vec![
            ("x", Task::literal(1i64)),
            ("y", Task::call(&inc(), [lit(1i64)])),
            ("z", Task::call(&add(), [lit(1i64), key("y")])),
        ]),
    );
    assert_same(
        &inline(&d, &[Key::new("y")], true).unwrap(),
        &graph(vec![
            ("x", Task::literal(1i64)),
            ("y", Task::call(&inc(), [lit(1i64)])),
            (
                "z",
                Task::call(&add(), [lit(1i64), call(&inc(), [lit(1i64)])]),
            ),
        ]),
    );
    assert_same(
        &inline(&d, &[Key::new("y")], false).unwrap(),
        &graph(vec![
            ("x", Task::literal(1i64)),
            ("y", Task::call(&inc(), [key("x")])),
            (
                "z",
                Task::call(&add(), [key("x"), call(&inc(), [key("x")])]),
            ),
        ]),
    );
}

#[test]
fn inline_through_aliases_and_lists() {
    let d = graph(vec![
        ("a", Task::literal(1i64)),
        ("b", Task::alias("a")),
        ("c", Task::alias("b")),
        (
            "d",
            Task::call(&pack(), [list([key("a"), key("b"), key("c")])]),
        ),
        (
            "e",
            Task::call(&add(), [call(&len(), [key("d")]), key("a")]),
        ),
    ]);
    let ones = || list([lit(1i64), lit(1i64), lit(1i64)]);
    assert_same(
        &inline(&d, &[Key::new("d")], true).unwrap(),
        &graph(vec![
            ("a", Task::literal(1i64)),
            ("b", Task::literal(1i64)),
            ("c", Task::literal(1i64)),
            ("d", Task::call(&pack(), [ones()])),
            (
                "e",
                Task::call(&add(), [call(&len(), [call(&pack(), [ones()])]), lit(1i64)]),
            ),
        ]),
    );
    assert_same(
        &inline(&d, &[Key::new("a")], false).unwrap(),
        &graph(vec![
            ("a", Task::literal(1i64)),
            ("b", Task::literal(1i64)),
            ("c", Task::alias("b")),
            (
                "d",
                Task::call(&pack(), [list([lit(1i64), key("b"), key("c")])]),
            ),
            (
                "e",
                Task::call(&add(), [call(&len(), [key("d")]), lit(1i64)]),
            ),
        ]),
    );
    // Inlining keeps the meaning: both graphs compute the same 'e'.
    let inlined = inline(&d, &[Key::new("d")], true).unwrap();
    let before = barrow_core::reference::get(&d, &[Key::new("e")]).unwrap();
    let after = barrow_core::reference::get(&inlined, &[Key::new("e")]).unwrap();
    assert_eq!(
        before[0].downcast_ref::<i64>().unwrap(),
        after[0].downcast_ref::<i64>().unwrap()
    );
}

#[test]
fn inline_functions_inlines_fast_calls() {
    let d = graph(vec![
        ("out", Task::call(&add(), [key("i"), key("d")])),
        ("i", Task::call(&inc(), [key("x")])),
        ("d", Task::call(&double(), [key("y")])),
        ("x", Task::literal(1i64)),
        ("y", Task::literal(1i64)),
    ]);
    assert_same(
        &inline_functions(&d, &[], &["inc"]).unwrap(),
        &graph(vec![
            (
                "out",
                Task::call(&add(), [call(&inc(), [key("x")]), key("d")]),
            ),
            ("d", Task::call(&double(), [key("y")])),
            ("x", Task::literal(1i64)),
            ("y", Task::literal(1i64)),
        ]),
    );
}

#[test]
fn inline_functions_sees_through_partials() {
    let add_one = Func::partial("add", 1i64, |a: &i64, x: &i64| a + x).unwrap();
    let d = graph(vec![
        ("x", Task::literal(1i64)),
        ("y", Task::literal(2i64)),
        ("a", Task::call(&add_one, [key("x")])),
        ("b", Task::call(&inc(), [key("a")])),
    ]);
    let result = inline_functions(&d, &[], &["add"]).unwrap();
    assert!(!result.contains_key(&Key::new("a")));
    let b = result.get(&Key::new("b")).unwrap();
    assert!(
        b.same_as(&Task::call(&inc(), [call(&add_one, [key("x")])])),
        "{b}"
    );
}

#[test]
fn inline_functions_keeps_unread_and_output_tasks() {
    // A fast task nothing reads stays.
    let d = graph(vec![
        ("x", Task::call(&inc(), [key("y")])),
        ("y", Task::literal(1i64)),
    ]);
    assert_same(&inline_functions(&d, &[], &["inc"]).unwrap(), &d);

    // Inside lists too.
    let sum = Func::new("sum", |xs: List<i64>| xs.iter().sum::<i64>());
    let d = graph(vec![
        ("out", Task::call(&sum, [list([key("i"), key("d")])])),
        ("i", Task::call(&inc(), [key("x")])),
        ("d", Task::call(&double(), [key("y")])),
        ("x", Task::literal(1i64)),
        ("y", Task::literal(1i64)),
    ]);
    assert_same(
        &inline_functions(&d, &[], &["inc"]).unwrap(),
        &graph(vec![
            (
                "out",
                Task::call(&sum, [list([call(&inc(), [key("x")]), key("d")])]),
            ),
            ("d", Task::call(&double(), [key("y")])),
            ("x", Task::literal(1i64)),
            ("y", Task::literal(1i64)),
        ]),
    );

    // Output keys are protected.
    let d = graph(vec![
        ("x", Task::call(&inc(), [lit(1i64)])),
        ("y", Task::call(&double(), [key("x")])),
    ]);
    assert_same(
        &inline_functions(&d, &[], &["inc"]).unwrap(),
        &graph(vec![(
            "y",
            Task::call(&double(), [call(&inc(), [lit(1i64)])]),
        )]),
    );
    assert_same(
        &inline_functions(&d, &[Key::new("x")], &["inc"]).unwrap(),
        &d,
    );
}

#[test]
fn an_error_inside_a_fused_chain_names_the_task_that_failed() {
    let parse = Func::try_new("parse", |s: &String| s.parse::<i64>());
    let d = graph(vec![
        ("text", Task::literal(String::from("x1"))),
        ("number", Task::call(&parse, [key("text")])),
        ("next", Task::call(&inc(), [key("number")])),
        ("last", Task::call(&inc(), [key("next")])),
    ]);
    let fused = fuse_linear(&d, &[Key::new("last")]).unwrap();
    assert_eq!(fused.len(), 1, "the whole chain is one task");
    let err = barrow_core::reference::get(&fused, &[Key::new("last")]).unwrap_err();
    assert_eq!(err.key(), Some(&Key::new("number")));
    assert_eq!(err.function(), Some("parse"));
    assert!(
        err.to_string()
            .starts_with("task number (function 'parse') failed"),
        "{err}"
    );
}
