//! Faults to inject into a worker inside a test's process, to check how
//! the cluster copes (after Dask's `utils_test` helpers): transfers from
//! it that hang, a worker that falls silent (as a frozen process does),
//! and a worker that dies at once.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// Switches for the faults of one worker; share one with the worker
/// through [`WorkerOptions::faults`](crate::WorkerOptions::faults) or
/// [`LocalClusterBuilder::faults`](crate::LocalClusterBuilder::faults),
/// then flip them from the test.
///
/// ```
/// use std::sync::Arc;
/// use barrow_distributed::Faults;
///
/// let faults = Arc::new(Faults::default());
/// faults.block_transfers(true); // peers' and clients' fetches from it wait
/// assert!(faults.transfers_blocked());
/// faults.block_transfers(false); // and go on
/// ```
#[derive(Debug, Default)]
pub struct Faults {
    transfers_blocked: AtomicBool,
    silent: AtomicBool,
    killed: AtomicBool,
    kill: Notify,
}

impl Faults {
    /// Makes fetches of its values by peers and clients wait (`true`)
    /// until turned off again.
    pub fn block_transfers(&self, on: bool) {
        self.transfers_blocked.store(on, Ordering::Release);
    }

    /// Whether fetches from it wait.
    pub fn transfers_blocked(&self) -> bool {
        self.transfers_blocked.load(Ordering::Acquire)
    }

    /// Makes it send nothing to the scheduler (`true`): no heartbeat, no
    /// result, as a frozen process; its connection stays open.
    pub fn silence(&self, on: bool) {
        self.silent.store(on, Ordering::Release);
    }

    /// Whether it sends nothing to the scheduler.
    pub fn is_silent(&self) -> bool {
        self.silent.load(Ordering::Acquire)
    }

    /// Stops it at once, as if its machine went away: connections close,
    /// what it ran and held is lost.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill.notify_waiters();
    }

    /// Resolves once [`kill`](Self::kill) was called.
    pub(crate) async fn killed(&self) {
        loop {
            let notified = self.kill.notified();
            if self.killed.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}
