//! The worker's side of its connection, shared by the thread running tasks
//! and a reporter thread that tells the pool when a long task has started.
//!
//! `pretask` means "this task started". Short tasks' starts ride with
//! their results (a task's start is in the same message as its result, or
//! an earlier one); a task still running [`REPORT_AFTER`] after it started
//! is reported on its own by the reporter, so the pool's `pretask` fires
//! while it runs. The reporter only runs while a batch asked for starts,
//! and wakes at most once per [`REPORT_AFTER`] while tasks run.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use barrow_wire::EncodedFrame;
use barrow_wire::message::Kind;
use barrow_wire::shared::{SharedMemory, send_message};
use barrow_wire::task::DoneBatch;

/// How long a task runs before its start is reported on its own: the
/// same as the results' flush interval, so a start is never later than a
/// result would be.
pub(crate) const REPORT_AFTER: Duration = Duration::from_millis(2);

/// Where the worker's messages go: the socket, and shared memory for large
/// results.
pub(crate) struct Outbox {
    pub(crate) writer: std::os::unix::net::UnixStream,
    pub(crate) shared: Option<SharedMemory>,
}

/// The connection's writing side, and what the reporter needs to know.
pub(crate) struct Link {
    inner: Arc<Inner>,
    reporter: Option<JoinHandle<()>>,
}

struct Inner {
    state: Mutex<State>,
    wake: Condvar,
}

struct State {
    out: Outbox,
    /// The task running now, when its batch asked for starts.
    current: Option<Current>,
    /// The reporter waits for a task to start (nothing to time).
    parked: bool,
    /// The worker is stopping: the reporter ends.
    closed: bool,
}

struct Current {
    run: u64,
    id: u32,
    since: Instant,
    /// Its start was sent by the reporter.
    reported: bool,
}

impl Link {
    pub(crate) fn new(out: Outbox) -> Link {
        Link {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    out,
                    current: None,
                    parked: false,
                    closed: false,
                }),
                wake: Condvar::new(),
            }),
            reporter: None,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.lock()
    }

    /// Sends one message; never interleaved with the reporter's.
    pub(crate) fn send(
        &self,
        kind: Kind,
        body: &impl serde::Serialize,
        frames: &[EncodedFrame<'_>],
    ) -> barrow_wire::Result<()> {
        let state = self.lock();
        send_message(
            &state.out.writer,
            state.out.shared.as_ref(),
            kind,
            body,
            frames,
        )
    }

    /// The shared memory results go through, if any.
    pub(crate) fn release_segment(&self, segment: u64) -> Option<barrow_wire::Result<()>> {
        let state = self.lock();
        state
            .out
            .shared
            .as_ref()
            .map(|shared| shared.release(segment))
    }

    /// Task `id` of computation `run` starts now.
    pub(crate) fn begin(&mut self, run: u64, id: u32) {
        if self.reporter.is_none() {
            let inner = Arc::clone(&self.inner);
            // Without the reporter, starts still ride with the results.
            self.reporter = std::thread::Builder::new()
                .name("barrow-start-reporter".into())
                .spawn(move || inner.report())
                .ok();
        }
        let mut state = self.lock();
        state.current = Some(Current {
            run,
            id,
            since: Instant::now(),
            reported: false,
        });
        if std::mem::take(&mut state.parked) {
            drop(state);
            self.inner.wake.notify_one();
        }
    }

    /// The running task ended; whether its start was already sent (if not,
    /// it goes with its result).
    pub(crate) fn end(&self) -> bool {
        self.lock().current.take().is_some_and(|c| c.reported)
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.lock().closed = true;
        self.inner.wake.notify_one();
        if let Some(reporter) = self.reporter.take() {
            let _ = reporter.join();
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent: every change is one assignment.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The reporter thread: sleeps until the running task has run
    /// [`REPORT_AFTER`], then sends its start unless it has ended.
    fn report(&self) {
        let mut state = self.lock();
        loop {
            if state.closed {
                return;
            }
            let due = match &state.current {
                Some(current) if !current.reported => current.since + REPORT_AFTER,
                _ => {
                    state.parked = true;
                    state = self
                        .wake
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                    continue;
                }
            };
            let now = Instant::now();
            if now < due {
                state = self
                    .wake
                    .wait_timeout(state, due - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                continue;
            }
            let Some(current) = state.current.as_mut() else {
                continue;
            };
            current.reported = true;
            let batch = DoneBatch {
                run: current.run,
                started: vec![current.id],
                done: Vec::new(),
            };
            let out = &state.out;
            if send_message(&out.writer, out.shared.as_ref(), Kind::Done, &batch, &[]).is_err() {
                // The task thread meets the broken connection too and ends
                // the worker with its cause.
                return;
            }
        }
    }
}
