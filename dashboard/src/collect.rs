//! What a local run's callbacks recorded, turned into feed updates: task
//! threads only append small records; the flusher pairs starts with ends,
//! counts progress and measures memory, off their path.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use barrow_core::Key;
use barrow_core::callback::RunInfo;

use crate::feed::{Event, Feed, StateCounts, Update, WorkerRow};
use crate::memory::Memory;
use crate::process;
use crate::progress::{Phase, ProgressTable, key_prefix};
use crate::stream::{Activity, Rect};

/// The name of a local run's one worker: the pool.
pub(crate) const LOCAL_WORKER: &str = "local";

/// Dask's `recent-to-old-time`: unmanaged memory older than this is "old".
const RECENT_TO_OLD: Duration = Duration::from_secs(30);
/// While a run goes on and no task ends, memory and "last seen" are still
/// refreshed this often.
const IDLE_REFRESH: Duration = Duration::from_millis(500);

/// What a callback saw, as the task thread left it.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) generation: u64,
    pub(crate) id: u32,
    pub(crate) worker: u32,
    pub(crate) at: Instant,
    pub(crate) store_bytes: u64,
    /// `None` for a start, the key for an end.
    pub(crate) ended: Option<Key>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TaskState {
    Waiting,
    Running,
    Done,
    Failed,
}

/// One run's tables, by task id.
#[derive(Debug)]
struct Run {
    generation: u64,
    prefix: Vec<u32>,
    function: Vec<u32>,
    functions: Vec<Arc<str>>,
    started: Vec<f64>,
    state: Vec<TaskState>,
}

/// The flusher's state (behind one lock that task threads never take).
#[derive(Debug)]
pub(crate) struct Collector {
    feed: Arc<Feed>,
    run: Option<Run>,
    progress: ProgressTable,
    /// Prefix names by the progress table's ids.
    prefixes: Vec<Arc<str>>,
    /// The pool's name in rectangles ([`LOCAL_WORKER`]).
    local: Arc<str>,
    workers: u32,
    processing: u64,
    /// The latest `store_bytes` seen, and when.
    managed: Option<(Instant, u64)>,
    /// Unmanaged bytes over the last [`RECENT_TO_OLD`].
    unmanaged: VecDeque<(Instant, u64)>,
    limit: u64,
    /// Ends whose start has not been drained yet (another worker's shard).
    orphans: Vec<Record>,
    events: Vec<Event>,
    last_heard: Instant,
    last_push: Instant,
    active: bool,
    /// Something changed that only a push tells the pages.
    dirty: bool,
}

impl Collector {
    pub(crate) fn new(feed: Arc<Feed>) -> Collector {
        let now = Instant::now();
        Collector {
            feed,
            run: None,
            progress: ProgressTable::new(),
            prefixes: Vec::new(),
            local: Arc::from(LOCAL_WORKER),
            workers: 0,
            processing: 0,
            managed: None,
            unmanaged: VecDeque::new(),
            limit: process::total_memory_bytes(),
            orphans: Vec::new(),
            events: Vec::new(),
            last_heard: now,
            last_push: now,
            active: false,
            dirty: false,
        }
    }

    /// A run begins: every task of its plan is counted, waiting.
    pub(crate) fn start(&mut self, generation: u64, run: &RunInfo<'_>) {
        let plan = run.plan;
        self.progress = ProgressTable::new();
        self.prefixes.clear();
        self.orphans.clear();
        self.processing = 0;
        self.workers = u32::try_from(run.workers).unwrap_or(u32::MAX).max(1);
        let mut prefix = Vec::with_capacity(plan.len());
        let mut function = Vec::with_capacity(plan.len());
        let mut functions: Vec<Arc<str>> = Vec::new();
        let mut function_ids: HashMap<&str, u32> = HashMap::new();
        // Keys of one layer share their name: look a prefix up once per
        // layer, not once per task.
        let mut last: Option<(Arc<str>, u32)> = None;
        for id in 0..plan.len() as u32 {
            let key = plan.key(id);
            let pid = match &last {
                Some((name, pid)) if Arc::ptr_eq(name, key.shared_name()) => *pid,
                _ => {
                    let name = key_prefix(key.name());
                    let pid = self.progress.prefix(name);
                    if pid as usize == self.prefixes.len() {
                        self.prefixes.push(Arc::from(name));
                    }
                    last = Some((key.shared_name().clone(), pid));
                    pid
                }
            };
            self.progress.added(pid, Phase::Waiting);
            prefix.push(pid);
            let fid = match plan.task(id).function_name() {
                Some(name) => *function_ids.entry(name).or_insert_with(|| {
                    functions.push(Arc::from(name));
                    functions.len() as u32 - 1
                }),
                None => u32::MAX,
            };
            function.push(fid);
        }
        self.run = Some(Run {
            generation,
            prefix,
            function,
            functions,
            started: vec![f64::NAN; plan.len()],
            state: vec![TaskState::Waiting; plan.len()],
        });
        self.active = true;
        self.dirty = true;
    }

    /// Applies drained records and pushes an update when there is news.
    pub(crate) fn flush(&mut self, mut records: Vec<Record>) {
        records.append(&mut self.orphans);
        let rects = self.apply(records);
        let due = self.active && self.last_push.elapsed() >= IDLE_REFRESH;
        if self.dirty || due || !rects.is_empty() || !self.events.is_empty() {
            self.push(rects);
        }
    }

    fn push(&mut self, rects: Vec<Rect>) {
        let now = Instant::now();
        let update = Update {
            rects,
            workers: Some(vec![self.worker_row(now)]),
            progress: Some(self.progress.rows()),
            states: Some(self.states()),
            events: std::mem::take(&mut self.events),
            thresholds: None,
            finished: Some(!self.active),
        };
        self.feed.update(update);
        self.last_push = now;
        self.dirty = false;
    }

    /// The run ended (`error`: how it failed): the failed task becomes a
    /// black rectangle and an event; tasks that were running stop counting
    /// as processing.
    pub(crate) fn finish(
        &mut self,
        mut records: Vec<Record>,
        run: &RunInfo<'_>,
        error: Option<&barrow_core::Error>,
    ) {
        records.append(&mut self.orphans);
        let mut rects = self.apply(records);
        // Every start is drained by now: an end still without one (a
        // scheduler that skipped `pretask`) becomes a zero-length rectangle.
        let leftovers = std::mem::take(&mut self.orphans);
        if let Some(r) = &mut self.run {
            for record in &leftovers {
                let i = record.id as usize;
                if let (Some(state), Some(started)) = (r.state.get_mut(i), r.started.get_mut(i))
                    && *state == TaskState::Waiting
                {
                    *state = TaskState::Running;
                    *started = self.feed.ms_at(record.at);
                    self.processing += 1;
                    if let Some(&pid) = r.prefix.get(i) {
                        self.progress.moved(pid, Phase::Waiting, Phase::Processing);
                    }
                }
            }
        }
        rects.extend(self.apply(leftovers));
        if let Some(error) = error {
            self.failed(run, error, &mut rects);
        }
        if let Some(r) = &mut self.run {
            // Tasks still running when a task failed were abandoned.
            for (id, state) in r.state.iter_mut().enumerate() {
                if *state == TaskState::Running {
                    *state = TaskState::Waiting;
                    if let Some(&pid) = r.prefix.get(id) {
                        self.progress.moved(pid, Phase::Processing, Phase::Released);
                    }
                }
            }
        }
        self.processing = 0;
        self.active = false;
        self.push(rects);
    }

    fn failed(&mut self, run: &RunInfo<'_>, error: &barrow_core::Error, rects: &mut Vec<Rect>) {
        let now = Instant::now();
        let text = error.to_string();
        let Some(key) = error.key() else {
            self.events.push(Event {
                at_ms: self.feed.ms_at(now),
                kind: "run-failed".to_owned(),
                key: None,
                worker: Some(LOCAL_WORKER.to_owned()),
                text,
            });
            return;
        };
        let id = run.plan.keys().iter().position(|&k| k == key);
        if let (Some(id), Some(r)) = (id, &mut self.run)
            && let Some(state) = r.state.get_mut(id)
        {
            let pid = r.prefix.get(id).copied().unwrap_or(u32::MAX);
            let from = match *state {
                TaskState::Running => Phase::Processing,
                TaskState::Waiting => Phase::Waiting,
                TaskState::Done => Phase::Memory,
                TaskState::Failed => Phase::Failed,
            };
            *state = TaskState::Failed;
            self.progress.moved(pid, from, Phase::Failed);
            let end = self.feed.ms_at(now);
            let start = match r.started.get(id) {
                Some(s) if !s.is_nan() => *s,
                _ => end,
            };
            let function = r
                .function
                .get(id)
                .and_then(|&f| r.functions.get(f as usize))
                .cloned()
                .unwrap_or_default();
            rects.push(Rect {
                start_ms: start,
                duration_ms: (end - start).max(0.0),
                worker: self.local.clone(),
                thread: 0,
                activity: Activity::Compute,
                key: key.clone(),
                prefix: self.prefixes.get(pid as usize).cloned().unwrap_or_default(),
                function,
                failed: true,
            });
        }
        self.events.push(Event {
            at_ms: self.feed.ms_at(now),
            kind: "task-failed".to_owned(),
            key: Some(key.to_string()),
            worker: Some(LOCAL_WORKER.to_owned()),
            text,
        });
    }

    /// Starts first (a task's start and end may come from two shards),
    /// then ends in time order: rectangles enter the ring as they ended.
    fn apply(&mut self, mut records: Vec<Record>) -> Vec<Rect> {
        let mut rects = Vec::new();
        let Some(run) = &mut self.run else {
            return rects;
        };
        records.retain(|r| r.generation == run.generation);
        records.sort_by_key(|r| r.at);
        if let Some(last) = records.last() {
            self.last_heard = self.last_heard.max(last.at);
            if self.managed.is_none_or(|(at, _)| at <= last.at) {
                self.managed = Some((last.at, last.store_bytes));
            }
        }
        for record in records.iter().filter(|r| r.ended.is_none()) {
            let i = record.id as usize;
            let (Some(state), Some(started)) = (run.state.get_mut(i), run.started.get_mut(i))
            else {
                continue;
            };
            if *state != TaskState::Waiting {
                continue;
            }
            *state = TaskState::Running;
            *started = self.feed.ms_at(record.at);
            self.processing += 1;
            if let Some(&pid) = run.prefix.get(i) {
                self.progress.moved(pid, Phase::Waiting, Phase::Processing);
            }
        }
        for record in records {
            let Some(key) = &record.ended else {
                continue;
            };
            let i = record.id as usize;
            let (Some(state), Some(&start)) = (run.state.get_mut(i), run.started.get(i)) else {
                continue;
            };
            match *state {
                TaskState::Running => {}
                TaskState::Waiting => {
                    self.orphans.push(record);
                    continue;
                }
                TaskState::Done | TaskState::Failed => continue,
            }
            *state = TaskState::Done;
            self.processing = self.processing.saturating_sub(1);
            let pid = run.prefix.get(i).copied().unwrap_or(u32::MAX);
            self.progress.moved(pid, Phase::Processing, Phase::Memory);
            let end = self.feed.ms_at(record.at);
            rects.push(Rect {
                start_ms: start,
                duration_ms: (end - start).max(0.0),
                worker: self.local.clone(),
                thread: record.worker.min(self.workers.saturating_sub(1)),
                activity: Activity::Compute,
                key: key.clone(),
                prefix: self.prefixes.get(pid as usize).cloned().unwrap_or_default(),
                function: run
                    .function
                    .get(i)
                    .and_then(|&f| run.functions.get(f as usize))
                    .cloned()
                    .unwrap_or_default(),
                failed: false,
            });
        }
        rects
    }

    fn memory(&mut self, now: Instant) -> Memory {
        let process = process::resident_bytes();
        let managed = self.managed.map_or(0, |(_, b)| b);
        let unmanaged = process.saturating_sub(managed);
        while self
            .unmanaged
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > RECENT_TO_OLD)
        {
            self.unmanaged.pop_front();
        }
        if process > 0 {
            self.unmanaged.push_back((now, unmanaged));
        }
        // Dask's "old" unmanaged memory: the least seen over the window.
        let old = self
            .unmanaged
            .iter()
            .map(|(_, b)| *b)
            .min()
            .unwrap_or(0)
            .min(unmanaged);
        Memory {
            managed: if process > 0 {
                managed.min(process)
            } else {
                managed
            },
            unmanaged_old: old,
            unmanaged_recent: unmanaged - old,
            spilled: 0,
            process,
            limit: self.limit,
        }
    }

    fn worker_row(&mut self, now: Instant) -> WorkerRow {
        WorkerRow {
            name: LOCAL_WORKER.to_owned(),
            address: String::new(),
            threads: self.workers.max(1),
            status: "running".to_owned(),
            memory: self.memory(now),
            processing: self.processing,
            keys: 0,
            last_seen_ms: if self.active {
                now.saturating_duration_since(self.last_heard).as_secs_f64() * 1e3
            } else {
                0.0
            },
            transfer_in: 0,
            transfer_out: 0,
            // The pool shares this process with its caller: no figure of
            // its own.
            cpu: None,
        }
    }

    /// Tasks by state, with Dask's state names, for `/metrics`.
    fn states(&self) -> StateCounts {
        let mut counts = [0u64; 4];
        if let Some(run) = &self.run {
            for state in &run.state {
                counts[*state as usize] += 1;
            }
        }
        vec![
            ("waiting".to_owned(), counts[TaskState::Waiting as usize]),
            ("processing".to_owned(), counts[TaskState::Running as usize]),
            ("memory".to_owned(), counts[TaskState::Done as usize]),
            ("erred".to_owned(), counts[TaskState::Failed as usize]),
        ]
    }
}
