//! Faults injected into a real cluster (in this process, validation on):
//! a transfer that hangs, a worker killed while a peer fetches from it, a
//! worker that falls silent, and a worker that comes back at the same
//! address. Each ends with the right results and a consistent scheduler.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use barrow_core::Annotations;
use barrow_core::arg::lit;
use barrow_core::testing::functions::{add, inc};
use barrow_distributed::{Faults, LocalCluster, WorkerOptions};
use support::{TestCluster, wait_until, within};

fn on(worker: &str) -> Annotations {
    Annotations::new().workers([worker])
}

/// A cluster of two one-thread workers, `local-0` with `faults`.
fn with_faults(faults: &Arc<Faults>, config: &[(&str, &str)]) -> TestCluster {
    let config = barrow_core::config::snapshot()
        .unwrap()
        .with_options(config.iter().copied())
        .unwrap();
    TestCluster::from(
        LocalCluster::new()
            .workers(2)
            .threads_per_worker(1)
            .processes(false)
            .faults(0, faults.clone())
            .config(config),
    )
}

/// Waits until `key` is processing somewhere.
fn processing(test: &TestCluster, key: &barrow_core::Key) {
    let key = key.clone();
    wait_until(
        Duration::from_secs(5),
        || {
            let state = test.cluster.scheduler().state_of(&key);
            (state == Some(barrow_distributed::scheduler::State::Processing)).then_some(())
        },
        || {
            format!(
                "{key} never started:\n{}",
                test.cluster.scheduler().unfinished_report(10)
            )
        },
    );
}

#[test]
fn a_blocked_transfer_holds_its_task_until_it_is_unblocked() {
    within(Duration::from_secs(20), || {
        let faults = Arc::new(Faults::default());
        let test = with_faults(&faults, &[]);
        let client = &test.client;
        let a = client
            .submit_with::<i64>(&inc(), [lit(1i64)], on("local-0"))
            .unwrap();
        assert_eq!(a.result().unwrap(), 2);
        faults.block_transfers(true);
        let b = client
            .submit_with::<i64>(&add(), [(&a).into(), lit(10i64)], on("local-1"))
            .unwrap();
        processing(&test, b.key());
        assert!(
            !b.wait(Some(Duration::from_millis(200))).unwrap(),
            "its input cannot arrive"
        );
        faults.block_transfers(false);
        assert_eq!(b.result().unwrap(), 12);
    });
}

#[test]
fn a_worker_killed_while_a_peer_fetches_from_it_has_its_value_computed_again() {
    within(Duration::from_secs(20), || {
        let faults = Arc::new(Faults::default());
        let test = with_faults(&faults, &[]);
        let client = &test.client;
        // `a` may be computed again anywhere; `b` runs on local-1.
        let a = client
            .submit_with::<i64>(&inc(), [lit(1i64)], on("local-0").allow_other_workers(true))
            .unwrap();
        assert_eq!(a.result().unwrap(), 2);
        faults.block_transfers(true);
        let b = client
            .submit_with::<i64>(&add(), [(&a).into(), lit(10i64)], on("local-1"))
            .unwrap();
        processing(&test, b.key());
        // local-1 is fetching `a` from local-0 when local-0 dies.
        faults.kill();
        assert_eq!(b.result().unwrap(), 12);
        assert_eq!(a.result().unwrap(), 2);
        let workers = client.scheduler_info().unwrap().workers;
        assert_eq!(workers.len(), 1);
        assert_eq!(workers[0].summary.name, "local-1");
    });
}

#[test]
fn a_silent_worker_is_removed_after_its_time_to_live_and_comes_back() {
    within(Duration::from_secs(20), || {
        let faults = Arc::new(Faults::default());
        let test = with_faults(
            &faults,
            &[
                ("distributed.worker.heartbeat-interval", "20ms"),
                ("distributed.scheduler.worker-ttl", "300ms"),
            ],
        );
        let client = &test.client;
        let before = client.scheduler_info().unwrap().workers;
        let old_id = before
            .iter()
            .find(|w| w.summary.name == "local-0")
            .unwrap()
            .summary
            .id;
        faults.silence(true);
        // Work meant for it runs elsewhere once the scheduler gives up on it.
        let f = client
            .submit_with::<i64>(&inc(), [lit(5i64)], on("local-0").allow_other_workers(true))
            .unwrap();
        wait_until(
            Duration::from_secs(5),
            || {
                let names: Vec<String> = client
                    .scheduler_info()
                    .unwrap()
                    .workers
                    .into_iter()
                    .filter(|w| w.summary.id == old_id)
                    .map(|w| w.summary.name)
                    .collect();
                names.is_empty().then_some(())
            },
            || "the silent worker stayed".to_owned(),
        );
        assert_eq!(f.result().unwrap(), 6);
        // Told to restart, it joins again (with a new id) once it speaks.
        faults.silence(false);
        wait_until(
            Duration::from_secs(5),
            || {
                let workers = client.scheduler_info().unwrap().workers;
                workers
                    .iter()
                    .any(|w| w.summary.name == "local-0" && w.summary.id != old_id)
                    .then_some(())
            },
            || "local-0 did not come back".to_owned(),
        );
        let g = client
            .submit_with::<i64>(&inc(), [lit(7i64)], on("local-0"))
            .unwrap();
        assert_eq!(g.result().unwrap(), 8);
    });
}

#[test]
fn a_worker_back_at_the_same_address_is_a_new_worker() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(1, 1);
        let client = &test.client;
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let start = |faults: &Arc<Faults>| {
            let options = WorkerOptions::new(test.cluster.address().parse().unwrap())
                .name("again")
                .nthreads(1)
                .host("127.0.0.1")
                .port(port)
                .token(test.cluster.token())
                .faults(faults.clone());
            std::thread::spawn(move || barrow_distributed::run_worker(Some(options)))
        };
        let count = |n: usize| {
            wait_until(
                Duration::from_secs(5),
                || (client.scheduler_info().unwrap().workers.len() == n).then_some(()),
                || format!("not {n} workers"),
            )
        };
        let first = Arc::new(Faults::default());
        let running = start(&first);
        count(2);
        let a = client
            .submit_with::<i64>(&inc(), [lit(1i64)], on("again"))
            .unwrap();
        assert_eq!(a.result().unwrap(), 2);
        let held = client.scatter_to([40i64], false, &["again"]).unwrap();
        first.kill();
        let _ = running.join();
        count(1);
        // The same name at the same address, a new process as far as the
        // cluster can tell.
        let second = Arc::new(Faults::default());
        let again = start(&second);
        count(2);
        let address = format!("tcp://127.0.0.1:{port}");
        let info = client.scheduler_info().unwrap();
        assert!(info.workers.iter().any(|w| w.summary.address == address));
        // What the first held is gone: computed again, or lost if scattered.
        assert!(held[0].result().is_err());
        let b = client
            .submit_with::<i64>(&add(), [(&a).into(), lit(1i64)], on("local-0"))
            .unwrap();
        assert_eq!(b.result().unwrap(), 3);
        let c = client
            .submit_with::<i64>(&inc(), [(&b).into()], on("again"))
            .unwrap();
        assert_eq!(
            c.result().unwrap(),
            4,
            "local-0's value fetched by the new worker"
        );
        client.retire_workers(&["again"]).unwrap();
        let _ = again.join();
    });
}
