//! The dashboard of a local computation (`sync`, `threads`, `processes`):
//! a [`Callback`] that records each task and a server that shows them.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use barrow_core::callback::{Callback, RunInfo, TaskEvent};
use barrow_core::{Error as CoreError, Value};

use crate::collect::{Collector, Record};
use crate::error::{Error, Result};
use crate::feed::{Feed, FeedOptions};
use crate::server::{DashboardServer, ServeOptions};

/// Task threads append to the shard of their worker index, so two workers
/// never wait for each other; more workers than shards share some.
const SHARDS: usize = 64;
/// How often the flusher moves records into the feed (Dask's 100 ms).
const FLUSH_EVERY: Duration = Duration::from_millis(100);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every guarded value stays well-formed if a holder panicked (records
    // are only appended; the collector is replaced field by field).
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug)]
struct Shared {
    feed: Arc<Feed>,
    shards: Box<[Mutex<Vec<Record>>]>,
    collector: Mutex<Collector>,
    /// Bumped by each run's `start`; records of an older run are ignored.
    generation: AtomicU64,
    stop: Mutex<bool>,
    wake: Condvar,
}

impl Shared {
    fn record(&self, worker: usize, record: Record) {
        lock(&self.shards[worker % SHARDS]).push(record);
    }

    fn drain(&self) -> Vec<Record> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            all.append(&mut lock(shard));
        }
        all
    }

    fn flush(&self) {
        let mut collector = lock(&self.collector);
        let records = self.drain();
        collector.flush(records);
    }
}

/// A dashboard for local runs: pass it as a callback and open its
/// [`url`](Dashboard::url) while the computation runs. After a run it
/// keeps showing that run's final state until it is dropped (which stops
/// its server).
///
/// Per task, a task thread takes only its own worker's small lock to
/// append a start or an end; a flusher thread turns those into the feed's
/// batches every 100 ms, and the server runs on a thread of its own.
///
/// ```no_run
/// use barrow_dashboard::{Dashboard, ServeOptions};
/// use barrow_core::Options;
///
/// let dashboard = Dashboard::serve(ServeOptions::default())?;
/// println!("dashboard at {}", dashboard.url());
/// let options = Options::new().callback(dashboard.clone());
/// # let _ = options;
/// # Ok::<(), barrow_dashboard::Error>(())
/// ```
#[derive(Debug)]
pub struct Dashboard {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
    server: Option<DashboardServer>,
}

impl Dashboard {
    /// A dashboard served as `options` say.
    ///
    /// # Errors
    ///
    /// As [`DashboardServer::start`]: the address does not resolve or
    /// cannot be listened on, or is off loopback without a token.
    pub fn serve(options: ServeOptions) -> Result<Arc<Dashboard>> {
        let feed = Feed::new(FeedOptions {
            title: "local".to_owned(),
            ..FeedOptions::default()
        });
        let server = DashboardServer::start(feed.clone(), options)?;
        let shared = Arc::new(Shared {
            collector: Mutex::new(Collector::new(feed.clone())),
            feed,
            shards: (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect(),
            generation: AtomicU64::new(0),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        let flusher = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("barrow-dashboard-flush".to_owned())
                .spawn(move || flush_loop(&shared))
                .map_err(Error::Start)?
        };
        Ok(Arc::new(Dashboard {
            shared,
            flusher: Some(flusher),
            server: Some(server),
        }))
    }

    /// The status page's URL (with its token when one is needed).
    pub fn url(&self) -> String {
        self.server
            .as_ref()
            .map(DashboardServer::url)
            .unwrap_or_default()
    }

    /// The address the server listens on.
    pub fn address(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(DashboardServer::address)
    }

    /// The feed the server shows (to read a snapshot in code).
    pub fn feed(&self) -> &Arc<Feed> {
        &self.shared.feed
    }

    /// Moves what the callbacks recorded into the feed now, rather than at
    /// the next 100 ms tick.
    pub fn flush(&self) {
        self.shared.flush();
    }

    /// A task's start (`ended: None`) or end, on its worker's shard.
    fn record(&self, task: &TaskEvent<'_>, ended: Option<barrow_core::Key>) {
        self.shared.record(
            task.worker,
            Record {
                generation: self.shared.generation.load(Ordering::Acquire),
                id: task.id,
                worker: u32::try_from(task.worker).unwrap_or(u32::MAX),
                at: Instant::now(),
                store_bytes: task.store_bytes as u64,
                ended,
            },
        );
    }
}

fn flush_loop(shared: &Shared) {
    let mut stopped = lock(&shared.stop);
    loop {
        let (guard, _) = shared
            .wake
            .wait_timeout(stopped, FLUSH_EVERY)
            .unwrap_or_else(PoisonError::into_inner);
        stopped = guard;
        if *stopped {
            return;
        }
        drop(stopped);
        shared.flush();
        stopped = lock(&shared.stop);
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        *lock(&self.shared.stop) = true;
        self.shared.wake.notify_all();
        if let Some(flusher) = self.flusher.take() {
            // A flusher that panicked has nothing left to stop.
            let _ = flusher.join();
        }
        // Stops the server and joins its thread.
        self.server.take();
    }
}

impl Callback for Dashboard {
    fn start(&self, run: &RunInfo<'_>) {
        let mut collector = lock(&self.shared.collector);
        // What an earlier run left goes out first, under its own tables.
        let leftovers = self.shared.drain();
        collector.flush(leftovers);
        let generation = self.shared.generation.fetch_add(1, Ordering::AcqRel) + 1;
        collector.start(generation, run);
        collector.flush(Vec::new());
    }

    fn pretask(&self, task: &TaskEvent<'_>) {
        self.record(task, None);
    }

    fn posttask(&self, task: &TaskEvent<'_>, _value: &Value) {
        self.record(task, Some(task.key.clone()));
    }

    fn finish(&self, run: &RunInfo<'_>, error: Option<&CoreError>) {
        let mut collector = lock(&self.shared.collector);
        let records = self.shared.drain();
        collector.finish(records, run, error);
    }
}
