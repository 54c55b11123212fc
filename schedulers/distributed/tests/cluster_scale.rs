//! Scaling a cluster by hand and adaptively (Dask's `cluster.scale(n)` and
//! `cluster.adapt(minimum, maximum)`), on a LocalCluster: the workers come
//! and go, and nothing computed is lost on the way down.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::time::Duration;

use barrow_core::ErrorKind;
use barrow_core::arg::lit;
use barrow_core::testing::functions::inc;
use barrow_distributed::{AdaptOptions, LocalCluster};
use support::{TestCluster, wait_until, within};

barrow_processes::worker_entry!();

#[barrow_core::task(name = "tests.scale.sleep")]
fn sleep_ms(ms: &u64) -> u64 {
    std::thread::sleep(Duration::from_millis(*ms));
    *ms
}

#[test]
fn scale_up_then_down_keeps_every_value() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(1, 1);
        test.cluster.scale(3).unwrap();
        test.cluster
            .wait_for_workers(3, Duration::from_secs(10))
            .unwrap();
        assert_eq!(test.worker_names(), ["local-0", "local-1", "local-2"]);
        // Values spread over the three workers.
        let futures: Vec<_> = (0..12i64)
            .map(|i| test.client.submit::<i64>(&inc(), [lit(i)]).unwrap())
            .collect();
        test.client.wait(&futures, None).unwrap();
        test.cluster.scale(1).unwrap();
        assert_eq!(test.cluster.worker_count(), 1);
        assert_eq!(test.worker_names().len(), 1);
        // Retired, not killed: every value was copied to the one left.
        assert_eq!(
            test.client.gather(&futures).unwrap(),
            (1..=12).collect::<Vec<i64>>()
        );
        // And up again: the new worker gets a new name.
        test.cluster.scale(2).unwrap();
        test.cluster
            .wait_for_workers(2, Duration::from_secs(10))
            .unwrap();
        let names = test.worker_names();
        assert_eq!(names.len(), 2);
        assert!(names.contains(&"local-3".to_owned()), "{names:?}");
    });
}

#[test]
fn scale_to_zero_leaves_no_worker_and_the_cluster_can_grow_again() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(2, 1);
        test.cluster.scale(0).unwrap();
        assert_eq!(test.cluster.worker_count(), 0);
        wait_until(
            Duration::from_secs(5),
            || test.worker_names().is_empty().then_some(()),
            || format!("workers still joined: {:?}", test.worker_names()),
        );
        test.cluster.scale(1).unwrap();
        let f = test.client.submit::<i64>(&inc(), [lit(1i64)]).unwrap();
        assert_eq!(f.result().unwrap(), 2);
    });
}

#[test]
fn adapt_grows_for_a_backlog_and_shrinks_when_idle() {
    within(Duration::from_secs(30), || {
        let test = TestCluster::new(1, 1);
        let options = AdaptOptions {
            minimum: 1,
            maximum: 4,
            interval: Duration::from_millis(50),
            target_duration: Duration::from_millis(200),
            wait_count: 2,
        };
        test.cluster.adapt_with(options.clone()).unwrap();
        assert_eq!(test.cluster.adapting(), Some(options));
        // Two seconds of work on one thread: the scheduler asks for more.
        let futures: Vec<_> = (0..40u64)
            .map(|i| {
                test.client
                    .submit::<u64>(&sleep_ms::func(), [lit(50 + i % 2)])
                    .unwrap()
            })
            .collect();
        wait_until(
            Duration::from_secs(10),
            || (test.worker_names().len() >= 3).then_some(()),
            || format!("only {:?} joined", test.worker_names()),
        );
        assert!(test.cluster.worker_count() <= 4, "never past the maximum");
        test.client.wait(&futures, None).unwrap();
        drop(futures);
        // Idle: back to the minimum.
        wait_until(
            Duration::from_secs(10),
            || (test.cluster.worker_count() == 1).then_some(()),
            || format!("still {} workers", test.cluster.worker_count()),
        );
        // A scale by hand ends adapting.
        test.cluster.scale(2).unwrap();
        assert_eq!(test.cluster.adapting(), None);
    });
}

#[test]
fn adapt_refuses_a_minimum_above_its_maximum() {
    let test = TestCluster::new(1, 1);
    let error = test.cluster.adapt(3, 2).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument);
    assert!(
        error.to_string().contains("minimum 3, maximum 2"),
        "{error}"
    );
}

#[test]
fn worker_processes_scale_too() {
    within(Duration::from_secs(30), || {
        let cluster = LocalCluster::new()
            .workers(1)
            .threads_per_worker(1)
            .start_timeout(Duration::from_secs(20))
            .start()
            .unwrap();
        cluster.scale(2).unwrap();
        cluster
            .wait_for_workers(2, Duration::from_secs(20))
            .unwrap();
        let pids = [0, 1].map(|i| cluster.worker_pid(i).expect("a process"));
        let client = cluster.client().unwrap();
        let f = client.submit::<i64>(&inc(), [lit(1i64)]).unwrap();
        assert_eq!(f.result().unwrap(), 2);
        cluster.scale(1).unwrap();
        // The process of the closed worker is gone, not started again.
        let left = client.scheduler_info().unwrap().workers[0]
            .summary
            .name
            .clone();
        let closed = if left == "local-0" { 1 } else { 0 };
        let pid = pids[closed];
        let proc = std::path::PathBuf::from(format!("/proc/{pid}"));
        wait_until(
            Duration::from_secs(5),
            || (!proc.exists() || zombie(&proc)).then_some(()),
            || format!("worker process {pid} still runs"),
        );
        assert_eq!(cluster.worker_pid(closed), None);
        assert_eq!(cluster.worker_count(), 1);
        assert_eq!(f.result().unwrap(), 2);
    });
}

fn zombie(proc: &std::path::Path) -> bool {
    std::fs::read_to_string(proc.join("stat"))
        .map(|s| s.split_whitespace().nth(2) == Some("Z"))
        .unwrap_or(true)
}
