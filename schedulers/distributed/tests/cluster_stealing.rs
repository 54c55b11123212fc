//! Work stealing on a running cluster (after Dask's
//! `test_steal_cheap_data_slow_computation`): tasks that all read a small
//! value held by one worker are sent there (placement scores the holder
//! and one idle worker, so the other worker gets a single task), and the
//! other worker, idle once that task is done, takes queued ones.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::time::Duration;

use barrow_core::arg::lit;
use barrow_distributed::Client;
use barrow_distributed::scheduler::State;
use support::{TestCluster, within};

/// `x + i`, after a pause.
#[barrow_core::task(name = "tests.stealing.slow-add")]
fn slow_add(x: &i64, i: &i64) -> i64 {
    std::thread::sleep(Duration::from_millis(40));
    x + i
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
fn an_idle_worker_takes_queued_tasks_from_a_busy_one() {
    within(Duration::from_secs(30), || {
        let test = TestCluster::new(2, 1);
        let client = &test.client;
        let x = client.scatter_to([100i64], false, &["local-0"]).unwrap();
        let futures = client
            .map::<i64>(
                &slow_add::func(),
                (0..24i64).map(|i| vec![(&x[0]).into(), lit(i)]),
            )
            .unwrap();
        let values = client.gather(&futures).unwrap();
        assert_eq!(values, (100..124).collect::<Vec<i64>>());
        // Without stealing local-1 would run one task.
        let other = address_of(client, "local-1");
        let on_other = client
            .who_has(&futures)
            .unwrap()
            .into_iter()
            .filter(|(_, holders)| holders.contains(&other))
            .count();
        let stolen = futures
            .iter()
            .filter(|f| {
                test.cluster.scheduler().story(f.key()).iter().any(|r| {
                    r.from == Some(State::Processing)
                        && r.to == Some(State::Processing)
                        && r.stimulus.kind == "steal-response"
                })
            })
            .count();
        assert!(
            stolen >= 1,
            "no task was stolen ({on_other} ran on local-1)"
        );
        assert!(on_other > 1, "{on_other} tasks ran on local-1");
    });
}
