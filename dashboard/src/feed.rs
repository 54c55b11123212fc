//! The feed: what a producer (a cluster's scheduler, a local run's
//! callback) last said, held for the pages. Producers write in batches,
//! about every 100 ms, so the lock is taken a few times a second and never
//! per task; pages read snapshots from it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use serde::Serialize;

use crate::memory::{Memory, MemoryColour, Thresholds};
use crate::progress::{Overall, PrefixProgress};
use crate::stream::{Rect, StreamDelta, TaskStream};

/// One worker, as the workers table and the memory bars show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WorkerRow {
    /// Its name.
    pub name: String,
    /// Its address (empty for a local run's pool).
    pub address: String,
    /// Task threads.
    pub threads: u32,
    /// `running`, `paused` or `retiring`.
    pub status: String,
    /// Its memory.
    pub memory: Memory,
    /// Tasks sent to it and not finished.
    pub processing: u64,
    /// Values it holds.
    pub keys: u64,
    /// Milliseconds since it was last heard from.
    pub last_seen_ms: f64,
    /// Bytes it received from peers.
    pub transfer_in: u64,
    /// Bytes it sent to peers.
    pub transfer_out: u64,
    /// Its process's processor use lately, in percent of one core (`None`:
    /// unknown).
    pub cpu: Option<f64>,
}

impl WorkerRow {
    /// Whether it takes new work.
    pub fn running(&self) -> bool {
        self.status == "running"
    }
}

/// What happened that a user should see: a failed task, a lost worker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Milliseconds since the feed began.
    pub at_ms: f64,
    /// `task-failed`, `worker-added`, `worker-lost`, `worker-removed`, ….
    pub kind: String,
    /// The task's key, for task events.
    pub key: Option<String>,
    /// The worker, for worker events (and where a task failed).
    pub worker: Option<String>,
    /// The error's text, or the cause of a worker's loss.
    pub text: String,
}

/// Tasks by the producer's own state names (`memory`, `processing`, …),
/// for `/metrics`.
pub type StateCounts = Vec<(String, u64)>;

/// One batch from a producer. Fields left `None` keep their last value.
#[derive(Debug, Clone, Default)]
pub struct Update {
    /// New task stream rectangles.
    pub rects: Vec<Rect>,
    /// Every worker now.
    pub workers: Option<Vec<WorkerRow>>,
    /// Every prefix now.
    pub progress: Option<Vec<PrefixProgress>>,
    /// Tasks by state now.
    pub states: Option<StateCounts>,
    /// New events.
    pub events: Vec<Event>,
    /// The memory thresholds.
    pub thresholds: Option<Thresholds>,
    /// The computation is over: the page shows the last snapshot as final.
    pub finished: Option<bool>,
}

/// What a feed serves, and how much it keeps.
#[derive(Debug, Clone)]
pub struct FeedOptions {
    /// What is being watched: `cluster tcp://…`, `threads`, ….
    pub title: String,
    /// Task stream rectangles kept (Dask keeps 100,000 on /tasks).
    pub stream_capacity: usize,
    /// Events kept.
    pub event_capacity: usize,
}

impl Default for FeedOptions {
    fn default() -> FeedOptions {
        FeedOptions {
            title: "barrow".to_owned(),
            stream_capacity: 100_000,
            event_capacity: 1_000,
        }
    }
}

/// Where a reader stands: the next stream rectangle and event it has not
/// seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, Serialize)]
pub struct Cursor {
    /// The next rectangle's index.
    #[serde(default)]
    pub stream: u64,
    /// The next event's index.
    #[serde(default)]
    pub events: u64,
}

/// A worker with its bar's colour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkerView {
    /// The worker.
    #[serde(flatten)]
    pub row: WorkerRow,
    /// Its memory bar's colour.
    pub colour: MemoryColour,
}

/// What a page gets: the whole state but for the stream and events, of
/// which only what is new since the reader's cursor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// What is watched.
    pub title: String,
    /// Milliseconds since the feed began.
    pub now_ms: f64,
    /// Updates received.
    pub version: u64,
    /// New rectangles.
    pub stream: StreamDelta,
    /// Workers, by name.
    pub workers: Vec<WorkerView>,
    /// The sum of the workers' memory, with its colour.
    pub cluster_memory: Memory,
    /// The cluster bar's colour.
    pub cluster_colour: MemoryColour,
    /// The thresholds the colours use.
    pub thresholds: Thresholds,
    /// Per prefix.
    pub progress: Vec<PrefixProgress>,
    /// Over every prefix.
    pub overall: Overall,
    /// Tasks by state.
    pub states: StateCounts,
    /// New events.
    pub events: Vec<Event>,
    /// Where the next read starts.
    pub cursor: Cursor,
    /// Whether the computation is over.
    pub finished: bool,
}

#[derive(Debug)]
struct Board {
    stream: TaskStream,
    workers: Vec<WorkerRow>,
    progress: Vec<PrefixProgress>,
    states: StateCounts,
    events: VecDeque<Event>,
    event_capacity: usize,
    events_next: u64,
    thresholds: Thresholds,
    finished: bool,
    version: u64,
}

/// The shared state between producers and pages.
#[derive(Debug)]
pub struct Feed {
    title: String,
    started: Instant,
    board: Mutex<Board>,
}

impl Feed {
    /// A feed, beginning now.
    pub fn new(options: FeedOptions) -> Arc<Feed> {
        Arc::new(Feed {
            title: options.title,
            started: Instant::now(),
            board: Mutex::new(Board {
                stream: TaskStream::new(options.stream_capacity),
                workers: Vec::new(),
                progress: Vec::new(),
                states: Vec::new(),
                events: VecDeque::new(),
                event_capacity: options.event_capacity.max(1),
                events_next: 0,
                thresholds: Thresholds::default(),
                finished: false,
                version: 0,
            }),
        })
    }

    /// When the feed began: producers time rectangles from it.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Milliseconds from the feed's beginning to `at` (0 before it).
    pub fn ms_at(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.started).as_secs_f64() * 1e3
    }

    /// Milliseconds since the feed began.
    pub fn now_ms(&self) -> f64 {
        self.ms_at(Instant::now())
    }

    fn board(&self) -> MutexGuard<'_, Board> {
        // A producer that panicked mid-update leaves a board that is still
        // well-formed (every field is replaced whole): keep serving it.
        self.board.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies one batch.
    pub fn update(&self, update: Update) {
        let mut board = self.board();
        for rect in update.rects {
            board.stream.push(rect);
        }
        if let Some(workers) = update.workers {
            board.workers = workers;
            board.workers.sort_by(|a, b| a.name.cmp(&b.name));
        }
        if let Some(progress) = update.progress {
            board.progress = progress;
        }
        if let Some(states) = update.states {
            board.states = states;
        }
        for event in update.events {
            if board.events.len() == board.event_capacity {
                board.events.pop_front();
            }
            board.events.push_back(event);
            board.events_next += 1;
        }
        if let Some(thresholds) = update.thresholds {
            board.thresholds = thresholds;
        }
        if let Some(finished) = update.finished {
            board.finished = finished;
        }
        board.version += 1;
    }

    /// Task stream rectangles kept at most (a page keeps no more).
    pub fn stream_capacity(&self) -> usize {
        self.board().stream.capacity()
    }

    /// Updates applied so far.
    pub fn version(&self) -> u64 {
        self.board().version
    }

    /// Everything, with what is new since `cursor`.
    pub fn snapshot(&self, cursor: Cursor) -> Snapshot {
        self.snapshot_at_most(cursor, usize::MAX)
    }

    /// The same, with at most the newest `rects` new rectangles (the rest
    /// count in `stream.dropped`, and are never copied).
    pub fn snapshot_at_most(&self, cursor: Cursor, rects: usize) -> Snapshot {
        let board = self.board();
        let stream = board.stream.since_at_most(cursor.stream, rects);
        let first_event = board.events_next - board.events.len() as u64;
        let skip = cursor.events.clamp(first_event, board.events_next) - first_event;
        let events: Vec<Event> = board.events.iter().skip(skip as usize).cloned().collect();
        let mut cluster_memory = Memory::default();
        let workers: Vec<WorkerView> = board
            .workers
            .iter()
            .map(|w| {
                cluster_memory.add(&w.memory);
                WorkerView {
                    colour: MemoryColour::of(&w.memory, &board.thresholds, w.running()),
                    row: w.clone(),
                }
            })
            .collect();
        let all_running = board.workers.iter().all(WorkerRow::running);
        Snapshot {
            title: self.title.clone(),
            now_ms: self.now_ms(),
            version: board.version,
            cursor: Cursor {
                stream: stream.next,
                events: board.events_next,
            },
            stream,
            cluster_colour: MemoryColour::of(&cluster_memory, &board.thresholds, all_running),
            cluster_memory,
            workers,
            thresholds: board.thresholds,
            overall: Overall::of(&board.progress),
            progress: board.progress.clone(),
            states: board.states.clone(),
            events,
            finished: board.finished,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::Activity;

    fn rect(key: &str) -> Rect {
        Rect {
            start_ms: 0.0,
            duration_ms: 1.0,
            worker: "w0".into(),
            thread: 0,
            activity: Activity::Compute,
            key: key.into(),
            prefix: "x".into(),
            function: "".into(),
            failed: false,
        }
    }

    fn worker(name: &str, status: &str, process: u64) -> WorkerRow {
        WorkerRow {
            name: name.into(),
            threads: 1,
            status: status.into(),
            memory: Memory {
                managed: process / 2,
                process,
                limit: 100,
                ..Memory::default()
            },
            ..WorkerRow::default()
        }
    }

    #[test]
    fn a_reader_gets_new_rectangles_and_events_once() {
        let feed = Feed::new(FeedOptions::default());
        feed.update(Update {
            rects: vec![rect("x-1"), rect("x-2")],
            events: vec![Event {
                at_ms: 1.0,
                kind: "task-failed".into(),
                key: Some("x-2".into()),
                worker: Some("w0".into()),
                text: "boom".into(),
            }],
            ..Update::default()
        });
        let first = feed.snapshot(Cursor::default());
        assert_eq!(first.stream.rects.len(), 2);
        assert_eq!(first.events.len(), 1);
        feed.update(Update {
            rects: vec![rect("x-3")],
            ..Update::default()
        });
        let second = feed.snapshot(first.cursor);
        assert_eq!(second.stream.rects, vec![rect("x-3")]);
        assert!(second.events.is_empty());
        assert_eq!(second.version, 2);
    }

    #[test]
    fn workers_get_their_colours_and_the_cluster_its_total() {
        let feed = Feed::new(FeedOptions::default());
        feed.update(Update {
            workers: Some(vec![
                worker("b", "running", 65),
                worker("a", "running", 10),
                worker("c", "paused", 10),
            ]),
            ..Update::default()
        });
        let snapshot = feed.snapshot(Cursor::default());
        let names: Vec<&str> = snapshot
            .workers
            .iter()
            .map(|w| w.row.name.as_str())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
        let colours: Vec<MemoryColour> = snapshot.workers.iter().map(|w| w.colour).collect();
        assert_eq!(
            colours,
            [
                MemoryColour::Normal,
                MemoryColour::Spilling,
                MemoryColour::Critical
            ]
        );
        assert_eq!(snapshot.cluster_memory.process, 85);
        assert_eq!(snapshot.cluster_memory.limit, 300);
        // One worker not running colours the cluster's bar too.
        assert_eq!(snapshot.cluster_colour, MemoryColour::Critical);
    }

    #[test]
    fn old_events_leave_a_full_ring() {
        let feed = Feed::new(FeedOptions {
            event_capacity: 2,
            ..FeedOptions::default()
        });
        for i in 0..5 {
            feed.update(Update {
                events: vec![Event {
                    at_ms: f64::from(i),
                    kind: "worker-lost".into(),
                    key: None,
                    worker: Some(format!("w{i}")),
                    text: "exit code 1".into(),
                }],
                ..Update::default()
            });
        }
        let snapshot = feed.snapshot(Cursor::default());
        let workers: Vec<_> = snapshot
            .events
            .iter()
            .filter_map(|e| e.worker.clone())
            .collect();
        assert_eq!(workers, ["w3", "w4"]);
        assert_eq!(snapshot.cursor.events, 5);
    }
}
