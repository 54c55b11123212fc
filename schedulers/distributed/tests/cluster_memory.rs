//! Worker memory on a real cluster (in this process, validation on):
//! values past `target` of the memory limit go to disk and come back for
//! the tasks and clients that read them; a worker whose process passes
//! `pause` (a fake reading here) gets no new work until it falls back; the
//! scheduler reports each worker's memory in Dask's segments.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use barrow_core::arg::lit;
use barrow_distributed::{LocalCluster, MemoryReader, WorkerInfo};
use support::{TestCluster, wait_until, within};

/// A vector of `n` copies of `x`.
#[barrow_core::task(name = "tests.memory.fill")]
fn fill(n: &u64, x: &f64) -> Vec<f64> {
    vec![*x; *n as usize]
}

/// The sum of a vector.
#[allow(
    clippy::ptr_arg,
    reason = "task arguments are borrowed as their value's type"
)]
#[barrow_core::task(name = "tests.memory.total")]
fn total(v: &Vec<f64>) -> f64 {
    v.iter().sum()
}

/// A process reading set by the test.
#[derive(Debug, Default)]
struct Dial(AtomicU64);

impl MemoryReader for Dial {
    fn process_bytes(&self) -> Option<u64> {
        Some(self.0.load(Ordering::Relaxed))
    }
}

fn worker(test: &TestCluster, name: &str) -> WorkerInfo {
    test.client
        .scheduler_info()
        .unwrap()
        .workers
        .into_iter()
        .find(|w| w.summary.name == name)
        .unwrap()
}

#[test]
fn values_past_target_spill_to_disk_and_are_read_back_whole() {
    within(Duration::from_secs(20), || {
        // One worker of 1 MB: target 600 kB; ten values of 200 kB.
        let test = TestCluster::from(
            LocalCluster::new()
                .workers(1)
                .threads_per_worker(1)
                .processes(false)
                .memory_limit(1_000_000),
        );
        let client = &test.client;
        let parts: Vec<_> = (0..10)
            .map(|i| {
                client
                    .submit::<Vec<f64>>(&fill::func(), [lit(25_000u64), lit(f64::from(i))])
                    .unwrap()
            })
            .collect();
        client.wait(&parts, None).unwrap();
        let memory = wait_until(
            Duration::from_secs(5),
            || {
                let m = worker(&test, "local-0").memory;
                (m.spilled > 0 && m.managed <= 600_000).then_some(m)
            },
            || format!("nothing spilled: {:?}", worker(&test, "local-0").memory),
        );
        assert_eq!(memory.limit, 1_000_000);
        // In memory or on disk, every value is whole: tasks read spilled
        // inputs on their thread, the client fetches them from disk.
        let sums: Vec<_> = parts
            .iter()
            .map(|p| client.submit::<f64>(&total::func(), [p.into()]).unwrap())
            .collect();
        let sums = client.gather(&sums).unwrap();
        let expected: Vec<f64> = (0..10).map(|i| 25_000.0 * f64::from(i)).collect();
        assert_eq!(sums, expected);
        let back = client.gather(&parts).unwrap();
        assert!(
            back.iter()
                .enumerate()
                .all(|(i, v)| v.len() == 25_000 && v.iter().all(|x| *x == i as f64))
        );
        // Released, spilled values leave the disk too.
        drop(parts);
        wait_until(
            Duration::from_secs(5),
            || (worker(&test, "local-0").memory.spilled == 0).then_some(()),
            || format!("still on disk: {:?}", worker(&test, "local-0").memory),
        );
    });
}

#[test]
fn a_worker_past_pause_gets_no_new_work_until_its_memory_falls() {
    within(Duration::from_secs(20), || {
        let dial = Arc::new(Dial::default());
        let test = TestCluster::from(
            LocalCluster::new()
                .workers(2)
                .threads_per_worker(1)
                .processes(false)
                .memory_limit(1_000_000)
                .memory_reader(0, dial.clone()),
        );
        let client = &test.client;
        // 850 kB resident on local-0: past pause (0.8).
        dial.0.store(850_000, Ordering::Relaxed);
        let paused = wait_until(
            Duration::from_secs(5),
            || {
                // The pause is said at once; the reading comes with the
                // next heartbeat.
                let w = worker(&test, "local-0");
                (w.status == "paused" && w.memory.process > 0).then_some(w)
            },
            || format!("not paused: {:?}", worker(&test, "local-0")),
        );
        assert_eq!(paused.memory.process, 850_000);
        // New work goes to the other worker only.
        let futures: Vec<_> = (0..20)
            .map(|i| {
                client
                    .submit::<Vec<f64>>(&fill::func(), [lit(10u64), lit(f64::from(i))])
                    .unwrap()
            })
            .collect();
        client.wait(&futures, None).unwrap();
        let holders = client.who_has(&futures).unwrap();
        let other = worker(&test, "local-1").summary.address;
        assert!(
            holders
                .iter()
                .all(|(_, on)| on == std::slice::from_ref(&other)),
            "{holders:?}"
        );
        // Back under pause: it runs again, and takes work.
        dial.0.store(100_000, Ordering::Relaxed);
        wait_until(
            Duration::from_secs(5),
            || (worker(&test, "local-0").status == "running").then_some(()),
            || format!("still paused: {:?}", worker(&test, "local-0")),
        );
        let pinned = client
            .submit_with::<Vec<f64>>(
                &fill::func(),
                [lit(10u64), lit(1.0f64)],
                barrow_core::Annotations::new().workers(["local-0"]),
            )
            .unwrap();
        assert_eq!(pinned.result().unwrap(), vec![1.0; 10]);
        // Unmanaged memory is what the process holds beyond its values.
        let m = wait_until(
            Duration::from_secs(5),
            || {
                let m = worker(&test, "local-0").memory;
                (m.process == 100_000).then_some(m)
            },
            || format!("no new reading: {:?}", worker(&test, "local-0")),
        );
        assert_eq!(
            m.unmanaged_old + m.unmanaged_recent + m.managed,
            100_000,
            "{m:?}"
        );
    });
}
