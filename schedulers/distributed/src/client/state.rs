//! What a client knows, shared between its user's threads and its
//! connection: the status of every key it holds, the workers, the answers
//! to its questions, the events its computations watch.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use barrow_core::{Key, KeyMap};
use barrow_wire::task::{WireError, WireKey};
use rustc_hash::FxHashMap;

use crate::protocol::{Answer, KeyLocation, TaskEvent, ToClient, WorkerId, WorkerSummary};

/// Where a key stands, as the client knows it.
#[derive(Debug, Clone)]
pub(crate) enum Status {
    /// Not computed yet.
    Pending,
    /// In memory on the cluster.
    Memory(KeyLocation),
    /// Failed.
    Erred {
        blame: WireKey,
        error: WireError,
        dependents: Vec<WireKey>,
    },
    /// Cancelled, or lost with a worker.
    Lost { reason: String, cancelled: bool },
}

impl Status {
    pub(crate) fn is_done(&self) -> bool {
        !matches!(self, Status::Pending)
    }
}

#[derive(Debug)]
pub(crate) struct Entry {
    /// Handles (futures, computations) that hold the key.
    pub(crate) holders: usize,
    pub(crate) status: Status,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) keys: KeyMap<Entry>,
    pub(crate) workers: FxHashMap<WorkerId, WorkerSummary>,
    pub(crate) replies: FxHashMap<u64, Result<Answer, String>>,
    /// Events for the computations that watch them, by subscription.
    pub(crate) events: FxHashMap<u64, VecDeque<TaskEvent>>,
    /// Why the connection to the scheduler ended, once it has.
    pub(crate) closed: Option<String>,
}

/// The state behind a lock, with a condition variable rung on every
/// change.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until `done` holds, the connection closes, or `deadline`
    /// passes; returns the state and whether `done` held.
    pub(crate) fn wait_until(
        &self,
        deadline: Option<Instant>,
        mut done: impl FnMut(&mut State) -> bool,
    ) -> (MutexGuard<'_, State>, bool) {
        let mut state = self.lock();
        loop {
            if done(&mut state) {
                return (state, true);
            }
            if state.closed.is_some() {
                return (state, false);
            }
            let wait = match deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return (state, false);
                    }
                    left.min(Duration::from_secs(1))
                }
                None => Duration::from_secs(1),
            };
            state = self
                .changed
                .wait_timeout(state, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Takes in a batch of what the scheduler said, at once: a waiter
    /// sees all of it or none (a task's last event and its value's
    /// arrival come together).
    pub(crate) fn receive(&self, messages: impl IntoIterator<Item = ToClient>) {
        let mut state = self.lock();
        for message in messages {
            apply(&mut state, message);
        }
        drop(state);
        self.changed.notify_all();
    }

    /// The connection ended.
    pub(crate) fn close(&self, reason: String) {
        self.lock().closed.get_or_insert(reason);
        self.changed.notify_all();
    }
}

fn apply(state: &mut State, message: ToClient) {
    match message {
        ToClient::InMemory(location) => {
            let key = Key::from(&location.key);
            if let Some(entry) = state.keys.get_mut(&key) {
                entry.status = Status::Memory(location);
            }
        }
        ToClient::Erred {
            key,
            blame,
            error,
            dependents,
        } => {
            if let Some(entry) = state.keys.get_mut(&Key::from(&key)) {
                entry.status = Status::Erred {
                    blame,
                    error,
                    dependents,
                };
            }
        }
        ToClient::Lost {
            key,
            reason,
            cancelled,
        } => {
            if let Some(entry) = state.keys.get_mut(&Key::from(&key))
                && !matches!(entry.status, Status::Memory(_))
            {
                entry.status = Status::Lost { reason, cancelled };
            }
        }
        ToClient::Restarted => {
            for entry in state.keys.values_mut() {
                entry.status = Status::Lost {
                    reason: "the cluster restarted: every task and value was forgotten".to_owned(),
                    cancelled: true,
                };
            }
        }
        ToClient::Events(events) => {
            for queue in state.events.values_mut() {
                queue.extend(events.iter().cloned());
            }
        }
        ToClient::Workers { added, removed } => {
            super::plugins::warn_differences(&added);
            for worker in added {
                state.workers.insert(worker.id, worker);
            }
            for id in removed {
                state.workers.remove(&id);
            }
        }
        ToClient::Reply { request, answer } => {
            state.replies.insert(request, answer);
        }
    }
}
