//! A plugin's scheduler, chosen by configuration like a built-in one.

use barrow_core::arg::{key, lit};
use barrow_core::collection::GraphKeys;
use barrow_core::{ErrorKind, Func, Graph, Options, Task, compute_with};

use crate::support::library;

fn options() -> Options {
    Options::new()
        .set(
            "plugins.load",
            vec![library("barrow-example-scheduler").display().to_string()],
        )
        .set("scheduler", "lifo")
}

#[test]
fn a_plugin_scheduler_runs_a_graph_chosen_by_name() {
    let add = Func::new("add", |a: &i64, b: &i64| a + b);
    let mut tasks = vec![("x0".to_string(), Task::literal(1i64))];
    for i in 1..200 {
        tasks.push((
            format!("x{i}"),
            Task::call(&add, [key(format!("x{}", i - 1)), lit(i as i64)]),
        ));
    }
    let graph = Graph::from_tasks(tasks).unwrap();
    let out = compute_with(GraphKeys::new(graph, ["x199", "x10"]), &options()).unwrap();
    assert_eq!(
        *out[0].downcast_ref::<i64>().unwrap(),
        1 + (1..200).sum::<i64>()
    );
    assert_eq!(
        *out[1].downcast_ref::<i64>().unwrap(),
        1 + (1..=10).sum::<i64>()
    );
}

#[test]
fn a_task_error_under_a_plugin_scheduler_names_its_key() {
    let fail = Func::try_new("fail", |_: &i64| -> barrow_core::Result<i64> {
        Err(barrow_core::Error::new(
            ErrorKind::InvalidArgument,
            "no good",
        ))
    });
    let graph = Graph::from_tasks([
        ("a", Task::literal(1i64)),
        ("b", Task::call(&fail, [key("a")])),
    ])
    .unwrap();
    let err = compute_with(GraphKeys::new(graph, ["b"]), &options()).unwrap_err();
    assert!(err.to_string().contains("no good"), "{err}");
    assert_eq!(
        err.key().map(|k| k.to_string()),
        Some("b".to_string()),
        "{err}"
    );
}

#[test]
fn an_unloaded_scheduler_name_is_unknown() {
    let graph = Graph::from_tasks([("a", Task::literal(1i64))]).unwrap();
    let err = compute_with(
        GraphKeys::new(graph, ["a"]),
        &Options::new().scheduler("lifo-nope"),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownScheduler, "{err}");
}
