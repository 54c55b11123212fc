//! The task stream: what each worker thread did and when, as rectangles in
//! a bounded ring read incrementally by index (Dask's `TaskStreamPlugin`).

use std::collections::VecDeque;

use std::sync::Arc;

use barrow_core::Key;
use serde::{Serialize, Serializer};

fn as_text<S: Serializer>(key: &Key, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(key)
}

/// What a rectangle of the task stream shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Activity {
    /// A task ran (coloured by its prefix; black when it failed).
    Compute,
    /// Values came from a peer.
    Transfer,
    /// Values were read back from the spill file.
    DiskRead,
    /// Values were written to the spill file.
    DiskWrite,
}

impl Activity {
    /// The colour Dask draws it in, for everything but `Compute` (whose
    /// colour is its prefix's).
    pub fn colour(self) -> Option<&'static str> {
        match self {
            Activity::Compute => None,
            Activity::Transfer => Some("#d62728"),
            Activity::DiskRead | Activity::DiskWrite => Some("#ff7f0e"),
        }
    }
}

/// One rectangle: an activity of one worker thread. Its names are shared
/// (`Arc<str>`, and the key itself): a producer that records one per task
/// allocates nothing for it, and the ring frees nothing but the rectangle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rect {
    /// Milliseconds since the feed began.
    pub start_ms: f64,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
    /// The worker (its name or address).
    pub worker: Arc<str>,
    /// The thread on that worker (transfers and disk activity have their
    /// own lanes: see [`TaskStream::lane`]).
    pub thread: u32,
    /// What it was.
    pub activity: Activity,
    /// The task's key (the first of several for a transfer), written as
    /// text (`x` or `('x', 0, 3)`).
    #[serde(serialize_with = "as_text")]
    pub key: Key,
    /// The key's prefix, which picks the colour.
    pub prefix: Arc<str>,
    /// The function it called (empty when unknown or not a call).
    pub function: Arc<str>,
    /// Whether the task failed.
    pub failed: bool,
}

/// A bounded ring of rectangles, numbered from 0 as they arrive: a reader
/// that saw up to index `n` asks for what came [`since`](TaskStream::since)
/// `n`, so only new rectangles cross the wire.
#[derive(Debug, Clone)]
pub struct TaskStream {
    rects: VecDeque<Rect>,
    capacity: usize,
    /// The index of the next rectangle.
    next: u64,
}

/// New rectangles and where the next read starts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamDelta {
    /// The rectangles, oldest first.
    pub rects: Vec<Rect>,
    /// Pass this as `since` next time.
    pub next: u64,
    /// Rectangles that were pushed out of the ring before this reader saw
    /// them.
    pub dropped: u64,
}

impl TaskStream {
    /// An empty ring keeping at most `capacity` rectangles (at least one).
    pub fn new(capacity: usize) -> TaskStream {
        let capacity = capacity.max(1);
        TaskStream {
            rects: VecDeque::with_capacity(capacity.min(4096)),
            capacity,
            next: 0,
        }
    }

    /// The lane a rectangle goes in among its worker's: one per thread,
    /// then one for transfers and one for the disk.
    pub fn lane(threads: u32, activity: Activity, thread: u32) -> u32 {
        match activity {
            Activity::Compute => thread.min(threads.saturating_sub(1)),
            Activity::Transfer => threads,
            Activity::DiskRead | Activity::DiskWrite => threads + 1,
        }
    }

    /// Appends a rectangle, pushing out the oldest when full.
    pub fn push(&mut self, rect: Rect) {
        if self.rects.len() == self.capacity {
            self.rects.pop_front();
        }
        self.rects.push_back(rect);
        self.next += 1;
    }

    /// The rectangles that arrived from index `since` on.
    pub fn since(&self, since: u64) -> StreamDelta {
        self.since_at_most(since, usize::MAX)
    }

    /// The newest `limit` of the rectangles that arrived from index
    /// `since` on; the older ones count as dropped (they are never copied).
    pub fn since_at_most(&self, since: u64, limit: usize) -> StreamDelta {
        let first = self.next - self.rects.len() as u64;
        let newest = self.next.saturating_sub(limit as u64);
        let from = since.max(newest).clamp(first, self.next);
        let skip = (from - first) as usize;
        StreamDelta {
            rects: self.rects.iter().skip(skip).cloned().collect(),
            next: self.next,
            dropped: from.saturating_sub(since),
        }
    }

    /// How many rectangles are kept.
    pub fn len(&self) -> usize {
        self.rects.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.rects.is_empty()
    }

    /// The index the next rectangle gets.
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// How many rectangles it keeps at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// A colour for a task prefix: stable for a name, spread over a palette
/// (Dask's is random per prefix; a hash keeps it the same across pages and
/// runs).
pub fn prefix_colour(prefix: &str) -> &'static str {
    const PALETTE: [&str; 10] = [
        "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
        "#aec7e8", "#98df8a",
    ];
    // FNV-1a: tiny, and stable across platforms and releases.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in prefix.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    PALETTE[hash as usize % PALETTE.len()]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A one-millisecond `inc` rectangle on worker `w`, the `i`th.
    pub(crate) fn rect(i: u32) -> Rect {
        Rect {
            start_ms: f64::from(i),
            duration_ms: 1.0,
            worker: "w".into(),
            thread: 0,
            activity: Activity::Compute,
            key: Key::from(format!("inc-{i}")),
            prefix: "inc".into(),
            function: "inc".into(),
            failed: false,
        }
    }

    #[test]
    fn readers_get_only_what_is_new() {
        let mut stream = TaskStream::new(10);
        for i in 0..3 {
            stream.push(rect(i));
        }
        let first = stream.since(0);
        assert_eq!(first.rects.len(), 3);
        assert_eq!(first.next, 3);
        assert_eq!(first.dropped, 0);
        stream.push(rect(3));
        let second = stream.since(first.next);
        assert_eq!(second.rects, vec![rect(3)]);
        assert_eq!(stream.since(second.next).rects, Vec::<Rect>::new());
    }

    #[test]
    fn the_ring_keeps_the_newest_and_says_how_many_a_reader_missed() {
        let mut stream = TaskStream::new(4);
        for i in 0..10 {
            stream.push(rect(i));
        }
        assert_eq!(stream.len(), 4);
        let delta = stream.since(0);
        assert_eq!(delta.rects.first().map(|r| r.key.name()), Some("inc-6"));
        assert_eq!(delta.dropped, 6);
        assert_eq!(delta.next, 10);
        // A reader from the future (a restarted server) starts again at the end.
        assert!(stream.since(99).rects.is_empty());
    }

    #[test]
    fn a_limited_read_takes_the_newest_and_counts_the_rest_dropped() {
        let mut stream = TaskStream::new(100);
        for i in 0..10 {
            stream.push(rect(i));
        }
        let delta = stream.since_at_most(2, 3);
        let keys: Vec<&str> = delta.rects.iter().map(|r| r.key.name()).collect();
        assert_eq!(keys, ["inc-7", "inc-8", "inc-9"]);
        assert_eq!((delta.next, delta.dropped), (10, 5));
        assert_eq!(stream.since_at_most(8, 3).rects.len(), 2);
        assert_eq!(stream.since_at_most(8, 3).dropped, 0);
    }

    #[test]
    fn transfers_and_disk_have_lanes_after_the_threads() {
        assert_eq!(TaskStream::lane(4, Activity::Compute, 2), 2);
        assert_eq!(TaskStream::lane(4, Activity::Compute, 9), 3);
        assert_eq!(TaskStream::lane(4, Activity::Transfer, 0), 4);
        assert_eq!(TaskStream::lane(4, Activity::DiskWrite, 0), 5);
        assert_eq!(TaskStream::lane(4, Activity::DiskRead, 0), 5);
    }

    #[test]
    fn a_prefix_keeps_its_colour() {
        assert_eq!(prefix_colour("inc"), prefix_colour("inc"));
        assert_ne!(prefix_colour("inc"), "#000000");
        assert_eq!(Activity::Transfer.colour(), Some("#d62728"));
        assert_eq!(Activity::Compute.colour(), None);
    }
}
