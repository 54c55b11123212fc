//! The resource profiler (Dask's `ResourceProfiler`): CPU, RSS and
//! unmanaged memory, sampled while a computation runs.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use barrow_core::callback::{Callback, RunInfo, TaskEvent};
use barrow_core::{Error as CoreError, Value};
use serde::Serialize;

use crate::error::Result;
use crate::html;
use crate::process;

/// One reading of the process's resources.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Sample {
    /// When, from the profiler's first run.
    #[serde(serialize_with = "seconds")]
    pub time: Duration,
    /// CPU use since the previous sample, in percent of one core (200 means
    /// two cores busy); `None` for a run's first sample, and where `/proc`
    /// is not available.
    pub cpu_percent: Option<f64>,
    /// Resident set size in bytes; `None` where `/proc` is not available.
    pub rss: Option<u64>,
    /// Bytes of the results the store held (their `nbytes`): the memory
    /// Barrow manages.
    pub store_bytes: u64,
    /// RSS minus the store's bytes: memory held by anything else (task
    /// functions' temporaries, allocator caches, leaks), the quantity Dask
    /// users are told to watch. `None` when RSS is unknown.
    pub unmanaged: Option<u64>,
}

fn seconds<S: serde::Serializer>(time: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(time.as_secs_f64())
}

/// Samples CPU use, resident memory (RSS) and **unmanaged memory** (RSS
/// minus the bytes of the results the store holds) at an interval on a
/// background thread, from the start of a computation to its end (Dask's
/// `ResourceProfiler`).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use barrow_core::arg::key;
/// use barrow_core::collection::GraphKeys;
/// use barrow_core::{Func, Graph, Options, Task, compute_with};
/// use barrow_diagnostics::ResourceProfiler;
///
/// let alloc = Func::new("alloc", |n: &usize| vec![0u8; *n]);
/// let graph = Graph::from_tasks([
///     ("n", Task::literal(1usize << 20)),
///     ("buffer", Task::call(&alloc, [key("n")])),
/// ])?;
/// let resources = ResourceProfiler::with_interval(Duration::from_millis(10));
/// let options = Options::new()
///     .scheduler_object(Arc::new(barrow_local::SyncScheduler))
///     .callback(Arc::new(resources.clone()));
/// compute_with(GraphKeys::new(graph, ["buffer"]), &options)?;
///
/// let samples = resources.results();
/// assert!(samples.len() >= 2, "one when the run starts, one when it ends");
/// # #[cfg(target_os = "linux")]
/// assert!(samples.iter().all(|s| s.rss.unwrap_or(0) > 0));
/// // At the end the store holds the 1 MiB result.
/// assert!(samples.last().unwrap().store_bytes >= 1 << 20);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A sample is taken when a run starts, every interval while it runs, and
/// when it ends. CPU and RSS come from `/proc/self` on Linux; elsewhere they
/// are `None` and only the store's bytes are recorded. The store's bytes
/// come from the `store_bytes` of the scheduler's task events. Clones share
/// their samples; samples accumulate over runs on one clock until
/// [`clear`](ResourceProfiler::clear).
#[derive(Clone)]
pub struct ResourceProfiler {
    shared: Arc<Shared>,
}

struct Shared {
    interval: Duration,
    /// The store's bytes at the last task event.
    store_bytes: AtomicUsize,
    state: Mutex<State>,
    /// Wakes the sampler early when the last run ends.
    wake: Condvar,
}

#[derive(Default)]
struct State {
    epoch: Option<Instant>,
    samples: Vec<Sample>,
    /// Runs started and not finished (the sampler runs while > 0).
    active_runs: usize,
    sampler: Option<JoinHandle<()>>,
    /// The previous reading, for CPU use between two samples.
    previous: Option<(Instant, f64)>,
}

impl Default for ResourceProfiler {
    fn default() -> ResourceProfiler {
        ResourceProfiler::new()
    }
}

impl ResourceProfiler {
    /// The default interval between samples.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(100);

    /// A profiler sampling every [`DEFAULT_INTERVAL`](Self::DEFAULT_INTERVAL).
    pub fn new() -> ResourceProfiler {
        ResourceProfiler::with_interval(ResourceProfiler::DEFAULT_INTERVAL)
    }

    /// A profiler sampling every `interval` (at least 1 ms).
    pub fn with_interval(interval: Duration) -> ResourceProfiler {
        ResourceProfiler {
            shared: Arc::new(Shared {
                interval: interval.max(Duration::from_millis(1)),
                store_bytes: AtomicUsize::new(0),
                state: Mutex::new(State::default()),
                wake: Condvar::new(),
            }),
        }
    }

    /// The interval between samples.
    pub fn interval(&self) -> Duration {
        self.shared.interval
    }

    /// Every sample so far, oldest first.
    pub fn results(&self) -> Vec<Sample> {
        self.shared.state().samples.clone()
    }

    /// Forgets every sample and restarts the clock at the next run.
    pub fn clear(&self) {
        let mut state = self.shared.state();
        state.samples.clear();
        state.epoch = None;
        state.previous = None;
    }

    /// The samples as JSON: `{"interval", "samples": [{"time", "cpu_percent",
    /// "rss", "store_bytes", "unmanaged"}]}`, times in seconds, memory in
    /// bytes, unknown values `null`.
    pub fn to_json(&self) -> Result<String> {
        html::script_json(&self.report())
    }

    /// Writes [`to_json`](ResourceProfiler::to_json)'s document to `path`.
    pub fn write_json(&self, path: impl AsRef<Path>) -> Result<()> {
        html::write_json(path.as_ref(), &self.report(), "resource profile")
    }

    fn report(&self) -> JsonReport {
        JsonReport {
            interval: self.shared.interval.as_secs_f64(),
            samples: self.results(),
        }
    }

    /// A self-contained HTML page (no network needed) charting CPU use, and
    /// RSS, unmanaged memory and the store's bytes, over time.
    pub fn to_html(&self) -> Result<String> {
        let samples = self.results();
        let rows: Vec<ChartRow> = samples
            .iter()
            .map(|s| {
                (
                    u64::try_from(s.time.as_micros()).unwrap_or(u64::MAX),
                    s.cpu_percent.map(|c| (c * 10.0).round() / 10.0),
                    s.rss,
                    s.store_bytes,
                    s.unmanaged,
                )
            })
            .collect();
        let data = html::script_json(&ChartData { samples: rows })?;
        let peak = |f: fn(&Sample) -> Option<u64>| samples.iter().filter_map(f).max();
        let mib = |b: Option<u64>| match b {
            Some(b) => format!("{:.1} MiB", b as f64 / 1048576.0),
            None => "unknown".to_string(),
        };
        let meta = format!(
            "{} samples every {} ms; peak RSS {}, peak unmanaged {}, peak in the store {}",
            samples.len(),
            self.shared.interval.as_millis(),
            mib(peak(|s| s.rss)),
            mib(peak(|s| s.unmanaged)),
            mib(peak(|s| Some(s.store_bytes))),
        );
        Ok(html::Page {
            title: "Barrow resource profile",
            meta: &meta,
            hint: "Hover a chart for the nearest sample. Unmanaged memory is RSS minus the \
                   bytes of the results Barrow's store holds.",
            data: &data,
            script: include_str!("html/resources.js"),
        }
        .render())
    }

    /// Writes [`to_html`](ResourceProfiler::to_html)'s page to `path`.
    pub fn write_html(&self, path: impl AsRef<Path>) -> Result<()> {
        html::write_file(path.as_ref(), &self.to_html()?, "resource profile chart")
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one sample now and records it.
    fn sample(&self, state: &mut State) {
        let now = Instant::now();
        let epoch = *state.epoch.get_or_insert(now);
        let stats = process::read();
        let cpu_percent = match (stats, state.previous) {
            (Some(stats), Some((then, cpu_then))) => {
                let wall = now.saturating_duration_since(then).as_secs_f64();
                (wall > 0.0).then(|| ((stats.cpu_seconds - cpu_then) / wall * 100.0).max(0.0))
            }
            _ => None,
        };
        state.previous = stats.map(|s| (now, s.cpu_seconds));
        let store_bytes = self.store_bytes.load(Ordering::Relaxed) as u64;
        let rss = stats.map(|s| s.rss_bytes);
        state.samples.push(Sample {
            time: now.saturating_duration_since(epoch),
            cpu_percent,
            rss,
            store_bytes,
            unmanaged: rss.map(|r| r.saturating_sub(store_bytes)),
        });
    }
}

/// The background sampler: a sample every interval while a run is active.
/// It holds the profiler weakly, so dropping every handle stops it too.
fn sampler(shared: Weak<Shared>) {
    loop {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let state = shared.state();
        let (mut state, _) = shared
            .wake
            .wait_timeout_while(state, shared.interval, |s| s.active_runs > 0)
            .unwrap_or_else(|e| e.into_inner());
        if state.active_runs == 0 {
            return;
        }
        shared.sample(&mut state);
    }
}

impl fmt::Debug for ResourceProfiler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceProfiler")
            .field("interval", &self.shared.interval)
            .field("samples", &self.shared.state().samples.len())
            .finish()
    }
}

impl Callback for ResourceProfiler {
    fn start(&self, _run: &RunInfo<'_>) {
        let shared = &self.shared;
        shared.store_bytes.store(0, Ordering::Relaxed);
        let finished_sampler = {
            let mut state = shared.state();
            state.active_runs += 1;
            state.previous = None;
            shared.sample(&mut state);
            if state.active_runs > 1 {
                return;
            }
            state.sampler.take()
        };
        // A sampler from an earlier run has seen `active_runs == 0` and is
        // ending: wait for it before starting the next.
        if let Some(old) = finished_sampler {
            let _ = old.join();
        }
        let weak = Arc::downgrade(shared);
        // Without a thread, the run still gets its first and last samples.
        let spawned = std::thread::Builder::new()
            .name("barrow-resource-profiler".into())
            .spawn(move || sampler(weak))
            .ok();
        shared.state().sampler = spawned;
    }

    fn pretask(&self, task: &TaskEvent<'_>) {
        self.shared
            .store_bytes
            .store(task.store_bytes, Ordering::Relaxed);
    }

    fn posttask(&self, task: &TaskEvent<'_>, _value: &Value) {
        self.shared
            .store_bytes
            .store(task.store_bytes, Ordering::Relaxed);
    }

    fn finish(&self, _run: &RunInfo<'_>, _error: Option<&CoreError>) {
        let shared = &self.shared;
        let sampler = {
            let mut state = shared.state();
            state.active_runs = state.active_runs.saturating_sub(1);
            shared.sample(&mut state);
            if state.active_runs > 0 {
                return;
            }
            state.sampler.take()
        };
        shared.wake.notify_all();
        if let Some(sampler) = sampler {
            let _ = sampler.join();
        }
    }
}

#[derive(Serialize)]
struct JsonReport {
    interval: f64,
    samples: Vec<Sample>,
}

/// One sample in the chart's data: (time µs, CPU %, RSS, store bytes,
/// unmanaged), an array rather than an object to keep pages small.
type ChartRow = (u64, Option<f64>, Option<u64>, u64, Option<u64>);

#[derive(Serialize)]
struct ChartData {
    samples: Vec<ChartRow>,
}
