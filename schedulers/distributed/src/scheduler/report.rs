//! A plain account of what is not finished, and why: for a computation
//! that seems stuck (where Dask users reach for `dump_cluster_state`).

use std::fmt::Write;

use super::task::State;
use super::{SchedulerState, Worker};
use crate::protocol::WorkerId;

impl SchedulerState {
    /// The running workers with what each is processing and holds, then
    /// up to `limit` unfinished tasks (waiting, queued, no-worker,
    /// processing), each with its worker and where its dependencies are.
    ///
    /// ```
    /// use barrow_distributed::scheduler::{SchedulerConfig, SchedulerState};
    ///
    /// let state = SchedulerState::new(SchedulerConfig::default());
    /// let report = state.unfinished_report(20);
    /// assert!(report.contains("0 workers"), "{report}");
    /// assert!(report.contains("0 tasks not finished"), "{report}");
    /// ```
    pub fn unfinished_report(&self, limit: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{} workers:", self.running.len());
        for id in &self.running {
            if let Some(w) = self.workers.get(id) {
                let _ = writeln!(
                    out,
                    "  {} ({}, id {}): processing {}, holds {} values{}",
                    w.name,
                    w.address,
                    w.id,
                    w.processing.len(),
                    w.has_what.len(),
                    if self.idle.contains(id) { ", idle" } else { "" }
                );
            }
        }
        let unfinished: Vec<_> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.state.is_active())
            .collect();
        let count = |state: State| unfinished.iter().filter(|(_, t)| t.state == state).count();
        let _ = writeln!(
            out,
            "{} tasks not finished ({} waiting, {} queued, {} no-worker, {} processing){}",
            unfinished.len(),
            count(State::Waiting),
            count(State::Queued),
            count(State::NoWorker),
            count(State::Processing),
            if unfinished.len() > limit {
                format!("; the first {limit}:")
            } else {
                ":".to_owned()
            }
        );
        for (_, task) in unfinished.iter().take(limit) {
            let _ = write!(out, "  {}: {}", task.key, task.state);
            if let Some(worker) = task.processing_on {
                let _ = write!(out, " on {} (run {})", self.worker_name(worker), task.run);
            }
            let needs: Vec<String> = task
                .dependencies
                .iter()
                .filter_map(|d| self.tasks.get(*d))
                .map(|d| {
                    let holders: Vec<&str> =
                        d.who_has.iter().map(|w| self.worker_name(*w)).collect();
                    if holders.is_empty() {
                        format!("{} ({})", d.key, d.state)
                    } else {
                        format!("{} ({} on {})", d.key, d.state, holders.join(", "))
                    }
                })
                .collect();
            if !needs.is_empty() {
                let _ = write!(out, "; needs {}", needs.join(", "));
            }
            out.push('\n');
        }
        out
    }

    fn worker_name(&self, id: WorkerId) -> &str {
        self.workers
            .get(&id)
            .map_or("a worker that left", |w: &Worker| w.name.as_str())
    }
}
