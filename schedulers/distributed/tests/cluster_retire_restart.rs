//! Retiring workers and restarting the cluster, on a real cluster (in
//! this process, validation on): retired workers' values are copied to
//! the others before they close, so nothing is lost or computed again; a
//! restart forgets everything, cancels every future, and the workers come
//! back.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::time::Duration;

use barrow_core::arg::{key, lit};
use barrow_core::testing::functions::{add, inc};
use barrow_core::{ErrorKind, Graph, Task};
use barrow_distributed::FutureStatus;
use support::{TestCluster, wait_until, within};

#[test]
fn a_retired_worker_s_values_move_to_the_others_before_it_closes() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(3, 1);
        let client = &test.client;
        // Values only local-2 holds: scattered there, and computed from them.
        let scattered = client
            .scatter_to([1i64, 2, 3, 4], false, &["local-2"])
            .unwrap();
        let computed: Vec<_> = scattered
            .iter()
            .map(|f| client.submit::<i64>(&inc(), [f.into()]).unwrap())
            .collect();
        client.wait(&computed, None).unwrap();
        let retired = client.retire_workers(&["local-2"]).unwrap();
        assert_eq!(retired, ["local-2"]);
        assert_eq!(test.worker_names(), ["local-0", "local-1"]);
        // Everything is still there: a scattered value cannot be computed
        // again, so it was copied; and nothing ran again.
        assert_eq!(client.gather(&scattered).unwrap(), [1, 2, 3, 4]);
        assert_eq!(client.gather(&computed).unwrap(), [2, 3, 4, 5]);
        for (key, holders) in client.who_has(&scattered).unwrap() {
            assert!(!holders.is_empty(), "{key} has a holder");
        }
        for future in &computed {
            let runs = test
                .cluster
                .scheduler()
                .story(future.key())
                .iter()
                .filter(|r| r.to == Some(barrow_distributed::scheduler::State::Processing))
                .count();
            assert_eq!(runs, 1, "{} was computed once", future.key());
        }
        // The rest of the cluster computes on.
        let more = client
            .submit::<i64>(&add(), [(&computed[0]).into(), lit(10i64)])
            .unwrap();
        assert_eq!(more.result().unwrap(), 12);
        test.cluster.scheduler().validate().unwrap();
    });
}

#[test]
fn retiring_an_unknown_worker_or_every_worker_holding_values_is_refused() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(2, 1);
        let client = &test.client;
        let err = client.retire_workers(&["nobody"]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("'nobody'"), "{text}");
        assert!(
            text.contains("local-0, local-1") || text.contains("local-1, local-0"),
            "{text}"
        );
        let held = client.scatter_to([5i64], false, &["local-0"]).unwrap();
        let err = client.retire_workers(&["local-0", "local-1"]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("would lose 1 values"), "{text}");
        assert!(text.contains("start another worker first"), "{text}");
        // Refused means untouched: both still run, the value is there.
        assert_eq!(test.worker_names(), ["local-0", "local-1"]);
        assert_eq!(client.gather(&held).unwrap(), [5]);
        // With nothing held, every worker may go.
        drop(held);
        wait_until(
            Duration::from_secs(5),
            || {
                let held = client.has_what().unwrap();
                held.iter().all(|(_, keys)| keys.is_empty()).then_some(())
            },
            || "the released value stayed on its worker".to_owned(),
        );
        let retired = client.retire_workers(&["local-0", "local-1"]).unwrap();
        assert_eq!(retired.len(), 2);
        assert!(test.worker_names().is_empty());
    });
}

#[test]
fn a_restart_cancels_every_future_and_the_workers_come_back() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(2, 1);
        let client = &test.client;
        let other = test.cluster.new_client().unwrap();
        let done = client.submit::<i64>(&inc(), [lit(1i64)]).unwrap();
        assert_eq!(done.result().unwrap(), 2);
        let theirs = other.scatter([9i64], false).unwrap();
        let back = client.restart().unwrap();
        assert_eq!(back.len(), 2, "{back:?}");
        assert_eq!(test.worker_names(), ["local-0", "local-1"]);
        for status in [done.status(), theirs[0].status()] {
            assert_eq!(status, FutureStatus::Cancelled);
        }
        let err = done.result().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled);
        assert!(err.to_string().contains("restarted"), "{err}");
        assert_eq!(test.cluster.scheduler().task_count(), 0);
        // The same keys compute again from scratch.
        let graph = Graph::from_tasks([
            ("a", Task::call(&inc(), [lit(1i64)])),
            ("b", Task::call(&add(), [key("a"), lit(1i64)])),
        ])
        .unwrap();
        let out = barrow_core::compute_with(
            barrow_core::collection::GraphKeys::new(graph, ["b"]),
            &barrow_core::Options::new().scheduler(client),
        )
        .unwrap();
        assert_eq!(*out[0].downcast_ref::<i64>().unwrap(), 3);
        test.cluster.scheduler().validate().unwrap();
    });
}
