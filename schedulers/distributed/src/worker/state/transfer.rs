//! Values moving between workers: fetching the inputs of this worker's
//! tasks from the peers that hold them (by priority, one request per
//! peer, busy and failed holders tried again or reported missing), and
//! serving this worker's values to peers.

use super::*;

impl WorkerState {
    /// Starts fetches: for each value to fetch, by priority, from a holder
    /// not already being fetched from, in one request per peer.
    pub(super) fn ensure_communicating(&mut self) {
        if self.memory.paused
            || self.fetch.is_empty()
            || self.in_flight.len() >= self.max_fetch_peers
        {
            return;
        }
        let mut batches: Vec<(WorkerId, Vec<TaskId>, u64)> = Vec::new();
        for &(_, id) in &self.fetch {
            if self.in_flight.len() + batches.len() >= self.max_fetch_peers
                && batches
                    .iter()
                    .all(|(_, _, bytes)| *bytes >= self.max_fetch_bytes)
            {
                break;
            }
            let Some(task) = self.tasks.get(&id) else {
                continue;
            };
            let peer = task.who_has.iter().copied().find(|w| {
                !self.in_flight.contains_key(w)
                    && self.peers.contains_key(w)
                    && batches
                        .iter()
                        .find(|(p, _, _)| p == w)
                        .is_none_or(|(_, _, bytes)| *bytes < self.max_fetch_bytes)
            });
            let Some(peer) = peer else {
                continue;
            };
            let open = batches.len();
            match batches.iter_mut().find(|(p, _, _)| *p == peer) {
                Some(batch) => {
                    batch.1.push(id);
                    batch.2 += task.nbytes;
                }
                None if self.in_flight.len() + open < self.max_fetch_peers => {
                    batches.push((peer, vec![id], task.nbytes));
                }
                None => {}
            }
        }
        for (peer, ids, _) in batches {
            for &id in &ids {
                if let Some(task) = self.tasks.get_mut(&id) {
                    self.fetch.remove(&(task.priority, id));
                    task.state = WorkerTaskState::Flight;
                    task.flight_peer = Some(peer);
                }
            }
            let address = self.peers.get(&peer).cloned().unwrap_or_default();
            self.in_flight.insert(peer, ids.clone());
            self.instructions
                .push(Instruction::Gather { peer, address, ids });
        }
    }

    /// A peer answered a fetch: the values it had, and those it had not.
    pub(crate) fn gathered(
        &mut self,
        peer: WorkerId,
        values: Vec<(TaskId, Value)>,
        missing: &[TaskId],
    ) {
        self.in_flight.remove(&peer);
        let mut added = Vec::new();
        for (id, value) in values {
            let in_flight = self
                .tasks
                .get(&id)
                .is_some_and(|t| t.state == WorkerTaskState::Flight && t.flight_peer == Some(peer));
            if !in_flight {
                continue; // freed meanwhile, or fetched from another peer now
            }
            let computed = self
                .tasks
                .get(&id)
                .and_then(|t| t.frames.as_ref())
                .is_some();
            let run = self.tasks.get(&id).map_or(0, |t| t.run);
            let nbytes = value.nbytes() as u64;
            let type_name = value.type_name().to_owned();
            self.store(id, value);
            if computed {
                // The scheduler asked for it to be computed meanwhile.
                self.instructions
                    .push(Instruction::Send(FromWorker::Finished {
                        id,
                        run,
                        nbytes,
                        type_name,
                        duration_us: 0,
                        thread: 0,
                    }));
            } else {
                added.push(id);
            }
        }
        if !added.is_empty() {
            self.instructions
                .push(Instruction::Send(FromWorker::AddKeys { ids: added }));
        }
        for &id in missing {
            self.holder_failed(id, peer, "it does not hold the value");
        }
        self.ensure_computing();
        self.ensure_communicating();
    }

    /// A fetch from `peer` failed (the connection broke, the peer is gone).
    pub(crate) fn gather_failed(&mut self, peer: WorkerId, ids: &[TaskId], error: &str) {
        self.in_flight.remove(&peer);
        for &id in ids {
            self.holder_failed(id, peer, error);
        }
        // Other fetches from it fail the same way: look elsewhere.
        let waiting: Vec<TaskId> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.state == WorkerTaskState::Fetch && t.who_has.contains(&peer))
            .map(|(&id, _)| id)
            .collect();
        for id in waiting {
            self.holder_failed(id, peer, error);
        }
        self.ensure_communicating();
    }

    /// `peer` was busy: the fetch waits and is tried again.
    pub(crate) fn gather_busy(&mut self, peer: WorkerId, ids: &[TaskId]) {
        self.in_flight.remove(&peer);
        for &id in ids {
            if let Some(task) = self.tasks.get_mut(&id)
                && task.state == WorkerTaskState::Flight
                && task.flight_peer == Some(peer)
            {
                task.state = WorkerTaskState::Fetch;
                task.flight_peer = None;
                self.fetch.insert((task.priority, id));
            }
        }
        if !self.retry_pending {
            self.retry_pending = true;
            self.instructions.push(Instruction::RetryLater);
        }
    }

    /// The pause after a busy peer is over.
    pub(crate) fn retry(&mut self) {
        self.retry_pending = false;
        self.ensure_communicating();
    }

    /// `peer` could not give the value of `id`: another holder is tried;
    /// with none left, the scheduler hears of it and the tasks needing it
    /// are dropped here (it dispatches them again).
    pub(super) fn holder_failed(&mut self, id: TaskId, peer: WorkerId, why: &str) {
        let Some(task) = self.tasks.get_mut(&id) else {
            return;
        };
        if !matches!(task.state, WorkerTaskState::Fetch | WorkerTaskState::Flight) {
            return;
        }
        task.who_has.retain(|&w| w != peer);
        if peer != 0 {
            task.tried.push((peer, why.to_owned()));
        }
        if task.state == WorkerTaskState::Flight && task.flight_peer != Some(peer) {
            // Being fetched from another holder: that fetch decides.
            return;
        }
        task.flight_peer = None;
        if let Some(resume) = task.resume.take()
            && let Some(frames) = task.frames.take()
        {
            self.compute_instead(*resume, frames);
            return;
        }
        if !task.who_has.is_empty() {
            task.state = WorkerTaskState::Fetch;
            self.fetch.insert((task.priority, id));
            return;
        }
        let tried = task.tried.clone();
        let dependents = task.dependents.clone();
        if dependents.is_empty() && task.kept {
            // A value moved here for the scheduler: it hears which holders
            // failed, and has it computed again if none is left.
            self.instructions
                .push(Instruction::Send(FromWorker::Missing {
                    id,
                    dependency: id,
                    tried: tried.clone(),
                }));
        }
        for dependent in &dependents {
            self.instructions
                .push(Instruction::Send(FromWorker::Missing {
                    id: *dependent,
                    dependency: id,
                    tried: tried.clone(),
                }));
        }
        for dependent in dependents {
            self.forget(dependent);
        }
        self.forget(id);
    }

    /// The values of `ids` it holds, and the ids it does not.
    pub(crate) fn get_data(&mut self, ids: &[TaskId]) -> Served {
        let mut served = Served::default();
        for &id in ids {
            match self.value_or_disk(id) {
                Some(Ok(value)) => served.found.push((id, value)),
                Some(Err(id)) => served.on_disk.push(id),
                None => served.missing.push(id),
            }
        }
        served
    }
}
