//! What the dashboard sees of the scheduler: progress per prefix, kept by
//! counting transitions, the task stream from workers' reports, events,
//! and a batch of it all every `distributed.dashboard.interval`. Off
//! (`None` in the state) unless a dashboard is served: then each
//! transition costs a few additions and each finished task one rectangle.

use std::sync::Arc;
use std::time::{Duration, Instant};

use barrow_dashboard::{
    Activity, Event, Memory, Phase, ProgressTable, Rect, StateCounts, Thresholds, Update, WorkerRow,
};

use super::{SchedulerState, State};
use crate::protocol::{ActivityKind, TaskId, WorkerActivity, WorkerId};
use barrow_core::Key;

/// Events kept between two batches, at most (a burst past it drops the
/// oldest: the page is a view, not a record).
const PENDING_LIMIT: usize = 10_000;

/// Task rectangles recorded per batch, at most: 20,000 a second at the
/// default interval, what a pushed update carries and more than a page can
/// draw. Past it, in a batch, finished tasks are counted (in progress) but
/// not drawn, so a graph of very short tasks pays nothing more for its
/// stream; a failed task is always drawn.
const RECTS_PER_BATCH: usize = 2_000;

/// How a worker ran a task: for the task stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ran {
    pub(crate) duration_us: u64,
    pub(crate) thread: u32,
}

/// The dashboard's share of the scheduler's state.
#[derive(Debug)]
pub(crate) struct Watch {
    /// When the dashboard's feed began: rectangles are timed from it.
    epoch: Instant,
    progress: ProgressTable,
    rects: Vec<Rect>,
    events: Vec<Event>,
    thresholds: Thresholds,
    sent_thresholds: bool,
    /// Shared names for rectangles, by worker, prefix and function id.
    worker_names: rustc_hash::FxHashMap<WorkerId, Arc<str>>,
    progress_names: Vec<Arc<str>>,
    function_names: Vec<Option<Arc<str>>>,
    empty: Arc<str>,
}

impl Watch {
    pub(crate) fn new(epoch: Instant, thresholds: Thresholds) -> Watch {
        Watch {
            epoch,
            progress: ProgressTable::new(),
            rects: Vec::new(),
            events: Vec::new(),
            thresholds,
            sent_thresholds: false,
            worker_names: rustc_hash::FxHashMap::default(),
            progress_names: Vec::new(),
            function_names: Vec::new(),
            empty: Arc::from(""),
        }
    }

    /// A prefix the scheduler interned under the next id.
    fn add_prefix(&mut self, name: &str) {
        let id = self.progress.prefix(name);
        if id as usize == self.progress_names.len() {
            self.progress_names.push(Arc::from(name));
        }
    }

    fn ms(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.epoch).as_secs_f64() * 1e3
    }

    fn push_rect(&mut self, rect: Rect) {
        self.rects.push(rect);
    }

    /// Whether this batch has room for another task's rectangle.
    fn room(&self) -> bool {
        self.rects.len() < RECTS_PER_BATCH
    }

    fn push_event(
        &mut self,
        at: Instant,
        kind: &str,
        key: Option<String>,
        worker: Option<String>,
        text: String,
    ) {
        if self.events.len() >= PENDING_LIMIT {
            // Rare (a storm of failures): the O(n) shift is fine.
            self.events.remove(0);
        }
        let at_ms = self.ms(at);
        self.events.push(Event {
            at_ms,
            kind: kind.to_owned(),
            key,
            worker,
            text,
        });
    }
}

/// How progress counts a scheduler state.
fn phase(state: State) -> Phase {
    match state {
        State::Released => Phase::Released,
        State::Waiting => Phase::Waiting,
        State::Queued | State::NoWorker => Phase::Queued,
        State::Processing => Phase::Processing,
        State::Memory => Phase::Memory,
        State::Erred => Phase::Failed,
    }
}

impl SchedulerState {
    /// Starts watching for a dashboard whose feed began at `epoch`.
    pub fn watch(&mut self, epoch: Instant, thresholds: Thresholds) {
        let mut watch = Watch::new(epoch, thresholds);
        // Prefixes keep the scheduler's ids, so a task's prefix is its row.
        for name in self.prefix_ids_in_order() {
            watch.add_prefix(&name);
        }
        for (_, task) in self.tasks.iter() {
            watch.progress.added(task.prefix, phase(task.state));
        }
        self.watch = Some(Box::new(watch));
    }

    fn prefix_ids_in_order(&self) -> Vec<String> {
        let mut names: Vec<(u32, &str)> =
            self.prefix_ids.iter().map(|(n, &id)| (id, &**n)).collect();
        names.sort_unstable();
        names.into_iter().map(|(_, n)| n.to_owned()).collect()
    }

    /// A prefix was interned under `id` (the next one).
    pub(crate) fn watch_prefix(&mut self, name: &str) {
        if let Some(w) = &mut self.watch {
            w.add_prefix(name);
        }
    }

    /// A task was added in `state`.
    pub(crate) fn watch_added(&mut self, prefix: u32, state: State) {
        if let Some(w) = &mut self.watch {
            w.progress.added(prefix, phase(state));
        }
    }

    /// A task moved; `needed` says whether it stays needed (a value lost
    /// while needed is computed again, so it is no longer done).
    pub(crate) fn watch_moved(&mut self, prefix: u32, from: State, to: State, needed: bool) {
        let Some(w) = &mut self.watch else {
            return;
        };
        let (from_phase, to_phase) = (phase(from), phase(to));
        if from_phase != to_phase {
            w.progress.moved(prefix, from_phase, to_phase);
        }
        if from == State::Memory && to != State::Memory && to != State::Erred && needed {
            w.progress.lost(prefix);
        }
    }

    /// A scattered value (added as released) is held: it counts as done,
    /// since there is nothing to compute.
    pub(crate) fn watch_scattered(&mut self, prefix: u32) {
        if let Some(w) = &mut self.watch {
            w.progress.moved(prefix, Phase::Released, Phase::Processing);
            w.progress.moved(prefix, Phase::Processing, Phase::Memory);
        }
    }

    /// A task was forgotten in `state`.
    pub(crate) fn watch_forgotten(&mut self, prefix: u32, state: State) {
        if let Some(w) = &mut self.watch {
            w.progress.forgotten(prefix, phase(state));
        }
    }

    /// A worker's result: its rectangle, ending now.
    pub(crate) fn watch_ran(
        &mut self,
        worker: WorkerId,
        id: TaskId,
        ran: Ran,
        error: Option<&str>,
    ) {
        let Ran {
            duration_us,
            thread,
        } = ran;
        match self.watch.as_deref() {
            None => return,
            Some(w) if error.is_none() && !w.room() => return,
            Some(_) => {}
        }
        let Some(task) = self.tasks.get(id) else {
            return;
        };
        let key = task.key.clone();
        let (prefix, function) = (task.prefix, task.functions.first().copied());
        let now = self.now;
        let Some(w) = self.watch.as_deref_mut() else {
            return;
        };
        // Names are shared, looked up once: a rectangle allocates nothing.
        let worker_name = w
            .worker_names
            .entry(worker)
            .or_insert_with(|| {
                self.workers
                    .get(&worker)
                    .map_or_else(|| Arc::from(""), |w| Arc::from(w.name.as_str()))
            })
            .clone();
        let prefix = w
            .progress_names
            .get(prefix as usize)
            .cloned()
            .unwrap_or_else(|| Arc::from(""));
        let function = match function {
            Some(f) => {
                let slot = f as usize;
                if w.function_names.len() <= slot {
                    w.function_names.resize(slot + 1, None);
                }
                w.function_names[slot]
                    .get_or_insert_with(|| Arc::from(self.functions.name(f)))
                    .clone()
            }
            None => w.empty.clone(),
        };
        let duration_ms = duration_us as f64 / 1e3;
        let start_ms = (w.ms(now) - duration_ms).max(0.0);
        if let Some(text) = error {
            w.push_event(
                now,
                "task-failed",
                Some(key.to_string()),
                Some(worker_name.to_string()),
                text.to_owned(),
            );
        }
        w.push_rect(Rect {
            start_ms,
            duration_ms,
            worker: worker_name,
            thread,
            activity: Activity::Compute,
            key,
            prefix,
            function,
            failed: error.is_some(),
        });
    }

    /// Transfers and spill reads and writes a worker reports.
    pub(crate) fn watch_activity(&mut self, worker: WorkerId, activity: &[WorkerActivity]) {
        if self.watch.is_none() || activity.is_empty() {
            return;
        }
        let Some(w) = self.workers.get(&worker) else {
            return;
        };
        let (name, threads) = (Arc::<str>::from(w.name.as_str()), w.nthreads);
        let Some(watch) = self.watch.as_deref() else {
            return;
        };
        let epoch = watch.epoch;
        let rects: Vec<Rect> = activity
            .iter()
            .map(|a| {
                // A value forgotten since has no key left to show.
                let (key, prefix) = match self.tasks.get(a.id) {
                    Some(t) => (
                        t.key.clone(),
                        watch
                            .progress_names
                            .get(t.prefix as usize)
                            .cloned()
                            .unwrap_or_else(|| watch.empty.clone()),
                    ),
                    None => (Key::from(""), watch.empty.clone()),
                };
                let kind = match a.kind {
                    ActivityKind::Transfer => Activity::Transfer,
                    ActivityKind::DiskRead => Activity::DiskRead,
                    ActivityKind::DiskWrite => Activity::DiskWrite,
                };
                // Timed by the worker's clock relative to its message, so
                // clocks need not agree.
                let ended = self
                    .now
                    .checked_sub(Duration::from_micros(a.ended_us_ago))
                    .unwrap_or(self.now);
                let end_ms = ended.saturating_duration_since(epoch).as_secs_f64() * 1e3;
                let duration_ms = a.duration_us as f64 / 1e3;
                Rect {
                    start_ms: (end_ms - duration_ms).max(0.0),
                    duration_ms,
                    worker: name.clone(),
                    thread: barrow_dashboard::TaskStream::lane(threads, kind, 0),
                    activity: kind,
                    prefix,
                    function: Arc::from(if a.count > 1 {
                        format!("{} values, {} bytes", a.count, a.bytes)
                    } else {
                        format!("{} bytes", a.bytes)
                    }),
                    key,
                    failed: false,
                }
            })
            .collect();
        if let Some(w) = &mut self.watch {
            for rect in rects {
                w.push_rect(rect);
            }
        }
    }

    /// A worker joined or left (`kind`), with why.
    pub(crate) fn watch_worker(&mut self, kind: &str, name: &str, text: String) {
        let now = self.now;
        if let Some(w) = &mut self.watch {
            w.push_event(now, kind, None, Some(name.to_owned()), text);
        }
    }

    /// Everything since the last batch, and the workers and progress now;
    /// `None` when not watching.
    pub fn watch_update(&mut self) -> Option<Update> {
        self.watch.as_ref()?;
        let now = self.now;
        let mut workers: Vec<&super::Worker> = self.workers.values().collect();
        workers.sort_unstable_by_key(|w| w.id);
        let rows: Vec<WorkerRow> = workers
            .into_iter()
            .map(|w| {
                let m = w.memory.segments(w.managed_bytes, w.memory_limit);
                let (transfer_in, transfer_out) = w.transfers;
                WorkerRow {
                    name: w.name.clone(),
                    address: w.address.clone(),
                    threads: w.nthreads,
                    status: w.status.name().to_owned(),
                    memory: Memory {
                        managed: m.managed,
                        unmanaged_old: m.unmanaged_old,
                        unmanaged_recent: m.unmanaged_recent,
                        spilled: m.spilled,
                        process: m.process,
                        limit: m.limit,
                    },
                    processing: w.processing.len() as u64,
                    keys: w.has_what.len() as u64,
                    last_seen_ms: now.saturating_duration_since(w.last_seen).as_secs_f64() * 1e3,
                    transfer_in,
                    transfer_out,
                    cpu: w.cpu.map(f64::from),
                }
            })
            .collect();
        let watch = self.watch.as_mut()?;
        let progress = watch.progress.rows();
        let states: StateCounts = [
            ("waiting", progress.iter().map(|p| p.waiting).sum::<u64>()),
            ("queued", progress.iter().map(|p| p.queued).sum()),
            ("processing", progress.iter().map(|p| p.processing).sum()),
            ("memory", progress.iter().map(|p| p.memory).sum()),
            ("erred", progress.iter().map(|p| p.failed).sum()),
        ]
        .into_iter()
        .map(|(s, n)| (s.to_owned(), n))
        .collect();
        let thresholds = (!watch.sent_thresholds).then_some(watch.thresholds);
        watch.sent_thresholds = true;
        Some(Update {
            rects: std::mem::take(&mut watch.rects),
            workers: Some(rows),
            progress: Some(progress),
            states: Some(states),
            events: std::mem::take(&mut watch.events),
            thresholds,
            finished: None,
        })
    }

    /// A restart forgot every task.
    pub(crate) fn watch_restarted(&mut self) {
        let now = self.now;
        let names = self.prefix_ids_in_order();
        if let Some(w) = &mut self.watch {
            w.progress.clear();
            // Prefix ids stay the scheduler's.
            for name in &names {
                w.progress.prefix(name);
            }
            w.push_event(
                now,
                "restart",
                None,
                None,
                "the cluster restarted".to_owned(),
            );
        }
    }
}
