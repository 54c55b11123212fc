//! What the scheduler knows of each worker's memory, in Dask's terms:
//! managed (the exact bytes of the values it holds, from each task's
//! completion), unmanaged = process − managed (from heartbeats), split
//! into old (the least unmanaged seen over
//! `distributed.worker.memory.recent-to-old-time`) and recent (the rest),
//! and spilled (bytes in its spill file).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{SchedulerState, WorkerStatus};
use crate::protocol::{Heartbeat, WorkerId, WorkerMemory};

/// Heartbeats' memory figures of one worker.
#[derive(Debug, Default)]
pub(crate) struct MemoryHistory {
    /// The process's resident bytes at the last heartbeat (0: unknown).
    pub(crate) process: u64,
    /// Bytes on disk at the last heartbeat.
    pub(crate) spilled: u64,
    /// What those values took in memory.
    pub(crate) spilled_nbytes: u64,
    /// (when, unmanaged bytes) within the window, oldest first.
    samples: VecDeque<(Instant, u64)>,
}

impl MemoryHistory {
    /// Records a heartbeat's figures.
    pub(crate) fn record(
        &mut self,
        now: Instant,
        window: Duration,
        managed: u64,
        heartbeat: &Heartbeat,
    ) {
        self.process = heartbeat.process_bytes;
        self.spilled = heartbeat.spilled_bytes;
        self.spilled_nbytes = heartbeat.spilled_nbytes;
        let in_memory = managed.saturating_sub(self.spilled_nbytes);
        if self.process > 0 {
            self.samples
                .push_back((now, self.process.saturating_sub(in_memory)));
        }
        while self
            .samples
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) > window)
        {
            self.samples.pop_front();
        }
    }

    /// The four segments, with the bytes of the values it holds now
    /// (`held`, in memory or on disk) and `limit`.
    pub(crate) fn segments(&self, held: u64, limit: u64) -> WorkerMemory {
        let managed = held.saturating_sub(self.spilled_nbytes);
        let unmanaged = self.process.saturating_sub(managed);
        let old = self
            .samples
            .iter()
            .map(|&(_, u)| u)
            .min()
            .unwrap_or(unmanaged)
            .min(unmanaged);
        WorkerMemory {
            managed,
            unmanaged_old: old,
            unmanaged_recent: unmanaged - old,
            spilled: self.spilled,
            process: self.process,
            limit,
        }
    }
}

impl SchedulerState {
    /// A heartbeat's memory figures.
    pub(crate) fn heartbeat_memory(&mut self, worker: WorkerId, heartbeat: &Heartbeat) {
        let window = self.config.recent_to_old;
        let now = self.now;
        if let Some(w) = self.workers.get_mut(&worker) {
            let managed = w.managed_bytes;
            w.memory.record(now, window, managed, heartbeat);
        }
    }

    /// Memory pressure paused a worker, or it is over: paused workers get
    /// no new work.
    pub(crate) fn worker_paused(&mut self, worker: WorkerId, paused: bool) {
        let Some(status) = self.workers.get(&worker).map(|w| w.status) else {
            return;
        };
        match (status, paused) {
            (WorkerStatus::Running, true) => self.stop_placing_on(worker, WorkerStatus::Paused),
            (WorkerStatus::Paused, false) => self.place_on_again(worker),
            // Retiring stays retiring; a repeated word changes nothing.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(process: u64, spilled: u64) -> Heartbeat {
        Heartbeat {
            process_bytes: process,
            spilled_bytes: spilled,
            spilled_nbytes: spilled * 2,
            ..Heartbeat::default()
        }
    }

    #[test]
    fn unmanaged_memory_is_old_up_to_its_least_in_the_window_and_recent_beyond() {
        let start = Instant::now();
        let window = Duration::from_secs(30);
        let mut h = MemoryHistory::default();
        h.record(start, window, 100, &beat(400, 0)); // unmanaged 300
        // 300 of 400 bytes held went to disk (150 bytes there): 100 in
        // memory, unmanaged 800.
        h.record(
            start + Duration::from_secs(10),
            window,
            400,
            &beat(900, 150),
        );
        let m = h.segments(400, 2000);
        assert_eq!(
            (m.managed, m.unmanaged_old, m.unmanaged_recent),
            (100, 300, 500)
        );
        assert_eq!((m.spilled, m.process, m.limit), (150, 900, 2000));
        // Forty seconds on, the first sample has aged out: 800 is old now.
        h.record(
            start + Duration::from_secs(40),
            window,
            400,
            &beat(900, 150),
        );
        let m = h.segments(400, 2000);
        assert_eq!((m.unmanaged_old, m.unmanaged_recent), (800, 0));
    }

    #[test]
    fn no_reading_means_no_unmanaged_memory() {
        let mut h = MemoryHistory::default();
        h.record(Instant::now(), Duration::from_secs(30), 100, &beat(0, 0));
        let m = h.segments(100, 0);
        assert_eq!((m.unmanaged_old, m.unmanaged_recent, m.process), (0, 0, 0));
    }
}
