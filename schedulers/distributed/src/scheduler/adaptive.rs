//! How many workers the cluster wants (Dask's `adaptive_target` and
//! `workers_to_close`): what adaptive clusters follow.
//!
//! The CPU demand is the work in hand — the expected seconds of what runs
//! and what waits for a slot (queued, or with no worker that can run it) —
//! spread over `target_duration`, never more workers than tasks to run.
//! The memory demand doubles the workers when their values pass 60% of
//! their limits. Below the current size, the workers to close are the idle
//! ones holding the fewest bytes.

use crate::protocol::AdaptiveTarget;

use super::task::State;
use super::{SchedulerState, WorkerStatus};

/// Tasks sampled for the expected duration of the waiting ones: beyond
/// it, their sum is scaled up (Dask samples 100 too).
const SAMPLE: usize = 100;

/// The share of the workers' memory limits their values may fill before
/// more workers are wanted.
const MEMORY_SHARE: f64 = 0.6;

impl SchedulerState {
    /// The workers the cluster wants now, and which to close first when it
    /// wants fewer, for work spread over `target_duration` seconds.
    pub fn adaptive_target(&self, target_duration: f64) -> AdaptiveTarget {
        let unknown = self.config.unknown_task_duration;
        let expected = |id| {
            self.tasks
                .get(id)
                .and_then(|t| self.prefixes.get(t.prefix as usize))
                .and_then(|p| p.duration)
                .unwrap_or(unknown)
        };
        let queued = self
            .queued
            .iter()
            .map(|std::cmp::Reverse((_, id))| *id)
            .filter(|&id| self.tasks.get(id).is_some_and(|t| t.state == State::Queued));
        let waiting: Vec<_> = queued
            .chain(self.unrunnable.keys().copied())
            .take(SAMPLE)
            .collect();
        let ready = self.queued_count + self.unrunnable.len();
        let mut waiting_seconds: f64 = waiting.iter().map(|&id| expected(id)).sum();
        if ready > waiting.len() && !waiting.is_empty() {
            waiting_seconds *= ready as f64 / waiting.len() as f64;
        }
        let running: f64 = self.workers.values().map(|w| w.occupancy.max(0.0)).sum();
        let processing: usize = self.workers.values().map(|w| w.processing.len()).sum();
        let in_hand = ready + processing;
        let mut cpu = ((running + waiting_seconds) / target_duration.max(1e-3)).ceil() as usize;
        cpu = cpu.min(in_hand);
        if in_hand > 0 {
            cpu = cpu.max(1);
        }
        let (limit, held) = self
            .workers
            .values()
            .filter(|w| w.memory_limit > 0)
            .fold((0u64, 0u64), |(l, h), w| {
                (l + w.memory_limit, h + w.managed_bytes)
            });
        let memory = if limit > 0 && held as f64 > MEMORY_SHARE * limit as f64 {
            2 * self.workers.len()
        } else {
            0
        };
        let target = cpu.max(memory);
        let close = if target < self.workers.len() {
            self.workers_to_close(self.workers.len() - target)
        } else {
            Vec::new()
        };
        AdaptiveTarget {
            workers: target as u32,
            close,
        }
    }

    /// Up to `n` workers to close: running ones with nothing to do, those
    /// holding the fewest bytes first (their values are copied away before
    /// they go).
    fn workers_to_close(&self, n: usize) -> Vec<String> {
        let mut idle: Vec<_> = self
            .workers
            .values()
            .filter(|w| w.status != WorkerStatus::Retiring && w.processing.is_empty())
            .collect();
        idle.sort_by_key(|w| (w.managed_bytes, std::cmp::Reverse(w.id)));
        idle.into_iter().take(n).map(|w| w.name.clone()).collect()
    }
}
