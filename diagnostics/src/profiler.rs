//! The task profiler (Dask's `Profiler`): when each task ran, and where.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use barrow_core::callback::{Callback, RunInfo, TaskEvent};
use barrow_core::{Key, Value};
use serde::Serialize;

use crate::error::Result;
use crate::html;

/// The name shown for tasks that call no function (literals and aliases).
pub const NO_FUNCTION: &str = "(no function)";

/// One task as the [`Profiler`] saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskRecord {
    /// The task's key.
    pub key: Key,
    /// The function it called, if it is a call.
    pub function: Option<Arc<str>>,
    /// When it started, from the profiler's first run (see [`Profiler`] for
    /// how this is measured on parallel schedulers).
    pub start: Duration,
    /// When it ended, from the profiler's first run.
    pub end: Duration,
    /// The worker that ran it (0 on the synchronous scheduler).
    pub worker: usize,
}

impl TaskRecord {
    /// How long it ran.
    pub fn duration(&self) -> Duration {
        self.end.saturating_sub(self.start)
    }
}

/// Records when each task ran and on which worker: a callback to pass to a
/// computation, then [`results`](Profiler::results), a JSON file or an HTML
/// timeline with one lane per worker (Dask's `Profiler`).
///
/// ```
/// use std::sync::Arc;
/// use barrow_core::arg::key;
/// use barrow_core::collection::GraphKeys;
/// use barrow_core::{Func, Graph, Options, Task, compute_with};
/// use barrow_diagnostics::Profiler;
///
/// let inc = Func::new("inc", |x: &i64| x + 1);
/// let graph = Graph::from_tasks([
///     ("x", Task::literal(1i64)),
///     ("y", Task::call(&inc, [key("x")])),
/// ])?;
/// let profiler = Profiler::new();
/// let options = Options::new()
///     .scheduler_object(Arc::new(barrow_local::SyncScheduler))
///     .optimize_graph(false) // run x and y as two tasks, not one fused task
///     .callback(Arc::new(profiler.clone()));
/// compute_with(GraphKeys::new(graph, ["y"]), &options)?;
///
/// let results = profiler.results();
/// assert_eq!(results.len(), 2);
/// assert!(results.iter().all(|r| r.start <= r.end));
/// assert!(profiler.to_html()?.contains("inc"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Clones share their records: keep one, hand a clone to the options.
/// Records accumulate over runs on one clock (started by the first run)
/// until [`clear`](Profiler::clear). A task that failed has no record.
///
/// **How times are taken.** The local schedulers call `pretask` and
/// `posttask` on the thread that runs the task, right before and right after
/// it (the caller's thread for `sync`, the worker's for `threads`), so a
/// task's start is its `pretask` (or, if later, the end of the same worker's
/// previous task) and its end is its `posttask`: exact to the cost of the
/// callbacks. Schedulers that report from elsewhere (worker processes) give
/// times accurate to their reaction time. Runs are expected one at a time:
/// two runs overlapping on one profiler mix up their start times.
#[derive(Clone, Default)]
pub struct Profiler {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// The clock's zero: the first run's start since the last `clear`.
    epoch: Option<Instant>,
    scheduler: String,
    workers: usize,
    /// When each task of the current run was handed out, by id.
    submitted: Vec<Option<Instant>>,
    /// When each worker's last task was seen ending, in the current run.
    worker_free: Vec<Option<Instant>>,
    /// Function names, shared between records.
    names: HashMap<Box<str>, Arc<str>>,
    records: Vec<TaskRecord>,
}

impl Profiler {
    /// A profiler with no record yet.
    pub fn new() -> Profiler {
        Profiler::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves plain data behind:
        // keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every task recorded so far, in the order they ended.
    pub fn results(&self) -> Vec<TaskRecord> {
        self.state().records.clone()
    }

    /// Number of tasks recorded.
    pub fn len(&self) -> usize {
        self.state().records.len()
    }

    /// Whether no task was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every record and restarts the clock at the next run.
    pub fn clear(&self) {
        *self.state() = State::default();
    }

    /// The records as JSON: `{"scheduler", "workers", "tasks": [{"key",
    /// "function", "start", "end", "worker"}]}`, times in seconds.
    pub fn to_json(&self) -> Result<String> {
        let state = self.state();
        let report = JsonReport::new(&state);
        html::script_json(&report)
    }

    /// Writes [`to_json`](Profiler::to_json)'s document to `path`.
    pub fn write_json(&self, path: impl AsRef<Path>) -> Result<()> {
        let state = self.state();
        html::write_json(path.as_ref(), &JsonReport::new(&state), "profile")
    }

    /// A self-contained HTML page (no network needed) with the timeline:
    /// one lane per worker, one bar per task coloured by function, a
    /// tooltip with key, function and duration, zoom with the wheel.
    pub fn to_html(&self) -> Result<String> {
        let state = self.state();
        let mut functions: Vec<&str> = Vec::new();
        let mut function_ids: HashMap<&str, usize> = HashMap::new();
        let mut tasks = Vec::with_capacity(state.records.len());
        let mut lanes = state.workers.max(1);
        let mut last_end = Duration::ZERO;
        for record in &state.records {
            let name = record.function.as_deref().unwrap_or(NO_FUNCTION);
            let function = *function_ids.entry(name).or_insert_with(|| {
                functions.push(name);
                functions.len() - 1
            });
            lanes = lanes.max(record.worker + 1);
            last_end = last_end.max(record.end);
            tasks.push((
                record.key.to_string(),
                function,
                micros(record.start),
                micros(record.end),
                record.worker,
            ));
        }
        let data = html::script_json(&TimelineData {
            workers: lanes,
            functions,
            tasks,
        })?;
        let meta = format!(
            "{} tasks on {} worker{} ({} scheduler), {:.3} s",
            state.records.len(),
            lanes,
            if lanes == 1 { "" } else { "s" },
            if state.scheduler.is_empty() {
                "no"
            } else {
                &state.scheduler
            },
            last_end.as_secs_f64(),
        );
        Ok(html::Page {
            title: "Barrow task profile",
            meta: &meta,
            hint: "Hover a bar for its task; scroll to zoom, drag to pan, double-click to see \
                   everything.",
            data: &data,
            script: include_str!("html/timeline.js"),
        }
        .render())
    }

    /// Writes [`to_html`](Profiler::to_html)'s page to `path`.
    pub fn write_html(&self, path: impl AsRef<Path>) -> Result<()> {
        html::write_file(path.as_ref(), &self.to_html()?, "profile timeline")
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

impl fmt::Debug for Profiler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("Profiler")
            .field("records", &state.records.len())
            .field("scheduler", &state.scheduler)
            .field("workers", &state.workers)
            .finish()
    }
}

impl Callback for Profiler {
    fn start(&self, run: &RunInfo<'_>) {
        let now = Instant::now();
        let mut state = self.state();
        state.epoch.get_or_insert(now);
        state.scheduler = run.scheduler.to_string();
        state.workers = state.workers.max(run.workers);
        state.submitted.clear();
        state.submitted.resize(run.plan.len(), None);
        state.worker_free.clear();
        state.records.reserve(run.plan.len());
    }

    fn pretask(&self, task: &TaskEvent<'_>) {
        let now = Instant::now();
        let mut state = self.state();
        let slot = task.id as usize;
        if slot >= state.submitted.len() {
            state.submitted.resize(slot + 1, None);
        }
        state.submitted[slot] = Some(now);
    }

    fn posttask(&self, task: &TaskEvent<'_>, _value: &Value) {
        let end = Instant::now();
        let mut state = self.state();
        let state = &mut *state;
        let epoch = *state.epoch.get_or_insert(end);
        let mut start = state
            .submitted
            .get(task.id as usize)
            .copied()
            .flatten()
            .unwrap_or(end);
        if state.worker_free.len() <= task.worker {
            state.worker_free.resize(task.worker + 1, None);
        }
        if let Some(free) = state.worker_free[task.worker] {
            start = start.max(free).min(end);
        }
        state.worker_free[task.worker] = Some(end);
        let function = task.function.map(|name| {
            if let Some(shared) = state.names.get(name) {
                return shared.clone();
            }
            let shared: Arc<str> = Arc::from(name);
            state.names.insert(name.into(), shared.clone());
            shared
        });
        state.records.push(TaskRecord {
            key: task.key.clone(),
            function,
            start: start.saturating_duration_since(epoch),
            end: end.saturating_duration_since(epoch),
            worker: task.worker,
        });
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    scheduler: &'a str,
    workers: usize,
    tasks: Vec<JsonTask<'a>>,
}

#[derive(Serialize)]
struct JsonTask<'a> {
    key: String,
    function: Option<&'a str>,
    start: f64,
    end: f64,
    worker: usize,
}

impl<'a> JsonReport<'a> {
    fn new(state: &'a State) -> JsonReport<'a> {
        JsonReport {
            scheduler: &state.scheduler,
            workers: state.workers,
            tasks: state
                .records
                .iter()
                .map(|r| JsonTask {
                    key: r.key.to_string(),
                    function: r.function.as_deref(),
                    start: r.start.as_secs_f64(),
                    end: r.end.as_secs_f64(),
                    worker: r.worker,
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct TimelineData<'a> {
    workers: usize,
    functions: Vec<&'a str>,
    /// (key, function index, start µs, end µs, worker): arrays, not objects,
    /// to keep pages of many tasks small.
    tasks: Vec<(String, usize, u64, u64, usize)>,
}
