//! What a worker did besides computing — transfers from peers, spill
//! writes and reads — kept for its next heartbeat, where the scheduler's
//! dashboard draws them in the task stream. Shared by the event loop, the
//! spill thread and the task threads; each entry takes the lock once.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::protocol::{ActivityKind, Heartbeat, TaskId, WorkerActivity};

/// Entries kept between two heartbeats; older ones are dropped (the
/// stream is a view, not a record).
const KEPT: usize = 2_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    kind: ActivityKind,
    id: TaskId,
    count: u32,
    bytes: u64,
    ended: Instant,
    duration_us: u64,
}

#[derive(Debug, Default)]
struct Log {
    entries: VecDeque<Entry>,
    transfer_in: u64,
    transfer_out: u64,
}

/// A worker's activity log: cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Activity {
    log: Arc<Mutex<Log>>,
}

impl Activity {
    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `count` values of `bytes` bytes (the first is `id`) did `kind`,
    /// from `started` until now.
    pub(crate) fn record(
        &self,
        kind: ActivityKind,
        id: TaskId,
        count: u32,
        bytes: u64,
        started: Instant,
    ) {
        let ended = Instant::now();
        let entry = Entry {
            kind,
            id,
            count,
            bytes,
            ended,
            duration_us: ended.saturating_duration_since(started).as_micros() as u64,
        };
        let mut log = self.log();
        if kind == ActivityKind::Transfer {
            log.transfer_in += bytes;
        }
        if log.entries.len() == KEPT {
            log.entries.pop_front();
        }
        log.entries.push_back(entry);
    }

    /// `bytes` went to a peer or client.
    pub(crate) fn sent(&self, bytes: u64) {
        self.log().transfer_out += bytes;
    }

    /// Moves what was recorded into `heartbeat`, timed from now.
    pub(crate) fn fill(&self, heartbeat: &mut Heartbeat) {
        let now = Instant::now();
        let mut log = self.log();
        heartbeat.transfer_in = log.transfer_in;
        heartbeat.transfer_out = log.transfer_out;
        heartbeat.activity = log
            .entries
            .drain(..)
            .map(|e| WorkerActivity {
                kind: e.kind,
                id: e.id,
                count: e.count,
                bytes: e.bytes,
                ended_us_ago: now.saturating_duration_since(e.ended).as_micros() as u64,
                duration_us: e.duration_us,
            })
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heartbeat_takes_the_entries_once_and_the_totals_always() {
        let activity = Activity::default();
        let start = Instant::now();
        activity.record(ActivityKind::Transfer, 7, 2, 100, start);
        activity.record(ActivityKind::DiskWrite, 8, 1, 50, start);
        activity.sent(30);
        let mut heartbeat = Heartbeat::default();
        activity.fill(&mut heartbeat);
        assert_eq!(heartbeat.activity.len(), 2);
        assert_eq!(heartbeat.activity[0].kind, ActivityKind::Transfer);
        assert_eq!(
            (heartbeat.activity[0].id, heartbeat.activity[0].count),
            (7, 2)
        );
        assert_eq!((heartbeat.transfer_in, heartbeat.transfer_out), (100, 30));
        let mut next = Heartbeat::default();
        activity.fill(&mut next);
        assert!(next.activity.is_empty());
        assert_eq!(next.transfer_in, 100);
    }

    #[test]
    fn a_burst_keeps_the_newest() {
        let activity = Activity::default();
        let start = Instant::now();
        for id in 0..(KEPT as u64 + 10) {
            activity.record(ActivityKind::DiskRead, id, 1, 1, start);
        }
        let mut heartbeat = Heartbeat::default();
        activity.fill(&mut heartbeat);
        assert_eq!(heartbeat.activity.len(), KEPT);
        assert_eq!(heartbeat.activity[0].id, 10);
    }
}
