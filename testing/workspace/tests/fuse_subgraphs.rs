//! `optimization.fuse.subgraphs`: chains that fusing cannot merge into one
//! expression become one subgraph task. A subgraph is a function object of
//! the process that holds the graph, so it runs on the local threads and
//! is refused, before anything runs, where tasks travel by name.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use barrow::arg::key;
use barrow::collection::GraphKeys;
use barrow::{ErrorKind, Graph, Options, Task, compute_with};
use barrow_core::testing::functions::add;
use barrow_core::testing::{RecordedEvent, Recorder};

barrow::processes::worker_entry!();

/// x0 = 1; x(i+1) = x(i) + x(i): each step reads the one before twice, so
/// fusing cannot inline it into one expression.
fn doubling_chain(steps: usize) -> Graph {
    let mut graph = Graph::new();
    graph.insert("x0", Task::literal(1i64)).unwrap();
    for i in 0..steps {
        let previous = format!("x{i}");
        let task = Task::call(&add(), [key(previous.as_str()), key(previous.as_str())]);
        graph.insert(format!("x{}", i + 1), task).unwrap();
    }
    graph
}

fn with_subgraphs(scheduler: &str) -> Options {
    Options::new()
        .scheduler(scheduler)
        .num_workers(2)
        .set("optimization.fuse.subgraphs", true)
}

#[test]
fn a_subgraph_runs_locally_as_one_task() {
    for scheduler in ["sync", "threads"] {
        let recorder = Recorder::new();
        let options = with_subgraphs(scheduler).callback(recorder.clone());
        let got = compute_with(GraphKeys::new(doubling_chain(5), ["x5"]), &options).unwrap();
        assert_eq!(*got[0].downcast_ref::<i64>().unwrap(), 32, "{scheduler}");
        let started = recorder
            .events()
            .iter()
            .filter(|e| matches!(e, RecordedEvent::Pretask(_)))
            .count();
        assert!(
            started < 6,
            "{scheduler}: the chain ran fused, in {started} tasks"
        );
    }
}

#[test]
fn processes_refuse_a_subgraph_before_anything_runs() {
    let err = compute_with(
        GraphKeys::new(doubling_chain(5), ["x5"]),
        &with_subgraphs("processes"),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotShippable, "{err}");
    assert!(err.to_string().contains("x5"), "names the task: {err}");
    // The same graph without subgraphs runs there.
    let plain = Options::new().scheduler("processes").num_workers(2);
    let got = compute_with(GraphKeys::new(doubling_chain(5), ["x5"]), &plain).unwrap();
    assert_eq!(*got[0].downcast_ref::<i64>().unwrap(), 32);
}

#[test]
fn a_cluster_refuses_a_subgraph_before_anything_runs() {
    use barrow::distributed::LocalCluster;
    let cluster = LocalCluster::new()
        .workers(1)
        .threads_per_worker(1)
        .processes(false)
        .start()
        .unwrap();
    let client = cluster.client().unwrap();
    let recorder = Recorder::new();
    let options = Options::new()
        .scheduler_object(std::sync::Arc::new(client.clone()))
        .set("optimization.fuse.subgraphs", true)
        .callback(recorder.clone());
    let err = compute_with(GraphKeys::new(doubling_chain(5), ["x5"]), &options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotShippable, "{err}");
    assert!(err.to_string().contains("x5"), "names the task: {err}");
    assert!(
        !recorder
            .events()
            .iter()
            .any(|e| matches!(e, RecordedEvent::Pretask(_))),
        "nothing ran"
    );
    let plain = Options::new().scheduler_object(std::sync::Arc::new(client));
    let got = compute_with(GraphKeys::new(doubling_chain(5), ["x5"]), &plain).unwrap();
    assert_eq!(*got[0].downcast_ref::<i64>().unwrap(), 32);
}
