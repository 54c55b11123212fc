//! A cluster that survives: real worker processes (this test binary,
//! started again under their nannies) are killed while they compute, and
//! the results are still right; a task that kills every worker it runs on
//! ends in `KilledWorker`, which says how each worker died.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use barrow::arg::{key, lit};
use barrow::array::Array;
use barrow::collection::GraphKeys;
use barrow::distributed::{Client, LocalCluster};
use barrow::{ErrorKind, Graph, Options, Task, compute_with};

barrow::processes::worker_entry!();

/// Kills the process that runs it, saying so first.
#[barrow::task(name = "tests.chaos.abort")]
fn abort_worker(_x: &i64) -> i64 {
    eprintln!(
        "tests.chaos.abort: aborting worker process {}",
        std::process::id()
    );
    std::process::abort()
}

/// A leaf that takes a little time, so kills land mid-graph.
#[barrow::task(name = "tests.chaos.leaf")]
fn leaf(i: &i64) -> i64 {
    std::thread::sleep(Duration::from_micros(200));
    *i
}

/// Adds two.
#[barrow::task(name = "tests.chaos.add")]
fn add(a: &i64, b: &i64) -> i64 {
    a + b
}

fn cluster(workers: usize, options: &[(&str, i64)]) -> (LocalCluster, Client) {
    let config = barrow::config::snapshot()
        .unwrap()
        .with_options(options.iter().copied())
        .unwrap();
    let cluster = LocalCluster::new()
        .workers(workers)
        .threads_per_worker(1)
        // Checking every invariant after every event is quadratic in a
        // graph this size: the state is checked once, at the end.
        .config(config)
        .start_timeout(Duration::from_secs(30))
        .start()
        .expect("a cluster of worker processes");
    let client = cluster.client().expect("a client");
    (cluster, client)
}

/// A pairwise sum of `leaves` leaves: 2 × leaves − 1 tasks; the root is
/// `t-0-0`... named by level and index.
fn tree(leaves: usize) -> (Graph, String) {
    let mut tasks = Vec::new();
    let mut level: Vec<String> = (0..leaves)
        .map(|i| {
            let name = format!("leaf-{i}");
            tasks.push((name.clone(), Task::call(&leaf::func(), [lit(i as i64)])));
            name
        })
        .collect();
    let mut depth = 0;
    while level.len() > 1 {
        depth += 1;
        let mut next = Vec::new();
        for (i, pair) in level.chunks(2).enumerate() {
            let name = format!("sum-{depth}-{i}");
            let task = match pair {
                [a, b] => Task::call(&add::func(), [key(a.as_str()), key(b.as_str())]),
                [a] => Task::call(&add::func(), [key(a.as_str()), lit(0i64)]),
                _ => unreachable!("chunks of two"),
            };
            tasks.push((name.clone(), task));
            next.push(name);
        }
        level = next;
    }
    let root = level.pop().unwrap();
    (Graph::from_tasks(tasks).unwrap(), root)
}

/// Runs `compute` on a thread and gives its result, or fails the test
/// with the scheduler's account of what is unfinished if it takes longer
/// than any healthy run would (a hang must fail, not stall the suite).
fn within<T: Send + 'static>(
    cluster: &LocalCluster,
    what: &str,
    compute: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(compute());
    });
    match result.recv_timeout(Duration::from_secs(60)) {
        Ok(value) => value,
        Err(_) => panic!(
            "{what} did not finish in 60 s:\n{}",
            cluster.scheduler().unfinished_report(40)
        ),
    }
}

/// A small generator for the kill schedule, seeded per run (printed).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[test]
fn a_graph_survives_workers_killed_at_random() {
    let (cluster, client) = cluster(3, &[]);
    let cluster = Arc::new(cluster);
    let options = Options::new().scheduler(&client);
    // A tree reduction of 4096 leaves (8191 tasks) and the sum of an
    // array of 1600 chunks (its reduction tree included): over 10,000.
    let (graph, root) = tree(4096);
    let array = Array::<f64>::ones(&[400, 400], 10).unwrap();
    let seed = u64::from(std::process::id()) ^ 0x9e37_79b9_7f4a_7c15;
    println!("kill schedule seed {seed:#x}");
    let done = Arc::new(AtomicBool::new(false));
    // A handful of kills at random moments, stopping by itself.
    let killer = {
        let cluster = cluster.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let mut random = Lcg(seed);
            let mut kills = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(20);
            while kills.len() < 4 && Instant::now() < deadline && !done.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(40 + random.below(160)));
                let worker = random.below(3) as usize;
                if let Some(pid) = cluster.worker_pid(worker) {
                    cluster.kill_worker(worker).unwrap();
                    kills.push((worker, pid));
                }
            }
            kills
        })
    };
    let start = Instant::now();
    let total = within(&cluster, "the tree", {
        let options = options.clone();
        move || compute_with(GraphKeys::new(graph, [root.as_str()]), &options).unwrap()
    });
    println!("tree done after {:?}", start.elapsed());
    let sum = within(&cluster, "the array's sum", move || {
        compute_with(&array.sum(), &options).unwrap()
    });
    println!("array done after {:?}", start.elapsed());
    done.store(true, Ordering::Release);
    let kills = killer.join().unwrap();
    println!("killed (worker, pid): {kills:?}");
    assert_eq!(
        *total[0].downcast_ref::<i64>().unwrap(),
        4095 * 4096 / 2,
        "the tree's sum"
    );
    assert_eq!(sum, 160_000.0, "the array's sum");
    assert!(!kills.is_empty(), "the loop killed workers while they ran");
    let restarts: u32 = (0..3).map(|i| cluster.worker_restarts(i)).sum();
    assert!(restarts >= 1, "the nannies started killed workers again");
    cluster.scheduler().validate().unwrap();
    // Back to full strength.
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.scheduler_info().unwrap().workers.len() < 3 {
        assert!(
            Instant::now() < deadline,
            "the workers did not all come back"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_task_that_kills_every_worker_it_runs_on_ends_in_killed_worker_naming_the_signal() {
    let (cluster, client) = cluster(2, &[("distributed.scheduler.allowed-failures", 1)]);
    let crash = client
        .submit::<i64>(&abort_worker::func(), [lit(0i64)])
        .unwrap();
    let err = crash.result().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KilledWorker, "{err}");
    let text = err.to_string();
    assert!(text.contains("2 workers"), "{text}");
    assert!(text.contains("allowed-failures = 1"), "{text}");
    assert_eq!(text.matches("signal 6 (SIGABRT").count(), 2, "{text}");
    assert!(
        text.contains("| tests.chaos.abort: aborting worker process"),
        "{text}"
    );
    assert!(text.contains("'local-"), "{text}");
    // The nannies brought the workers back, and they compute.
    let one = client
        .submit::<i64>(&add::func(), [lit(1i64), lit(2i64)])
        .unwrap();
    assert_eq!(one.result().unwrap(), 3);
    assert!(cluster.worker_restarts(0) + cluster.worker_restarts(1) >= 2);
}

#[test]
fn a_restart_starts_every_worker_process_again_and_retire_stops_one_for_good() {
    let (cluster, client) = cluster(2, &[]);
    let before: Vec<u32> = (0..2).filter_map(|i| cluster.worker_pid(i)).collect();
    let held = client
        .submit::<i64>(&add::func(), [lit(1i64), lit(2i64)])
        .unwrap();
    assert_eq!(held.result().unwrap(), 3);
    let back = client.restart().unwrap();
    assert_eq!(back.len(), 2, "{back:?}");
    let after: Vec<u32> = (0..2).filter_map(|i| cluster.worker_pid(i)).collect();
    assert_eq!(after.len(), 2);
    assert!(
        before.iter().all(|pid| !after.contains(pid)),
        "new processes: {before:?} then {after:?}"
    );
    assert_eq!(held.result().unwrap_err().kind(), ErrorKind::Cancelled);
    // Retired, a worker's nanny lets it go.
    let kept = client.scatter_to([5i64], false, &["local-1"]).unwrap();
    assert_eq!(client.retire_workers(&["local-1"]).unwrap(), ["local-1"]);
    assert_eq!(client.gather(&kept).unwrap(), [5]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.worker_pid(1).is_some() {
        assert!(
            Instant::now() < deadline,
            "the retired worker's process stayed"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(client.scheduler_info().unwrap().workers.len(), 1);
}

/// Holds on to ever more memory, touching every page, until it is killed.
#[barrow::task(name = "tests.chaos.leak")]
fn leak(_x: &i64) -> i64 {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        kept.push(vec![1u8; 8 << 20]);
        std::thread::sleep(Duration::from_millis(5));
        if kept.len() > 1024 {
            return -1; // 8 GiB without a kill: the test fails below
        }
    }
}

#[test]
fn a_task_that_leaks_is_killed_by_the_nanny_and_killed_worker_says_it_was_memory() {
    let config = barrow::config::snapshot()
        .unwrap()
        .with_options([("distributed.scheduler.allowed-failures", 0i64)])
        .unwrap();
    let cluster = LocalCluster::new()
        .workers(1)
        .threads_per_worker(1)
        .memory_limit(300 << 20)
        .config(config)
        .start_timeout(Duration::from_secs(30))
        .start()
        .expect("a cluster of worker processes");
    let client = cluster.client().unwrap();
    let leaking = client.submit::<i64>(&leak::func(), [lit(0i64)]).unwrap();
    let err = leaking.result().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KilledWorker, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("was killed by its nanny for memory"),
        "{text}"
    );
    assert!(
        text.contains("distributed.worker.memory.terminate"),
        "{text}"
    );
    // The nanny started it again, and it computes.
    let one = client
        .submit::<i64>(&add::func(), [lit(1i64), lit(2i64)])
        .unwrap();
    assert_eq!(one.result().unwrap(), 3);
}
