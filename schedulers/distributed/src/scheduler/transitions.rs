//! The transitions of tasks on the scheduler.
//!
//! A stimulus handler changes what it must and returns recommendations:
//! (task, target state) pairs. [`SchedulerState::transitions`] applies
//! them until none is left; each transition may recommend more (a task in
//! memory makes its dependents ready; a task no one needs is released,
//! then forgotten). Edges that have no function of their own go through
//! `released` (processing → forgotten is processing → released →
//! forgotten), as in Dask; a recommendation that no longer applies (a task
//! already released, already forgotten) is dropped.

use std::sync::Arc;

use barrow_wire::task::WireKey;

use super::task::{Failure, State};
use super::watch::Ran;
use super::{DATASETS, SchedulerState};
use crate::comm::framed::Outgoing;
use crate::protocol::{ComputeTask, Dependency, TaskEvent, TaskId, ToClient, ToWorker, WorkerId};

/// Where a recommendation sends a task.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// Released if no client wants it and no active task needs it any
    /// more (checked when the recommendation is applied).
    Released,
    /// Back to released whatever else wants it (then waiting again if
    /// needed): a dispatch to redo, a ready task whose input went away.
    Reset,
    Waiting,
    /// Ready: to a worker, the queue or no-worker, as placement decides.
    Processing,
    Erred(Arc<Failure>),
    Forgotten,
}

pub(crate) type Recommendations = Vec<(TaskId, Target)>;

impl SchedulerState {
    /// Applies `recommendations` and all that follow from them.
    pub(crate) fn transitions(&mut self, mut recommendations: Recommendations) {
        while let Some((id, target)) = recommendations.pop() {
            self.transition(id, target, &mut recommendations);
        }
    }

    fn transition(&mut self, id: TaskId, target: Target, next: &mut Recommendations) {
        let Some(task) = self.tasks.get(id) else {
            return; // forgotten meanwhile
        };
        let from = task.state;
        match (from, target) {
            (State::Released, Target::Waiting) => self.released_waiting(id, next),
            (State::Released, Target::Forgotten) => self.released_forgotten(id, next),
            (State::Waiting, Target::Processing) if task.waiting_on == 0 => self.ready(id, next),
            (State::Queued | State::NoWorker, Target::Processing) => self.ready(id, next),
            (State::Erred, Target::Erred(_)) => {}
            (_, Target::Erred(failure)) => self.erred(id, failure, next),
            (State::Released, Target::Released | Target::Reset) => {}
            (_, Target::Released) if task.is_needed() => {}
            (_, Target::Released | Target::Reset) => self.released(id, next),
            (_, Target::Forgotten) if task.who_wants.is_empty() && task.waiters == 0 => {
                // Through released.
                next.push((id, Target::Forgotten));
                next.push((id, Target::Released));
            }
            // Already further along, or needed again meanwhile.
            _ => {}
        }
    }

    /// Records `id`'s move to `to`.
    fn set_state(&mut self, id: TaskId, to: State) {
        if let Some(task) = self.tasks.get_mut(id) {
            let from = task.state;
            task.state = to;
            let (prefix, needed) = (task.prefix, task.is_needed());
            self.log.push(id, Some(from), Some(to), self.stimulus);
            self.watch_moved(prefix, from, to, needed);
            self.hook_transition(id, from, to);
        }
    }

    /// released → waiting: the task is needed; its dependencies are
    /// needed too.
    fn released_waiting(&mut self, id: TaskId, next: &mut Recommendations) {
        let Some(task) = self.tasks.get(id) else {
            return;
        };
        if task.spec.is_none() {
            let failure = Arc::new(Failure {
                error: super::wire_error(
                    barrow_core::ErrorKind::Worker,
                    "its value was scattered by a client and is lost (the worker holding it \
                     left): scatter it again",
                    Some(&task.key),
                ),
                blame: task.key.clone(),
                dependents: Vec::new(),
            });
            next.push((id, Target::Erred(failure)));
            return;
        }
        let dependencies = task.dependencies.clone();
        for &dep in &dependencies {
            if let Some(d) = self.tasks.get(dep)
                && d.state == State::Erred
                && let Some(failure) = &d.failure
            {
                next.push((id, Target::Erred(failure.clone())));
                return;
            }
        }
        let mut waiting_on = 0;
        for &dep in &dependencies {
            let Some(d) = self.tasks.get_mut(dep) else {
                continue;
            };
            d.waiters += 1;
            if d.state != State::Memory {
                waiting_on += 1;
            }
            if d.state == State::Released {
                next.push((dep, Target::Waiting));
            }
        }
        if let Some(task) = self.tasks.get_mut(id) {
            task.waiting_on = waiting_on;
        }
        self.set_state(id, State::Waiting);
        if waiting_on == 0 {
            next.push((id, Target::Processing));
        }
    }

    /// A ready task goes where placement says.
    fn ready(&mut self, id: TaskId, next: &mut Recommendations) {
        match self.decide(id) {
            super::placement::Decision::Worker(worker) => {
                self.note_root(id, worker);
                self.assign(id, worker);
            }
            super::placement::Decision::Queue => {
                let Some(task) = self.tasks.get(id) else {
                    return;
                };
                if task.state == State::Queued {
                    return;
                }
                let priority = task.priority;
                self.leave_ready_state(id);
                self.queued.push(std::cmp::Reverse((priority, id)));
                self.queued_count += 1;
                self.set_state(id, State::Queued);
            }
            super::placement::Decision::NoWorker => {
                let Some(task) = self.tasks.get(id) else {
                    return;
                };
                if task.state == State::NoWorker {
                    return;
                }
                self.leave_ready_state(id);
                self.unrunnable.insert(id, self.now);
                self.set_state(id, State::NoWorker);
            }
            super::placement::Decision::Fail(failure) => {
                next.push((id, Target::Erred(Arc::new(*failure))));
            }
        }
    }

    /// Takes a ready task out of the queue or the no-worker set.
    fn leave_ready_state(&mut self, id: TaskId) {
        match self.tasks.get(id).map(|t| t.state) {
            Some(State::Queued) => self.queued_count -= 1,
            Some(State::NoWorker) => {
                self.unrunnable.remove(&id);
            }
            _ => {}
        }
    }

    /// Sends the ready task `id` to `worker`.
    pub(crate) fn assign(&mut self, id: TaskId, worker: WorkerId) {
        self.leave_ready_state(id);
        let run = self.next_run;
        self.next_run += 1;
        let unknown = self.config.unknown_task_duration;
        let Some(task) = self.tasks.get_mut(id) else {
            return;
        };
        let expected = self
            .prefixes
            .get(task.prefix as usize)
            .and_then(|p| p.duration)
            .unwrap_or(unknown);
        task.processing_on = Some(worker);
        task.run = run;
        task.expected_seconds = expected;
        let Some(task) = self.tasks.get(id) else {
            return;
        };
        let Some(spec) = &task.spec else {
            return;
        };
        let inputs = spec
            .inputs
            .iter()
            .filter_map(|&i| task.dependencies.get(i as usize).copied())
            .collect();
        let literals = spec.literals.len() as u32;
        let frames = SchedulerState::spec_frames(spec);
        let priority = task.priority;
        let report_start = !task.watchers.is_empty();
        let resources = task
            .restrictions
            .as_ref()
            .map(|r| r.resources.clone())
            .unwrap_or_default();
        let dependencies: Vec<Dependency> = task
            .dependencies
            .iter()
            .filter_map(|&dep| {
                let d = self.tasks.get(dep)?;
                Some(Dependency {
                    id: dep,
                    nbytes: d.nbytes,
                    who_has: d.who_has.to_vec(),
                })
            })
            .collect();
        if let Some(w) = self.workers.get_mut(&worker) {
            w.processing.insert(id);
            w.occupancy += expected;
            self.idle.remove(&worker);
        }
        self.set_state(id, State::Processing);
        self.note_stealable(worker, id, run, expected, &dependencies);
        self.outbox.workers.push((
            worker,
            Outgoing {
                message: ToWorker::Compute(Box::new(ComputeTask {
                    id,
                    run,
                    priority,
                    literals,
                    inputs,
                    dependencies,
                    resources,
                    report_start,
                })),
                frames,
            },
        ));
    }

    /// Takes `id` off its worker's list of processing tasks.
    pub(crate) fn unassign(&mut self, id: TaskId) -> Option<WorkerId> {
        let task = self.tasks.get_mut(id)?;
        let worker = task.processing_on.take()?;
        let expected = task.expected_seconds;
        if let Some(w) = self.workers.get_mut(&worker) {
            w.processing.remove(&id);
            w.occupancy = if w.processing.is_empty() {
                // Only running workers are idle: a retiring (or paused)
                // one takes no work.
                if w.status == super::WorkerStatus::Running {
                    self.idle.insert(worker);
                }
                0.0
            } else {
                (w.occupancy - expected).max(0.0)
            };
        }
        self.slots_maybe_opened = true;
        self.roots_full = None;
        if self.opened.last() != Some(&worker) && self.opened.len() < 64 {
            self.opened.push(worker);
        }
        Some(worker)
    }

    /// An active task stops needing its dependencies: those no one needs
    /// any more are released.
    fn leave_active(&mut self, id: TaskId, next: &mut Recommendations) {
        let Some(task) = self.tasks.get(id) else {
            return;
        };
        let dependencies = task.dependencies.clone();
        for dep in dependencies {
            let Some(d) = self.tasks.get_mut(dep) else {
                continue;
            };
            d.waiters = d.waiters.saturating_sub(1);
            if d.waiters == 0 && d.who_wants.is_empty() {
                match d.state {
                    State::Released => {}
                    State::Erred => next.push((dep, Target::Forgotten)),
                    _ => next.push((dep, Target::Released)),
                }
            }
        }
    }

    /// processing → memory, on a worker's word.
    pub(crate) fn task_finished(
        &mut self,
        worker: WorkerId,
        id: TaskId,
        run: u64,
        nbytes: u64,
        type_name: &str,
        ran: Ran,
    ) {
        let duration_us = ran.duration_us;
        let current = self.tasks.get(id).is_some_and(|t| {
            t.state == State::Processing && t.processing_on == Some(worker) && t.run == run
        });
        if !current {
            // A result of a dispatch that no longer stands (cancelled,
            // reassigned): the worker drops it.
            self.outbox
                .workers
                .push((worker, Outgoing::plain(ToWorker::Free { ids: vec![id] })));
            return;
        }
        self.watch_ran(worker, id, ran, None);
        self.unassign(id);
        let type_name = self.intern_type(type_name);
        let Some(task) = self.tasks.get_mut(id) else {
            return;
        };
        task.nbytes = nbytes;
        task.type_name = type_name;
        task.who_has.clear();
        task.who_has.push(worker);
        let prefix = task.prefix as usize;
        let dependents = task.dependents.clone();
        let wanted = task.who_wants.clone();
        let watchers = task.watchers.clone();
        let key = task.key.clone();
        if let Some(w) = self.workers.get_mut(&worker) {
            w.has_what.insert(id);
            w.managed_bytes += nbytes;
        }
        if let Some(p) = self.prefixes.get_mut(prefix) {
            let seconds = duration_us as f64 / 1e6;
            p.duration = Some(p.duration.map_or(seconds, |d| 0.5 * (d + seconds)));
            p.nbytes = Some(
                p.nbytes
                    .map_or(nbytes as f64, |n| 0.5 * (n + nbytes as f64)),
            );
        }
        self.set_state(id, State::Memory);
        let mut next = Recommendations::new();
        self.leave_active(id, &mut next);
        for dependent in dependents {
            let Some(d) = self.tasks.get_mut(dependent) else {
                continue;
            };
            if d.state == State::Waiting {
                d.waiting_on = d.waiting_on.saturating_sub(1);
                if d.waiting_on == 0 {
                    next.push((dependent, Target::Processing));
                }
            }
        }
        if !wanted.is_empty()
            && let Some(location) = self.location(id)
        {
            for client in wanted {
                if client != DATASETS {
                    self.outbox.clients.push((
                        client,
                        Outgoing::plain(ToClient::InMemory(location.clone())),
                    ));
                }
            }
        }
        for client in watchers {
            self.events.entry(client).or_default().push(TaskEvent {
                key: WireKey::from(&key),
                worker,
                started: false,
                nbytes,
            });
        }
        if let Some(task) = self.tasks.get(id)
            && task.waiters == 0
            && task.who_wants.is_empty()
        {
            next.push((id, Target::Released));
        }
        self.transitions(next);
    }

    /// A worker says a task it runs started.
    pub(crate) fn task_started(&mut self, worker: WorkerId, id: TaskId, run: u64) {
        let Some(task) = self.tasks.get(id) else {
            return;
        };
        if task.processing_on != Some(worker) || task.run != run {
            return;
        }
        for &client in &task.watchers {
            self.events.entry(client).or_default().push(TaskEvent {
                key: WireKey::from(&task.key),
                worker,
                started: true,
                nbytes: 0,
            });
        }
    }

    /// processing → erred, on a worker's word.
    pub(crate) fn task_erred(
        &mut self,
        worker: WorkerId,
        id: TaskId,
        run: u64,
        error: barrow_wire::task::WireError,
        ran: Ran,
    ) {
        let Some(task) = self.tasks.get(id) else {
            return;
        };
        if task.state != State::Processing || task.processing_on != Some(worker) || task.run != run
        {
            return;
        }
        let blame = task.key.clone();
        self.watch_ran(worker, id, ran, Some(&error.message));
        let failure = Arc::new(Failure {
            error,
            blame,
            dependents: Vec::new(),
        });
        self.transitions(vec![(id, Target::Erred(failure))]);
    }

    /// Any state → erred: the task failed, a task it needs did, or its
    /// value was lost. Its dependents fail with it.
    fn erred(&mut self, id: TaskId, failure: Arc<Failure>, next: &mut Recommendations) {
        let Some(task) = self.tasks.get(id) else {
            return;
        };
        let from = task.state;
        let own = task.key == failure.blame;
        match from {
            State::Processing => {
                if let Some(worker) = self.unassign(id) {
                    // A failure not its own (a lost dependency): it may
                    // still run there; stop it.
                    if !own {
                        self.outbox
                            .workers
                            .push((worker, Outgoing::plain(ToWorker::Free { ids: vec![id] })));
                    }
                }
            }
            State::Memory => self.free_data(id),
            _ => {}
        }
        if from.is_active() {
            self.leave_ready_state(id);
            self.leave_active(id, next);
        }
        if let Some(task) = self.tasks.get_mut(id)
            && from == State::Processing
            && own
            && task.retries > 0
        {
            task.retries -= 1;
            self.set_state(id, State::Released);
            next.push((id, Target::Waiting));
            return;
        }
        let Some(task) = self.tasks.get(id) else {
            return;
        };
        let dependents = task.dependents.clone();
        let wanted = task.who_wants.clone();
        let key = task.key.clone();
        let mut live = Vec::new();
        for &dependent in &dependents {
            if let Some(d) = self.tasks.get(dependent) {
                live.push((dependent, d.key.clone(), d.state.is_active()));
            }
        }
        // The task that failed names the tasks that waited on it; tasks
        // failing because of it carry the same failure.
        let failure = if own {
            let mut waiting: Vec<barrow_core::Key> =
                live.iter().map(|(_, k, _)| k.clone()).collect();
            waiting.sort();
            waiting.dedup();
            Arc::new(Failure {
                error: failure.error.clone(),
                blame: failure.blame.clone(),
                dependents: waiting,
            })
        } else {
            failure
        };
        if let Some(task) = self.tasks.get_mut(id) {
            task.failure = Some(failure.clone());
        }
        self.set_state(id, State::Erred);
        for (dependent, _, active) in live {
            if active {
                next.push((dependent, Target::Erred(failure.clone())));
            }
        }
        let waiting: Vec<WireKey> = failure.dependents.iter().map(WireKey::from).collect();
        for client in wanted {
            if client != DATASETS {
                self.outbox.clients.push((
                    client,
                    Outgoing::plain(ToClient::Erred {
                        key: WireKey::from(&key),
                        blame: WireKey::from(&failure.blame),
                        error: failure.error.clone(),
                        dependents: waiting.clone(),
                    }),
                ));
            }
        }
        if let Some(task) = self.tasks.get(id)
            && task.is_unreferenced()
        {
            next.push((id, Target::Forgotten));
        }
    }

    /// Drops the value of `id` on every worker holding it.
    fn free_data(&mut self, id: TaskId) {
        let Some(task) = self.tasks.get_mut(id) else {
            return;
        };
        let holders = std::mem::take(&mut task.who_has);
        let nbytes = task.nbytes;
        self.roots_full = None;
        for worker in holders {
            if let Some(w) = self.workers.get_mut(&worker) {
                w.has_what.remove(&id);
                w.managed_bytes = w.managed_bytes.saturating_sub(nbytes);
                self.outbox
                    .workers
                    .push((worker, Outgoing::plain(ToWorker::Free { ids: vec![id] })));
            }
        }
    }

    /// Any state → released: the task is not needed now (or must be
    /// computed again).
    fn released(&mut self, id: TaskId, next: &mut Recommendations) {
        let Some(task) = self.tasks.get(id) else {
            return;
        };
        let from = task.state;
        match from {
            State::Processing => {
                if let Some(worker) = self.unassign(id) {
                    self.outbox
                        .workers
                        .push((worker, Outgoing::plain(ToWorker::Free { ids: vec![id] })));
                }
            }
            State::Memory => self.free_data(id),
            _ => {}
        }
        if from.is_active() {
            self.leave_ready_state(id);
            self.leave_active(id, next);
        }
        let Some(task) = self.tasks.get_mut(id) else {
            return;
        };
        task.failure = None;
        task.waiting_on = 0;
        let dependents = task.dependents.clone();
        let needed = task.is_needed();
        let unreferenced = task.is_unreferenced();
        self.set_state(id, State::Released);
        if from == State::Memory {
            // Dependents counting on this value wait for it again.
            for dependent in dependents {
                let Some(d) = self.tasks.get_mut(dependent) else {
                    continue;
                };
                match d.state {
                    State::Waiting => d.waiting_on += 1,
                    // Sent with where the value was: sent again once it is
                    // somewhere again.
                    State::Queued | State::NoWorker | State::Processing => {
                        next.push((dependent, Target::Reset));
                    }
                    _ => {}
                }
            }
        }
        if needed {
            next.push((id, Target::Waiting));
        } else if unreferenced {
            next.push((id, Target::Forgotten));
        }
    }

    /// released → forgotten: nothing refers to the task any more.
    fn released_forgotten(&mut self, id: TaskId, next: &mut Recommendations) {
        let unreferenced = self.tasks.get(id).is_some_and(|t| t.is_unreferenced());
        if !unreferenced {
            return;
        }
        let Some(task) = self.tasks.remove(id) else {
            return;
        };
        self.forget_suspect(id);
        self.watch_forgotten(task.prefix, task.state);
        self.log
            .push(id, Some(State::Released), None, self.stimulus);
        if self.keys.get(&task.key) == Some(&id) {
            self.keys.remove(&task.key);
        }
        for dep in task.dependencies {
            let Some(d) = self.tasks.get_mut(dep) else {
                continue;
            };
            d.live_dependents = d.live_dependents.saturating_sub(1);
            if d.is_unreferenced() {
                next.push((dep, Target::Forgotten));
            }
            // Forgotten dependents stay listed until they outnumber the
            // live ones; then the list is compacted (amortized O(1)).
            if d.dependents.len() > 8 && d.dependents.len() > 2 * d.live_dependents as usize {
                let listed = std::mem::take(&mut d.dependents);
                let alive: Vec<TaskId> = listed
                    .into_iter()
                    .filter(|&x| self.tasks.get(x).is_some())
                    .collect();
                if let Some(d) = self.tasks.get_mut(dep) {
                    d.dependents = alive;
                }
            }
        }
    }
}
