//! Where tasks run, ported from Dask's scheduler tests: a task goes where
//! its inputs are (`test_decide_worker`, "the sum runs on the worker that
//! has the data"); restrictions by worker and resource, and
//! `allow_other_workers` (`test_no_valid_workers_loose_restrictions`); a
//! restriction no worker meets fails with what it needs
//! (`test_no_workers_timeout_bad_restrictions`); root tasks wait on the
//! scheduler for free slots (`test_saturation_factor`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use barrow_core::arg::lit;
use barrow_core::testing::functions::inc;
use barrow_core::{Annotations, ErrorKind};
use barrow_distributed::{Client, LocalCluster};
use support::{TestCluster, wait_until, within};

/// The sum of a vector (a task function takes its argument's own type).
#[allow(
    clippy::ptr_arg,
    reason = "task arguments are borrowed as their value's type"
)]
#[barrow_core::task(name = "tests.placement.total")]
fn total(values: &Vec<f64>) -> f64 {
    values.iter().sum()
}

/// Sleeps `ms` milliseconds, then gives them back.
#[barrow_core::task(name = "tests.placement.sleep")]
fn sleep_ms(ms: &u64) -> u64 {
    std::thread::sleep(Duration::from_millis(*ms));
    *ms
}

static RUNNING: AtomicUsize = AtomicUsize::new(0);
static MOST: AtomicUsize = AtomicUsize::new(0);

/// Holds a "GPU" for a while, counting how many hold one at once (the
/// workers are in this process).
#[barrow_core::task(name = "tests.placement.on-gpu")]
fn on_gpu(ms: &u64) -> u64 {
    let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    MOST.fetch_max(now, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(*ms));
    RUNNING.fetch_sub(1, Ordering::SeqCst);
    *ms
}

fn address_of(client: &Client, name: &str) -> String {
    client
        .scheduler_info()
        .unwrap()
        .workers
        .into_iter()
        .find(|w| w.summary.name == name)
        .unwrap()
        .summary
        .address
}

#[test]
fn a_task_runs_where_its_input_is() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(3, 1);
        let client = &test.client;
        for worker in ["local-0", "local-1", "local-2"] {
            let data = client
                .scatter_to([vec![1.0f64; 1 << 16]], false, &[worker])
                .unwrap();
            let sum = client
                .submit::<f64>(&total::func(), [(&data[0]).into()])
                .unwrap();
            assert_eq!(sum.result().unwrap(), f64::from(1 << 16));
            let holders = client.who_has(&[sum]).unwrap();
            assert_eq!(holders[0].1, [address_of(client, worker)], "on {worker}");
        }
    });
}

#[test]
fn a_task_restricted_to_a_worker_runs_there() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(3, 1);
        let client = &test.client;
        for worker in ["local-2", "local-0"] {
            let f = client
                .submit_with::<i64>(&inc(), [lit(1i64)], Annotations::new().workers([worker]))
                .unwrap();
            assert_eq!(f.result().unwrap(), 2);
            assert_eq!(
                client.who_has(&[f]).unwrap()[0].1,
                [address_of(client, worker)]
            );
        }
        // By address, too.
        let address = address_of(client, "local-1");
        let f = client
            .submit_with::<i64>(
                &inc(),
                [lit(1i64)],
                Annotations::new().workers([address.clone()]),
            )
            .unwrap();
        f.wait(None).unwrap();
        assert_eq!(client.who_has(&[f]).unwrap()[0].1, [address]);
    });
}

#[test]
fn resources_send_tasks_to_the_workers_that_have_them_one_at_a_time() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::from(
            LocalCluster::new()
                .workers(2)
                .threads_per_worker(2)
                .processes(false)
                .resources(vec![vec![], vec![("GPU".to_owned(), 1.0)]]),
        );
        let client = &test.client;
        let gpu = Annotations::new().resource("GPU", 1.0);
        let futures: Vec<_> = (0..3)
            .map(|_| {
                client
                    .submit_with::<u64>(&on_gpu::func(), [lit(30u64)], gpu.clone())
                    .unwrap()
            })
            .collect();
        assert!(client.wait(&futures, None).unwrap());
        for (_, holders) in client.who_has(&futures).unwrap() {
            assert_eq!(holders, [address_of(client, "local-1")]);
        }
        // One GPU: they ran one after the other on the two-thread worker.
        assert_eq!(MOST.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn allow_other_workers_runs_a_task_whose_workers_are_not_there() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(2, 1);
        let loose = Annotations::new()
            .workers(["a-worker-that-does-not-exist"])
            .allow_other_workers(true);
        let f = test
            .client
            .submit_with::<i64>(&inc(), [lit(1i64)], loose)
            .unwrap();
        assert_eq!(f.result().unwrap(), 2);
    });
}

#[test]
fn a_restriction_no_worker_meets_fails_naming_what_it_needs() {
    within(Duration::from_secs(20), || {
        let mut sandbox = barrow_config::Sandbox::new().unwrap();
        sandbox.set_env("BARROW_DISTRIBUTED__SCHEDULER__NO_WORKERS_TIMEOUT", "100ms");
        let config = sandbox.config().snapshot().unwrap();
        let test = TestCluster::from(
            LocalCluster::new()
                .workers(1)
                .processes(false)
                .config(config),
        );
        let strict = Annotations::new().resource("TPU", 2.0);
        let f = test
            .client
            .submit_with::<i64>(&inc(), [lit(1i64)], strict)
            .unwrap();
        let err = f.result().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Worker);
        let text = err.to_string();
        assert!(text.contains("no-workers-timeout"), "{text}");
        assert!(text.contains("resources TPU=2"), "{text}");
        assert!(
            text.contains("'local-0'") && text.contains("resources: none"),
            "{text}"
        );
    });
}

#[test]
fn root_tasks_wait_on_the_scheduler_for_free_slots() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(1, 1);
        let client = &test.client;
        let futures = client
            .map::<u64>(&sleep_ms::func(), (0..10).map(|_| vec![lit(100u64)]))
            .unwrap();
        // ceil(1.1 × 1 thread) = 2 slots: two tasks on the worker, eight
        // queued on the scheduler, while the first runs.
        let counts = wait_until(
            Duration::from_secs(5),
            || {
                let info = client.scheduler_info().unwrap();
                let count = |state: &str| {
                    info.tasks
                        .iter()
                        .find(|(s, _)| s == state)
                        .map_or(0, |(_, n)| *n)
                };
                (count("processing") > 0).then(|| (count("processing"), count("queued")))
            },
            || "nothing started".to_owned(),
        );
        assert_eq!(counts, (2, 8));
        assert_eq!(client.gather(&futures).unwrap(), vec![100; 10]);
    });
}
