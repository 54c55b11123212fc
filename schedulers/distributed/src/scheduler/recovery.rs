//! Surviving lost workers: rescheduling what they ran, recomputing what
//! only they held, giving up on workers that stop sending heartbeats, and
//! blaming the tasks that kill the workers running them.
//!
//! A worker leaves when its connection closes or its heartbeats stop. What
//! it was running goes back to waiting; values only it held are computed
//! again (a scattered value, which has no task, fails the tasks that need
//! it, naming it). Nothing is blamed when a worker leaves: a connection
//! that closes says nothing about why. Blame comes from the worker's
//! nanny, which saw the process die (its signal or exit code, or its own
//! kill for memory) and read from the board its task threads write which
//! tasks were executing at that moment. The nanny hands that report to the
//! worker it starts next, whose registration carries it here. Only those
//! tasks count a death, and a task past `allowed-failures` deaths fails
//! with `KilledWorker`, naming every worker that died running it, how each
//! died and the last lines each wrote (Dask blames every task processing
//! on the worker and says nothing of the cause).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use barrow_core::ErrorKind;

use super::task::{Failure, State};
use super::transitions::Target;
use super::{SchedulerState, Worker, wire_error};
use crate::comm::framed::Outgoing;
use crate::protocol::handshake::Death;
use crate::protocol::{TaskId, ToWorker, WorkerId};

/// Departures remembered for nanny reports (a report comes within
/// seconds; this bounds the memory of a cluster whose workers churn).
const DEPARTURES_KEPT: usize = 1024;

/// Lines of a dead worker's output kept in a `KilledWorker` message.
const OUTPUT_LINES: usize = 12;

/// A worker that left, as nanny reports refer to it.
#[derive(Debug)]
pub(crate) struct Departed {
    name: String,
    pid: u32,
    label: String,
    /// The tasks it was running, with their runs.
    processing: Vec<(TaskId, u64)>,
}

/// One death of a worker while it executed a task.
#[derive(Debug, Clone)]
pub(crate) struct DeathNote {
    /// `worker 'name' (address)`.
    worker: String,
    cause: String,
    output: Vec<String>,
}

/// The heartbeat interval for a cluster of `workers` (Dask's rule: the
/// scheduler's load from heartbeats stays about flat as it grows).
pub(crate) fn heartbeat_for(workers: usize) -> Duration {
    match workers {
        0..=10 => Duration::from_millis(500),
        11..50 => Duration::from_secs(1),
        50..200 => Duration::from_secs(2),
        n => Duration::from_secs(n as u64 / 200 + 1),
    }
}

impl SchedulerState {
    /// Sends back to waiting what `worker` (just removed) was running, and
    /// recomputes or fails the values only it held.
    pub(crate) fn recover_from(&mut self, worker: &Worker, label: &str, reason: &str) {
        // Lost values first, so the tasks sent again below wait for them.
        let mut held: Vec<TaskId> = worker.has_what.iter().copied().collect();
        held.sort_unstable();
        let mut lost = Vec::new();
        for id in held {
            let Some(task) = self.tasks.get_mut(id) else {
                continue;
            };
            task.who_has.retain(|&mut w| w != worker.id);
            if !task.who_has.is_empty() || task.state != State::Memory {
                continue;
            }
            if task.spec.is_some() {
                lost.push((id, Target::Reset));
            } else {
                let message = format!(
                    "its value was scattered by a client and only {label} held it, which left \
                     ({reason}); a scattered value cannot be computed again: scatter it again"
                );
                let failure = Arc::new(Failure {
                    error: wire_error(ErrorKind::Worker, &message, Some(&task.key)),
                    blame: task.key.clone(),
                    dependents: Vec::new(),
                });
                lost.push((id, Target::Erred(failure)));
            }
        }
        if !lost.is_empty() {
            tracing::warn!(
                "{} values held only by {label} are lost: computing them again",
                lost.len()
            );
        }
        self.transitions(lost);
        let mut processing: Vec<TaskId> = worker.processing.iter().copied().collect();
        processing.sort_unstable();
        let again: Vec<(TaskId, Target)> = processing
            .into_iter()
            .filter(|&id| {
                self.tasks.get(id).is_some_and(|t| {
                    t.state == State::Processing && t.processing_on == Some(worker.id)
                })
            })
            .map(|id| (id, Target::Reset))
            .collect();
        self.transitions(again);
    }

    /// Remembers what `worker` was running when it left, for its nanny's
    /// report.
    /// (Called before its tasks are sent elsewhere, which changes their
    /// runs.)
    pub(crate) fn note_departure(&mut self, worker: &Worker, label: &str) {
        if self.departed.len() >= DEPARTURES_KEPT {
            self.departed.pop_front();
        }
        let processing = worker
            .processing
            .iter()
            .filter_map(|&id| Some((id, self.tasks.get(id)?.run)))
            .collect();
        self.departed.push_back(Departed {
            name: worker.name.clone(),
            pid: worker.pid,
            label: label.to_owned(),
            processing,
        });
    }

    /// A nanny reports that the worker `name` it ran died as `death` says
    /// (the report arrives with the worker it started next): the tasks it
    /// was executing count a death each, and those past
    /// `allowed-failures` fail with `KilledWorker`.
    pub(crate) fn worker_died(&mut self, name: &str, death: &Death) {
        // Its connection may not have been seen closing yet.
        let still_here = self
            .workers
            .values()
            .find(|w| w.name == name && w.pid == death.pid)
            .map(|w| w.id);
        if let Some(id) = still_here {
            self.remove_worker(
                id,
                &format!("its nanny reports that it died: {}", death.cause),
            );
        }
        let Some(at) = self
            .departed
            .iter()
            .rposition(|d| d.name == name && d.pid == death.pid)
        else {
            tracing::warn!(
                "a nanny reports that worker '{name}' (pid {}) died ({}), but no such worker \
                 left recently",
                death.pid,
                death.cause
            );
            return;
        };
        let Some(departed) = self.departed.remove(at) else {
            return;
        };
        tracing::warn!(
            "{} died: {} (executing {} tasks)",
            departed.label,
            death.cause,
            death.executing.len()
        );
        self.begin("worker-died");
        self.watch_worker("worker-died", name, death.cause.clone());
        let tail = death.output.len().saturating_sub(OUTPUT_LINES);
        let note = DeathNote {
            worker: departed.label,
            cause: death.cause.clone(),
            output: death.output[tail..].to_vec(),
        };
        let mut recommendations = Vec::new();
        for &(id, run) in &death.executing {
            // Only what the scheduler had sent it under that run: a board
            // entry of a task already taken away does not count.
            if !departed.processing.contains(&(id, run)) {
                continue;
            }
            let notes = self.suspects.entry(id).or_default();
            notes.push(note.clone());
            let deaths = notes.len();
            if deaths <= self.config.allowed_failures as usize {
                continue;
            }
            let Some(task) = self.tasks.get(id) else {
                continue;
            };
            if !task.state.is_active() {
                continue;
            }
            if let Some(worker) = task.processing_on {
                // Running again elsewhere: stop it there.
                self.outbox
                    .workers
                    .push((worker, Outgoing::plain(ToWorker::Free { ids: vec![id] })));
            }
            let message = self.killed_worker_message(id);
            let failure = Arc::new(Failure {
                error: wire_error(ErrorKind::KilledWorker, &message, Some(&task.key)),
                blame: task.key.clone(),
                dependents: Vec::new(),
            });
            recommendations.push((id, Target::Erred(failure)));
        }
        self.transitions(recommendations);
        self.end();
    }

    /// What `KilledWorker` says of task `id`: every death, with its cause
    /// and the last output of the worker.
    fn killed_worker_message(&self, id: TaskId) -> String {
        let notes = self.suspects.get(&id).map_or(&[][..], Vec::as_slice);
        let mut text = format!(
            "this task was executing on {} workers when they died (more than \
             distributed.scheduler.allowed-failures = {}), so it is not tried again: it probably \
             crashes the process that runs it (an abort, a segfault, memory it exhausts)",
            notes.len(),
            self.config.allowed_failures
        );
        for note in notes {
            let _ = write!(text, "\n  {}: {}", note.worker, note.cause);
            if note.output.is_empty() {
                text.push_str("; it wrote nothing");
            } else {
                text.push_str("; its last output:");
                for line in &note.output {
                    let _ = write!(text, "\n    | {line}");
                }
            }
        }
        text
    }

    /// The heartbeat interval for the running workers: when it changes,
    /// every worker is told.
    pub(crate) fn retune_heartbeats(&mut self) {
        let interval = self
            .config
            .heartbeat_interval
            .unwrap_or_else(|| heartbeat_for(self.running.len()));
        if interval == self.heartbeat {
            return;
        }
        self.heartbeat = interval;
        let ms = interval.as_millis() as u64;
        for &worker in &self.running {
            self.outbox
                .workers
                .push((worker, Outgoing::plain(ToWorker::HeartbeatInterval { ms })));
        }
    }

    /// How long a worker may stay silent: the configured time to live, and
    /// at least ten heartbeat intervals.
    pub(crate) fn worker_ttl(&self) -> Duration {
        self.config.worker_ttl.max(self.heartbeat * 10)
    }

    /// Removes the workers silent for longer than their time to live, and
    /// tells them (should they wake) to restart.
    pub(crate) fn check_worker_ttl(&mut self) {
        let ttl = self.worker_ttl();
        let now: Instant = self.now;
        let silent: Vec<WorkerId> = self
            .workers
            .keys()
            .copied()
            .filter(|w| {
                self.workers
                    .get(w)
                    .is_some_and(|w| now.saturating_duration_since(w.last_seen) > ttl)
            })
            .collect();
        for worker in silent {
            let reason = format!(
                "it sent nothing for more than {ttl:?} (distributed.scheduler.worker-ttl): a \
                 frozen process, or a network that no longer reaches it"
            );
            self.outbox.workers.push((
                worker,
                Outgoing::plain(ToWorker::Close {
                    reason: reason.clone(),
                    restart: true,
                }),
            ));
            self.outbox.close.push(worker);
            self.remove_worker(worker, &reason);
        }
    }

    /// Forgets the deaths of a task that is gone.
    pub(crate) fn forget_suspect(&mut self, id: TaskId) {
        if !self.suspects.is_empty() {
            self.suspects.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::heartbeat_for;
    use std::time::Duration;

    #[test]
    fn heartbeats_slow_down_as_the_cluster_grows() {
        assert_eq!(heartbeat_for(1), Duration::from_millis(500));
        assert_eq!(heartbeat_for(10), Duration::from_millis(500));
        assert_eq!(heartbeat_for(11), Duration::from_secs(1));
        assert_eq!(heartbeat_for(199), Duration::from_secs(2));
        assert_eq!(heartbeat_for(1000), Duration::from_secs(6));
    }
}
