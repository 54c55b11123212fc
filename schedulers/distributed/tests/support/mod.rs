//! The test harness of the cluster (after Dask's `gen_cluster`): a
//! scheduler and workers in this process, invariants checked after every
//! event and once more at the end, and a hard time limit that dumps the
//! scheduler's state instead of hanging.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "helpers shared by test files; a test fails loudly on the first surprise"
)]

pub mod state;

use std::sync::Arc;
use std::time::Duration;

use barrow_core::{Graph, Key, RunContext, Scheduler, Value};
use barrow_distributed::{Client, LocalCluster};

/// A cluster for one test: `workers` in-process workers (threads,
/// validation on) and a client.
pub struct TestCluster {
    pub client: Client,
    pub cluster: LocalCluster,
}

impl std::fmt::Debug for TestCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestCluster({})", self.cluster.address())
    }
}

impl TestCluster {
    /// `workers` in-process workers of `threads` threads each.
    pub fn new(workers: usize, threads: usize) -> TestCluster {
        let cluster = LocalCluster::new()
            .workers(workers)
            .threads_per_worker(threads)
            .processes(false)
            .validate(true)
            .start_timeout(Duration::from_secs(10))
            .start()
            .expect("an in-process cluster starts");
        let client = cluster.client().expect("a client connects");
        TestCluster { client, cluster }
    }

    /// The same, from a builder (resources, memory limits, processes).
    pub fn from(builder: barrow_distributed::LocalClusterBuilder) -> TestCluster {
        let cluster = builder
            .validate(true)
            .start_timeout(Duration::from_secs(20))
            .start()
            .expect("a cluster starts");
        let client = cluster.client().expect("a client connects");
        TestCluster { client, cluster }
    }

    /// The names of the workers joined now, sorted.
    pub fn worker_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .client
            .scheduler_info()
            .unwrap()
            .workers
            .into_iter()
            .map(|w| w.summary.name)
            .collect();
        names.sort();
        names
    }

    /// The scheduler's state in words, for a test that failed or hung.
    pub fn dump(&self) -> String {
        let info = self.client.scheduler_info();
        format!("{info:#?}")
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        if let Err(problem) = self.cluster.scheduler().validate() {
            panic!("the scheduler's state is broken at the end of the test: {problem}");
        }
    }
}

/// Runs `test` within `limit`; past it, fails with the scheduler's state
/// rather than hanging the suite.
pub fn within<T: Send + 'static>(limit: Duration, test: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, wait) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let out = test();
        let _ = done.send(());
        out
    });
    match wait.recv_timeout(limit) {
        Ok(()) => handle.join().expect("the test thread"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("the test did not finish within {limit:?}: a hang");
        }
    }
}

/// Polls `ready` until it gives a value; a guard against hangs, not a
/// timing: past `limit` the test fails with `hang`'s account of what never
/// happened.
pub fn wait_until<T>(
    limit: Duration,
    mut ready: impl FnMut() -> Option<T>,
    hang: impl FnOnce() -> String,
) -> T {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(value) = ready() {
            return value;
        }
        if std::time::Instant::now() >= deadline {
            panic!("{} (waited {limit:?})", hang());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A scheduler for the conformance suite: a cluster of its own per test
/// (tests run in parallel and reuse small keys like "a"), computing
/// through its client.
pub struct ClusterScheduler {
    test: TestCluster,
}

impl ClusterScheduler {
    pub fn in_process() -> Arc<dyn Scheduler> {
        Arc::new(ClusterScheduler {
            test: TestCluster::new(2, 1),
        })
    }

    pub fn processes() -> Arc<dyn Scheduler> {
        Arc::new(ClusterScheduler {
            test: TestCluster::from(LocalCluster::new().workers(2).threads_per_worker(1)),
        })
    }
}

impl Scheduler for ClusterScheduler {
    fn get(
        &self,
        graph: &Graph,
        keys: &[Key],
        ctx: &mut RunContext<'_>,
    ) -> barrow_core::Result<Vec<Value>> {
        self.test.client.get(graph, keys, ctx)
    }

    fn name(&self) -> &str {
        "distributed"
    }
}
