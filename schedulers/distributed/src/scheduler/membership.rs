//! Workers joining and leaving the scheduler, and going in and out of
//! placement (retiring, pausing): the lists placement reads, the function
//! sets of the running workers, and what the others and the clients are
//! told.

use barrow_core::hooks::ClusterEvent;
use rustc_hash::FxHashSet;

use crate::comm::framed::Outgoing;
use crate::protocol::handshake::WorkerRegistration;
use crate::protocol::{TaskId, ToClient, ToWorker, WorkerId};

use super::{Admitted, Joined, SchedulerState, Worker, WorkerStatus, memory, summary, transitions};

impl SchedulerState {
    /// A worker joins; returns its id and the peers it should know, or
    /// why it is refused.
    pub fn add_worker(&mut self, mut registration: WorkerRegistration) -> Joined {
        if let Some(death) = registration.previous.take() {
            self.worker_died(&registration.name, &death);
        }
        if let Some(other) = self.workers.values().find(|w| w.name == registration.name) {
            return Err(format!(
                "a worker named '{}' is already in the cluster (at {}); give each worker its own \
                 name (--name, worker.name)",
                registration.name, other.address
            ));
        }
        self.begin("add-worker");
        let id = self.next_worker;
        self.next_worker += 1;
        let function_set = self
            .functions
            .set_of(registration.functions_fingerprint, &registration.functions);
        let registration_functions = registration.functions.len();
        let peers: Vec<(WorkerId, String)> = self
            .running
            .iter()
            .filter_map(|w| self.workers.get(w))
            .map(|w| (w.id, w.address.clone()))
            .collect();
        let nthreads = registration.nthreads.max(1);
        let slots = (self.config.worker_saturation * f64::from(nthreads))
            .ceil()
            .clamp(1.0, 1e9) as usize;
        let worker = Worker {
            id,
            status: WorkerStatus::Running,
            slots,
            name: registration.name,
            address: registration.address,
            nthreads: registration.nthreads.max(1),
            memory_limit: registration.memory_limit,
            resources: registration.resources,
            plugins: {
                let mut plugins = registration.plugins;
                plugins.sort();
                plugins
            },
            function_set,
            processing: FxHashSet::default(),
            has_what: FxHashSet::default(),
            occupancy: 0.0,
            managed_bytes: 0,
            last_seen: self.now,
            host: registration.host,
            pid: registration.pid,
            memory: memory::MemoryHistory::default(),
            transfers: (0, 0),
            cpu: None,
        };
        tracing::info!(
            "worker {} joined: {} ({} threads, {} functions, on {})",
            worker.name,
            worker.address,
            worker.nthreads,
            registration_functions,
            worker.host
        );
        for &other in &self.running {
            self.outbox.workers.push((
                other,
                Outgoing::plain(ToWorker::Peers {
                    added: vec![(id, worker.address.clone())],
                    removed: Vec::new(),
                }),
            ));
        }
        let summary = summary(&worker);
        for &client in self.clients.keys() {
            self.outbox.clients.push((
                client,
                Outgoing::plain(ToClient::Workers {
                    added: vec![summary.clone()],
                    removed: Vec::new(),
                }),
            ));
        }
        self.watch_worker(
            "worker-added",
            &worker.name,
            format!("{} with {} threads", worker.address, worker.nthreads),
        );
        let name = worker.name.clone();
        self.workers.insert(id, worker);
        self.send_uploads(id);
        self.hook(&ClusterEvent::WorkerAdded { worker: &name });
        self.running.push(id);
        self.roots_full = None;
        self.idle.insert(id);
        self.enter_set(function_set);
        // Tasks that had no worker may have one now.
        self.retry_unrunnable();
        self.retune_heartbeats();
        self.end();
        Ok(Admitted {
            id,
            peers,
            heartbeat: self.heartbeat,
        })
    }

    /// A worker left (its connection closed, it missed its heartbeats, it
    /// retired or died): what it was running is scheduled again elsewhere,
    /// and values only it held are computed again from their tasks (a
    /// scattered value, which has no task, fails the tasks that need it,
    /// naming it). No task is blamed here: only a nanny's account of a
    /// death says what was executing (`scheduler/recovery.rs`).
    pub fn remove_worker(&mut self, id: WorkerId, reason: &str) {
        let Some(worker) = self.workers.remove(&id) else {
            return;
        };
        self.begin("remove-worker");
        if worker.status == WorkerStatus::Running {
            self.leave_placement(id, worker.function_set);
        }
        tracing::warn!("worker {} ({}) left: {reason}", worker.name, worker.address);
        self.uploads_lose(id, &worker.name, reason);
        self.hook(&ClusterEvent::WorkerRemoved {
            worker: &worker.name,
            reason,
        });
        self.watch_worker("worker-removed", &worker.name, reason.to_owned());
        let label = format!("worker '{}' ({})", worker.name, worker.address);
        self.note_departure(&worker, &label);
        self.recover_from(&worker, &label, reason);
        self.fail_scatters(id, &label);
        for &other in &self.running {
            self.outbox.workers.push((
                other,
                Outgoing::plain(ToWorker::Peers {
                    added: Vec::new(),
                    removed: vec![id],
                }),
            ));
        }
        for &client in self.clients.keys() {
            self.outbox.clients.push((
                client,
                Outgoing::plain(ToClient::Workers {
                    added: Vec::new(),
                    removed: vec![id],
                }),
            ));
        }
        self.retune_heartbeats();
        self.end();
    }

    /// Takes a worker out of placement (retiring it): it keeps its
    /// values and connection, but is given no new task.
    pub(crate) fn stop_placing_on(&mut self, id: WorkerId, status: WorkerStatus) {
        let Some(worker) = self.workers.get_mut(&id) else {
            return;
        };
        if worker.status != WorkerStatus::Running {
            worker.status = status;
            return;
        }
        worker.status = status;
        let function_set = worker.function_set;
        self.leave_placement(id, function_set);
    }

    /// Takes a running worker out of the lists placement reads.
    fn leave_placement(&mut self, id: WorkerId, function_set: usize) {
        self.running.retain(|&w| w != id);
        self.idle.remove(&id);
        self.opened.retain(|&w| w != id);
        if self.root_run.is_some_and(|(w, _)| w == id) {
            self.root_run = None;
        }
        self.leave_set(function_set);
    }

    /// One more running worker has function set `set`.
    pub(crate) fn enter_set(&mut self, set: usize) {
        match self.running_sets.iter_mut().find(|(s, _)| *s == set) {
            Some((_, count)) => *count += 1,
            None => self.running_sets.push((set, 1)),
        }
    }

    /// One running worker fewer has function set `set`.
    pub(crate) fn leave_set(&mut self, set: usize) {
        if let Some(at) = self.running_sets.iter().position(|(s, _)| *s == set) {
            self.running_sets[at].1 -= 1;
            if self.running_sets[at].1 == 0 {
                self.running_sets.swap_remove(at);
            }
        }
    }

    /// A worker may run what none could: tasks in no-worker try again.
    pub(crate) fn retry_unrunnable(&mut self) {
        self.roots_full = None;
        self.slots_maybe_opened = true;
        let unrunnable: Vec<TaskId> = self.unrunnable.keys().copied().collect();
        self.transitions(
            unrunnable
                .into_iter()
                .map(|t| (t, transitions::Target::Processing))
                .collect(),
        );
    }

    /// Puts a worker back into placement.
    pub(crate) fn place_on_again(&mut self, id: WorkerId) {
        let Some(worker) = self.workers.get_mut(&id) else {
            return;
        };
        if worker.status == WorkerStatus::Running {
            return;
        }
        worker.status = WorkerStatus::Running;
        let function_set = worker.function_set;
        if worker.processing.is_empty() {
            self.idle.insert(id);
        }
        self.running.push(id);
        self.enter_set(function_set);
        self.retry_unrunnable();
    }
}
