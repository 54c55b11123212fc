//! The scheduler conformance suite on `processes`, with real worker
//! processes (this test binary, started again with an exact filter).
#![allow(
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::sync::{Arc, OnceLock};

use barrow_core::Scheduler;
use barrow_processes::{ProcessPool, ProcessesScheduler};

barrow_processes::worker_entry!();

/// One pool for the whole file, as a program would hold it.
fn scheduler() -> Arc<dyn Scheduler> {
    static POOL: OnceLock<Arc<ProcessPool>> = OnceLock::new();
    let pool = POOL.get_or_init(|| Arc::new(ProcessPool::new(2).expect("a pool")));
    Arc::new(ProcessesScheduler::with_pool(pool.clone()))
}

barrow_core::scheduler_conformance!(shipped: scheduler());
