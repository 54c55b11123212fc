//! The client's API, ported from Dask's `test_client.py` behaviours:
//! futures and chains of them, scatter/gather/broadcast, cancel,
//! `as_completed`, persist then compute, a client that leaves releases
//! its keys, two clients sharing a cluster and a published dataset.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::time::Duration;

use barrow_core::arg::{key, lit};
use barrow_core::collection::GraphKeys;
use barrow_core::testing::functions::{add, inc, sum};
use barrow_core::{ErrorKind, Graph, Options, Task, compute_with};
use barrow_distributed::{FutureStatus, as_completed};
use support::{TestCluster, wait_until, within};

/// Sleeps `ms` milliseconds, then gives them back.
#[barrow_core::task(name = "tests.distributed.sleep")]
fn sleep_ms(ms: &u64) -> u64 {
    std::thread::sleep(Duration::from_millis(*ms));
    *ms
}

/// Waits until the scheduler knows no task (everything released).
fn wait_until_empty(test: &TestCluster) {
    wait_until(
        Duration::from_secs(10),
        || (test.cluster.scheduler().task_count() == 0).then_some(()),
        || format!("the scheduler still holds tasks: {}", test.dump()),
    );
}

#[test]
fn futures_chain_into_later_tasks() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(2, 1);
        let client = &test.client;
        let a = client.submit::<i64>(&inc(), [lit(1i64)]).unwrap();
        let b = client.submit::<i64>(&inc(), [(&a).into()]).unwrap();
        let c = client
            .submit::<i64>(&add(), [(&a).into(), (&b).into()])
            .unwrap();
        assert_eq!(c.result().unwrap(), 5);
        assert_eq!((a.result().unwrap(), b.result().unwrap()), (2, 3));
        assert_eq!(c.status(), FutureStatus::Finished);
        // map: one submission, many futures.
        let squares = client
            .map::<i64>(&inc(), (0..10i64).map(|i| vec![lit(i)]))
            .unwrap();
        assert_eq!(
            client.gather(&squares).unwrap(),
            (1..=10).collect::<Vec<_>>()
        );
        drop((a, b, c, squares));
        wait_until_empty(&test);
    });
}

#[test]
fn futures_feed_graphs_and_are_collections() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(2, 1);
        let client = &test.client;
        let x = client.submit::<i64>(&inc(), [lit(41i64)]).unwrap();
        // A graph reading the future's key (with the future's own graph
        // merged in), computed on the cluster: the value is read where it
        // is, not sent back and forth.
        let mut graph =
            Graph::from_tasks([("y", Task::call(&add(), [(&x).into(), lit(1i64)]))]).unwrap();
        graph.merge(&x.graph()).unwrap();
        let y = compute_with(
            GraphKeys::new(graph, ["y"]),
            &Options::new().scheduler(client),
        )
        .unwrap();
        assert_eq!(*y[0].downcast_ref::<i64>().unwrap(), 43);
        // A future is a collection: computing it on the cluster gathers
        // it, computing it here fetches it.
        assert_eq!(client.compute(&x).unwrap(), 42);
        assert_eq!(
            compute_with(&x, &Options::new().scheduler("sync")).unwrap(),
            42
        );
    });
}

#[test]
fn scatter_gather_and_broadcast() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(3, 1);
        let client = &test.client;
        let values = client.scatter([1i64, 2, 3], false).unwrap();
        assert_eq!(client.gather(&values).unwrap(), [1, 2, 3]);
        // The same bytes, the same key.
        let again = client.scatter([2i64], false).unwrap();
        assert_eq!(again[0].key(), values[1].key());
        let total = client
            .submit::<i64>(
                &sum(),
                [barrow_core::arg::list(values.iter().map(Into::into))],
            )
            .unwrap();
        assert_eq!(total.result().unwrap(), 6);
        let everywhere = client.scatter([vec![1.5f64; 100]], true).unwrap();
        let holders = client.who_has(&everywhere).unwrap();
        assert_eq!(holders[0].1.len(), 3, "broadcast to every worker");
        let info = client.scheduler_info().unwrap();
        assert_eq!(info.workers.len(), 3);
        let has_what = client.has_what().unwrap();
        assert!(
            has_what
                .iter()
                .all(|(_, keys)| keys.contains(everywhere[0].key()))
        );
    });
}

#[test]
fn a_scatter_to_named_workers_stays_there() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(2, 1);
        let client = &test.client;
        let one = client.scatter_to([7i64], false, &["local-1"]).unwrap();
        let holders = client.who_has(&one).unwrap();
        let info = client.scheduler_info().unwrap();
        let local1 = info
            .workers
            .iter()
            .find(|w| w.summary.name == "local-1")
            .unwrap();
        assert_eq!(holders[0].1, std::slice::from_ref(&local1.summary.address));
        let err = client.scatter_to([1i64], false, &["nobody"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("no worker of the cluster is named nobody"),
            "{err}"
        );
    });
}

#[test]
fn cancel_stops_a_future_and_its_result_says_so() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(1, 1);
        let client = &test.client;
        let busy = client
            .submit::<u64>(&sleep_ms::func(), [lit(300u64)])
            .unwrap();
        let waiting = client
            .submit::<u64>(&sleep_ms::func(), [lit(1u64)])
            .unwrap();
        client.cancel(std::slice::from_ref(&waiting)).unwrap();
        assert!(waiting.wait(Some(Duration::from_secs(5))).unwrap());
        assert_eq!(waiting.status(), FutureStatus::Cancelled);
        let err = waiting.result().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled);
        assert_eq!(err.key(), Some(waiting.key()));
        assert_eq!(busy.result().unwrap(), 300);
    });
}

#[test]
fn as_completed_yields_futures_as_they_finish() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(3, 1);
        let client = &test.client;
        let futures: Vec<_> = [200u64, 1, 80]
            .iter()
            .map(|ms| client.submit::<u64>(&sleep_ms::func(), [lit(*ms)]).unwrap())
            .collect();
        let order: Vec<u64> = as_completed(futures).map(|f| f.result().unwrap()).collect();
        assert_eq!(order, [1, 80, 200]);
        assert!(
            client
                .wait(&[] as &[barrow_distributed::Future<u64>], None)
                .unwrap()
        );
    });
}

#[test]
fn persist_then_compute_starts_from_the_results() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(2, 1);
        let client = &test.client;
        let graph = Graph::from_tasks([
            ("x", Task::literal(1i64)),
            ("y", Task::call(&inc(), [key("x")])),
            ("z", Task::call(&add(), [key("y"), key("y")])),
        ])
        .unwrap();
        let persisted = client.persist(&GraphKeys::new(graph, ["z"])).unwrap();
        // The persisted graph holds one task standing for the result.
        assert_eq!(persisted.graph_ref().len(), 1);
        let on_cluster = compute_with(&persisted, &Options::new().scheduler(client)).unwrap();
        assert_eq!(*on_cluster[0].downcast_ref::<i64>().unwrap(), 4);
        // Locally, the task fetches it.
        let here = compute_with(&persisted, &Options::new().scheduler("sync")).unwrap();
        assert_eq!(*here[0].downcast_ref::<i64>().unwrap(), 4);
        // Something built on it reads it where it is.
        let more = Graph::from_tasks([("w", Task::call(&inc(), [key("z")]))]).unwrap();
        let mut merged = persisted.graph_ref().clone();
        merged.merge(&more).unwrap();
        let w = compute_with(
            GraphKeys::new(merged, ["w"]),
            &Options::new().scheduler(client),
        )
        .unwrap();
        assert_eq!(*w[0].downcast_ref::<i64>().unwrap(), 5);
        assert!(test.cluster.scheduler().task_count() > 0);
        drop(persisted);
        wait_until_empty(&test);
    });
}

#[test]
fn a_client_that_leaves_releases_what_it_held() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(2, 1);
        let other = test.cluster.new_client().unwrap();
        let kept = other.scatter([1i64, 2], false).unwrap();
        let computed = other.submit::<i64>(&inc(), [(&kept[0]).into()]).unwrap();
        assert_eq!(computed.result().unwrap(), 2);
        assert!(test.cluster.scheduler().task_count() >= 3);
        // The futures keep the connection open; dropping them and the
        // client closes it, and the scheduler forgets their keys.
        drop((kept, computed, other));
        wait_until_empty(&test);
    });
}

#[test]
fn two_clients_share_work_and_a_published_dataset() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(2, 1);
        let first = &test.client;
        let second = test.cluster.new_client().unwrap();
        let graph = Graph::from_tasks([
            ("shared-x", Task::literal(10i64)),
            ("shared-y", Task::call(&inc(), [key("shared-x")])),
        ])
        .unwrap();
        let target = GraphKeys::new(graph, ["shared-y"]);
        let a = compute_with(&target, &Options::new().scheduler(first)).unwrap();
        let b = compute_with(&target, &Options::new().scheduler(&second)).unwrap();
        assert_eq!(*a[0].downcast_ref::<i64>().unwrap(), 11);
        assert_eq!(*b[0].downcast_ref::<i64>().unwrap(), 11);

        let values = first.scatter([5i64, 6], false).unwrap();
        first.publish_dataset("numbers", &values).unwrap();
        let err = first.publish_dataset("numbers", &values).unwrap_err();
        assert!(err.to_string().contains("already published"), "{err}");
        drop(values);
        assert_eq!(second.list_datasets().unwrap(), ["numbers"]);
        let got = second.get_dataset::<i64>("numbers").unwrap();
        assert_eq!(second.gather(&got).unwrap(), [5, 6]);
        first.unpublish_dataset("numbers").unwrap();
        assert!(second.get_dataset::<i64>("numbers").is_err());
        // The second client still holds the values.
        assert_eq!(second.gather(&got).unwrap(), [5, 6]);
    });
}

#[test]
fn a_client_is_the_default_scheduler_for_a_block() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(1, 1);
        let graph = Graph::from_tasks([("v", Task::call(&inc(), [lit(1i64)]))]).unwrap();
        let target = GraphKeys::new(graph, ["v"]);
        let _guard = test.client.as_default();
        let out = barrow_core::compute(&target).unwrap();
        assert_eq!(*out[0].downcast_ref::<i64>().unwrap(), 2);
    });
}
