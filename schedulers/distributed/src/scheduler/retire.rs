//! Retiring workers gracefully: no new work goes to them, what they run
//! is sent elsewhere, the values only they hold are copied to the running
//! workers (the least loaded first), and only then are they closed. A
//! client's `retire_workers` is answered once they are gone.
//!
//! Dask's `retire_workers` does the same through its memory manager; here
//! it is one pending request per call, checked at the end of each
//! stimulus, so a copy that fails (its target left, no holder answered)
//! is planned again instead of waited for.

use rustc_hash::FxHashMap;

use super::transitions::Target;
use super::{SchedulerState, WorkerStatus};
use crate::comm::framed::Outgoing;
use crate::protocol::{Answer, ClientId, Dependency, TaskId, ToClient, ToWorker, WorkerId};

/// A client's request to retire workers, until they are gone.
#[derive(Debug)]
pub(crate) struct PendingRetire {
    pub(crate) client: ClientId,
    pub(crate) request: u64,
    /// The workers still to close.
    pub(crate) workers: Vec<WorkerId>,
    /// Their names, for the answer.
    pub(crate) names: Vec<String>,
    /// Values being copied away, with the worker each goes to.
    pub(crate) moving: FxHashMap<TaskId, WorkerId>,
}

impl SchedulerState {
    /// Starts retiring the workers named (by name or address) in
    /// `names`; answers `request` when they are gone, or at once with why
    /// they cannot be.
    pub(crate) fn retire_workers(&mut self, client: ClientId, request: u64, names: &[String]) {
        let mut ids = Vec::new();
        for name in names {
            let found = self
                .workers
                .values()
                .find(|w| &w.name == name || w.address == *name)
                .map(|w| w.id);
            match found {
                Some(id) if !ids.contains(&id) => ids.push(id),
                Some(_) => {}
                None => {
                    let known: Vec<&str> = self.workers.values().map(|w| w.name.as_str()).collect();
                    return self.reply(
                        client,
                        request,
                        Err(format!(
                            "no worker is named '{name}' or listens at that address; the \
                             cluster's workers are: {}",
                            if known.is_empty() {
                                "none".to_owned()
                            } else {
                                known.join(", ")
                            }
                        )),
                    );
                }
            }
        }
        let staying = self.running.iter().filter(|w| !ids.contains(w)).count();
        if staying == 0
            && let Some(lost) = self.values_only_on(&ids).first()
        {
            let count = self.values_only_on(&ids).len();
            let key = self.tasks.get(*lost).map(|t| t.key.to_string());
            return self.reply(
                client,
                request,
                Err(format!(
                    "retiring every running worker would lose {count} values the cluster still \
                     needs (such as {}): start another worker first, or release them",
                    key.unwrap_or_default()
                )),
            );
        }
        let mut names = Vec::new();
        let mut reset = Vec::new();
        for &id in &ids {
            let Some(worker) = self.workers.get(&id) else {
                continue;
            };
            names.push(worker.name.clone());
            if worker.status != WorkerStatus::Retiring {
                tracing::info!("retiring worker {} ({})", worker.name, worker.address);
                reset.extend(worker.processing.iter().copied());
                self.stop_placing_on(id, WorkerStatus::Retiring);
            }
        }
        // What they run goes elsewhere; they are told to drop it.
        if !reset.is_empty() {
            self.begin("retire-workers");
            for &id in &ids {
                let ids: Vec<TaskId> = reset
                    .iter()
                    .copied()
                    .filter(|t| {
                        self.tasks
                            .get(*t)
                            .is_some_and(|t| t.processing_on == Some(id))
                    })
                    .collect();
                if !ids.is_empty() {
                    self.outbox
                        .workers
                        .push((id, Outgoing::plain(ToWorker::Free { ids })));
                }
            }
            self.transitions(reset.into_iter().map(|t| (t, Target::Reset)).collect());
        }
        self.retirements.push(PendingRetire {
            client,
            request,
            workers: ids,
            names,
            moving: FxHashMap::default(),
        });
        self.progress_retirements();
    }

    /// The needed values held only by `workers` (or by retiring ones).
    fn values_only_on(&self, workers: &[WorkerId]) -> Vec<TaskId> {
        let mut values = Vec::new();
        for id in workers {
            let Some(worker) = self.workers.get(id) else {
                continue;
            };
            for &value in &worker.has_what {
                let elsewhere = self.tasks.get(value).is_some_and(|t| {
                    t.who_has.iter().any(|w| {
                        !workers.contains(w)
                            && self
                                .workers
                                .get(w)
                                .is_some_and(|w| w.status != WorkerStatus::Retiring)
                    })
                });
                if !elsewhere && !values.contains(&value) {
                    values.push(value);
                }
            }
        }
        values
    }

    /// Copies away what retiring workers alone hold, closes those that
    /// hold nothing more, and answers the requests whose workers are all
    /// gone.
    pub(crate) fn progress_retirements(&mut self) {
        if self.retirements.is_empty() {
            return;
        }
        let mut finished = Vec::new();
        // Bytes promised to each target in this round, so the next value
        // goes to the next least loaded worker.
        let mut promised: FxHashMap<WorkerId, u64> = FxHashMap::default();
        let mut pending = std::mem::take(&mut self.retirements);
        for (at, retire) in pending.iter_mut().enumerate() {
            retire.workers.retain(|w| self.workers.contains_key(w));
            let mut closing = Vec::new();
            for &id in &retire.workers {
                let unique = self.values_only_on(&[id]);
                if unique.is_empty() {
                    closing.push(id);
                    continue;
                }
                if self.running.is_empty() {
                    continue;
                }
                let mut orders: FxHashMap<WorkerId, Vec<Dependency>> = FxHashMap::default();
                for value in unique {
                    let target_alive = retire
                        .moving
                        .get(&value)
                        .is_some_and(|t| self.running.contains(t));
                    if target_alive {
                        continue;
                    }
                    let Some(task) = self.tasks.get(value) else {
                        continue;
                    };
                    let Some(target) = self.least_loaded_running(&promised) else {
                        break;
                    };
                    let nbytes = task.nbytes;
                    orders.entry(target).or_default().push(Dependency {
                        id: value,
                        nbytes,
                        who_has: task.who_has.to_vec(),
                    });
                    retire.moving.insert(value, target);
                    *promised.entry(target).or_default() += nbytes;
                }
                for (target, values) in orders {
                    self.outbox
                        .workers
                        .push((target, Outgoing::plain(ToWorker::Acquire { values })));
                }
            }
            for id in closing {
                retire.workers.retain(|&w| w != id);
                self.outbox.workers.push((
                    id,
                    Outgoing::plain(ToWorker::Close {
                        reason: "it was retired by a client".to_owned(),
                        restart: false,
                    }),
                ));
                self.outbox.close.push(id);
                self.remove_worker(id, "it was retired by a client");
            }
            if retire.workers.is_empty() {
                finished.push(at);
            } else if self.running.is_empty() {
                // Nowhere to copy to any more: the workers stay, and the
                // client hears why.
                let message = "every other worker left before the values of the retiring ones \
                               could be copied to them; the workers stay: start others and \
                               retire them again";
                for &id in &retire.workers {
                    self.place_on_again(id);
                }
                self.outbox.clients.push((
                    retire.client,
                    Outgoing::plain(ToClient::Reply {
                        request: retire.request,
                        answer: Err(message.to_owned()),
                    }),
                ));
                retire.workers.clear();
                retire.names.clear();
                finished.push(at);
            }
        }
        for at in finished.into_iter().rev() {
            let retire = pending.swap_remove(at);
            if !retire.names.is_empty() {
                self.reply(
                    retire.client,
                    retire.request,
                    Ok(Answer::Names(retire.names)),
                );
            }
        }
        // Requests made while this ran (a removal's own check) come after.
        pending.append(&mut self.retirements);
        self.retirements = pending;
    }

    /// The running worker holding the fewest bytes, with those promised
    /// to it.
    fn least_loaded_running(&self, promised: &FxHashMap<WorkerId, u64>) -> Option<WorkerId> {
        self.running
            .iter()
            .filter_map(|id| self.workers.get(id))
            .min_by_key(|w| {
                (
                    w.managed_bytes + promised.get(&w.id).copied().unwrap_or(0),
                    w.id,
                )
            })
            .map(|w| w.id)
    }

    pub(crate) fn reply(&mut self, client: ClientId, request: u64, answer: Result<Answer, String>) {
        self.outbox
            .clients
            .push((client, Outgoing::plain(ToClient::Reply { request, answer })));
    }
}
