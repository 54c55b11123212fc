//! Stimuli that bring tasks and values: a client's graph, a scatter, a
//! worker's new replicas, a dependency no holder could give.

use std::sync::Arc;

use barrow_core::Key;
use barrow_wire::task::WireKey;
use smallvec::SmallVec;

use super::task::{Failure, Restrictions, Spec, State, Task};
use super::transitions::{Recommendations, Target};
use super::{Prefix, SchedulerState, wire_error};
use crate::comm::framed::{Frame, Outgoing};
use crate::protocol::{
    Answer, ClientId, DepRef, KeyLocation, Priority, TaskEvent, TaskId, ToClient, ToWorker,
    UpdateGraph, WorkerId,
};

/// A scatter waiting for its workers to say they hold the values.
#[derive(Debug)]
pub(crate) struct PendingScatter {
    pub(crate) client: ClientId,
    pub(crate) request: u64,
    pub(crate) ids: Vec<TaskId>,
    /// (task, worker) confirmations still to come.
    pub(crate) waiting: Vec<(TaskId, WorkerId)>,
}

/// The kind of task a key names, as Dask's `key_split` (the dashboard's
/// rule, so its progress rows are the scheduler's prefixes).
pub(crate) use barrow_dashboard::key_prefix;

/// Why a graph is refused as a whole.
struct Refusal(String);

impl SchedulerState {
    fn prefix_of(&mut self, key: &Key) -> u32 {
        let name = key_prefix(key.name());
        if let Some(&id) = self.prefix_ids.get(name) {
            return id;
        }
        let id = self.prefixes.len() as u32;
        let name: Arc<str> = Arc::from(name);
        self.prefixes.push(Prefix {
            duration: None,
            nbytes: None,
        });
        self.watch_prefix(&name);
        self.prefix_ids.insert(name, id);
        id
    }

    /// A client's graph: new tasks join, the wanted keys become needed.
    pub(crate) fn update_graph(
        &mut self,
        client: ClientId,
        update: UpdateGraph,
        frames: &dyn Fn(usize) -> Option<Arc<[u8]>>,
    ) {
        let known = match self.check_graph(&update, frames) {
            Ok(known) => known,
            Err(Refusal(reason)) => {
                self.refuse_graph(client, &update, &reason);
                return;
            }
        };
        self.generation += 1;
        let generation = self.generation;
        let function_ids: Vec<u32> = update
            .functions
            .iter()
            .map(|name| self.functions.intern(name))
            .collect();
        let mut ids: Vec<TaskId> = Vec::with_capacity(update.tasks.len());
        let mut new = Vec::with_capacity(update.tasks.len());
        let mut next_frame = 0usize;
        for (def, (key, existing)) in update.tasks.iter().zip(known) {
            let first = next_frame;
            next_frame += 1 + def.literals as usize;
            if let Some(existing) = existing {
                ids.push(existing);
                new.push(false);
                continue;
            }
            let body = frames(first).unwrap_or_else(|| Arc::from(&[][..]));
            let literals = (first + 1..next_frame)
                .map(|i| frames(i).unwrap_or_else(|| Arc::from(&[][..])))
                .collect();
            let prefix = self.prefix_of(&key);
            let annotations = def.annotations.as_ref();
            let priority = Priority {
                user: -i64::from(annotations.map_or(0, |a| a.priority)),
                generation,
                order: def.order,
            };
            let mut task = Task::new(key.clone(), prefix, priority);
            task.spec = Some(Spec {
                body,
                literals,
                inputs: def.inputs.clone(),
                fingerprint: def.fingerprint,
            });
            task.functions = def
                .functions
                .iter()
                .filter_map(|&f| function_ids.get(f as usize).copied())
                .collect();
            if let Some(a) = annotations {
                task.retries = a.retries;
                if !a.workers.is_empty() || !a.resources.is_empty() {
                    task.restrictions = Some(Box::new(Restrictions {
                        workers: a.workers.clone(),
                        resources: a.resources.clone(),
                        loose: a.allow_other_workers,
                    }));
                }
            }
            let id = self.tasks.insert(task);
            self.keys.insert(key.clone(), id);
            self.log.born(id, &key, State::Released, self.stimulus);
            self.watch_added(prefix, State::Released);
            ids.push(id);
            new.push(true);
        }
        for (i, def) in update.tasks.iter().enumerate() {
            if !new[i] {
                continue;
            }
            let id = ids[i];
            let dependencies: SmallVec<[TaskId; 2]> = def
                .dependencies
                .iter()
                .filter_map(|d| self.resolve(d, &ids))
                .collect();
            for &dep in &dependencies {
                if let Some(d) = self.tasks.get_mut(dep) {
                    d.dependents.push(id);
                    d.live_dependents += 1;
                }
            }
            if let Some(task) = self.tasks.get_mut(id) {
                task.dependencies = dependencies;
            }
        }
        let wanted: Vec<TaskId> = update
            .wanted
            .iter()
            .filter_map(|d| self.resolve(d, &ids))
            .collect();
        for &id in &wanted {
            if let Some(task) = self.tasks.get_mut(id)
                && !task.who_wants.contains(&client)
            {
                task.who_wants.push(client);
            }
            if let Some(c) = self.clients.get_mut(&client) {
                c.wants.insert(id);
            }
        }
        if update.report_events {
            for &id in &ids {
                if let Some(task) = self.tasks.get_mut(id)
                    && !task.watchers.contains(&client)
                {
                    task.watchers.push(client);
                }
            }
        }
        // Tasks already done tell the client now; the others when they
        // get there.
        for &id in &wanted {
            self.report_known(client, id);
        }
        if update.report_events {
            for &id in &ids {
                if let Some(task) = self.tasks.get(id)
                    && task.state == State::Memory
                {
                    let key = WireKey::from(&task.key);
                    let worker = task.who_has.first().copied().unwrap_or(0);
                    let nbytes = task.nbytes;
                    let events = self.events.entry(client).or_default();
                    events.push(TaskEvent {
                        key: key.clone(),
                        worker,
                        started: true,
                        nbytes: 0,
                    });
                    events.push(TaskEvent {
                        key,
                        worker,
                        started: false,
                        nbytes,
                    });
                }
            }
        }
        let roots = ids
            .iter()
            .zip(&new)
            .filter(|&(&id, &is_new)| is_new && self.tasks.get(id).is_some_and(|t| t.is_root()))
            .count();
        self.root_counts.insert(generation, roots as u32);
        while self.root_counts.len() > 64 {
            self.root_counts.pop_first();
        }
        // Dependencies first, so the first to pop is the first task.
        let mut recommendations: Recommendations = Vec::with_capacity(ids.len());
        for &id in ids.iter().rev() {
            if self
                .tasks
                .get(id)
                .is_some_and(|t| t.state == State::Released)
            {
                recommendations.push((id, Target::Waiting));
            }
        }
        self.transitions(recommendations);
    }

    /// Checks a graph before any of it is taken: frames, references,
    /// keys defined differently from the tasks the cluster has. Gives each
    /// task's key and the id of the task the cluster has under it.
    fn check_graph(
        &self,
        update: &UpdateGraph,
        frames: &dyn Fn(usize) -> Option<Arc<[u8]>>,
    ) -> Result<Vec<(Key, Option<TaskId>)>, Refusal> {
        let count = update.tasks.len();
        let mut next_frame = 0usize;
        let check_ref = |d: &DepRef| -> Result<(), Refusal> {
            match d {
                DepRef::Local(i) if (*i as usize) < count => Ok(()),
                DepRef::Local(i) => Err(Refusal(format!(
                    "the graph refers to its task {i}, and has {count}: a damaged message"
                ))),
                DepRef::Remote(key) => {
                    let key = Key::from(key);
                    match self.keys.get(&key) {
                        Some(_) => Ok(()),
                        None => Err(Refusal(format!(
                            "the graph reads {key}, which it does not define and the cluster \
                             does not hold (was its future or persisted collection dropped, or \
                             published on another scheduler?)"
                        ))),
                    }
                }
            }
        };
        let mut known = Vec::with_capacity(count);
        for def in &update.tasks {
            next_frame += 1 + def.literals as usize;
            for d in &def.dependencies {
                check_ref(d)?;
            }
            if def
                .inputs
                .iter()
                .any(|&i| i as usize >= def.dependencies.len())
            {
                return Err(Refusal(format!(
                    "task {} reads an input it does not list: a damaged message",
                    Key::from(&def.key)
                )));
            }
            let key = Key::from(&def.key);
            let existing = self.keys.get(&key).copied();
            if let Some(task) = existing.and_then(|id| self.tasks.get(id)) {
                let same = task
                    .spec
                    .as_ref()
                    .is_some_and(|s| s.fingerprint == def.fingerprint);
                if !same {
                    return Err(Refusal(format!(
                        "key {key} is already on the cluster as the result of another task \
                         (another graph, or scattered data, used the same key): keys must name \
                         what computes them; rename one of the two (tokenize their inputs)"
                    )));
                }
            }
            known.push((key, existing));
        }
        if next_frame > 0 && frames(next_frame - 1).is_none() {
            return Err(Refusal(
                "the graph came with fewer frames than its tasks need: a damaged message"
                    .to_owned(),
            ));
        }
        for d in &update.wanted {
            check_ref(d)?;
        }
        Ok(known)
    }

    /// Tells the client that its graph is refused, for each key it wanted.
    fn refuse_graph(&mut self, client: ClientId, update: &UpdateGraph, reason: &str) {
        tracing::warn!("a graph of client {client} is refused: {reason}");
        for wanted in &update.wanted {
            let key = match wanted {
                DepRef::Local(i) => match update.tasks.get(*i as usize) {
                    Some(def) => def.key.clone(),
                    None => continue,
                },
                DepRef::Remote(key) => key.clone(),
            };
            let core_key = Key::from(&key);
            self.outbox.clients.push((
                client,
                Outgoing::plain(ToClient::Erred {
                    key: key.clone(),
                    blame: key,
                    error: wire_error(
                        barrow_core::ErrorKind::InvalidArgument,
                        reason,
                        Some(&core_key),
                    ),
                    dependents: Vec::new(),
                }),
            ));
        }
    }

    fn resolve(&self, d: &DepRef, ids: &[TaskId]) -> Option<TaskId> {
        match d {
            DepRef::Local(i) => ids.get(*i as usize).copied(),
            DepRef::Remote(key) => self.keys.get(&Key::from(key)).copied(),
        }
    }

    /// Tells `client` about a key it wants that is already done or failed.
    fn report_known(&mut self, client: ClientId, id: TaskId) {
        let Some(task) = self.tasks.get(id) else {
            return;
        };
        match task.state {
            State::Memory => {
                if let Some(location) = self.location(id) {
                    self.outbox
                        .clients
                        .push((client, Outgoing::plain(ToClient::InMemory(location))));
                }
            }
            State::Erred => {
                if let Some(failure) = &task.failure {
                    let dependents = failure.dependents.iter().map(WireKey::from).collect();
                    self.outbox.clients.push((
                        client,
                        Outgoing::plain(ToClient::Erred {
                            key: WireKey::from(&task.key),
                            blame: WireKey::from(&failure.blame),
                            error: failure.error.clone(),
                            dependents,
                        }),
                    ));
                }
            }
            _ => {}
        }
    }

    /// A client scatters values: they go to workers, and become tasks in
    /// memory once each worker says it holds them.
    pub(crate) fn scatter(
        &mut self,
        client: ClientId,
        request: u64,
        values: Vec<(WireKey, u64, String)>,
        broadcast: bool,
        workers: &[String],
        frames: &dyn Fn(usize) -> Option<Arc<[u8]>>,
    ) {
        let reply = |state: &mut SchedulerState, answer: Result<Answer, String>| {
            state
                .outbox
                .clients
                .push((client, Outgoing::plain(ToClient::Reply { request, answer })));
        };
        let targets: Vec<WorkerId> = self
            .running
            .iter()
            .copied()
            .filter(|w| {
                workers.is_empty()
                    || self.workers.get(w).is_some_and(|worker| {
                        workers.iter().any(|n| {
                            n == &worker.name || super::placement::same_address(n, &worker.address)
                        })
                    })
            })
            .collect();
        if targets.is_empty() {
            let why = if self.running.is_empty() {
                "the cluster has no worker yet: start one (barrow worker ADDRESS) and scatter again"
                    .to_owned()
            } else {
                format!("no worker of the cluster is named {}", workers.join(" or "))
            };
            return reply(self, Err(why));
        }
        if (0..values.len()).any(|i| frames(i).is_none()) {
            return reply(
                self,
                Err("the scatter came with fewer values than keys".to_owned()),
            );
        }
        let mut ids = Vec::with_capacity(values.len());
        let mut waiting = Vec::new();
        let mut per_worker: rustc_hash::FxHashMap<WorkerId, (Vec<TaskId>, Vec<Frame>)> =
            rustc_hash::FxHashMap::default();
        for (i, (key, nbytes, type_name)) in values.into_iter().enumerate() {
            let core_key = Key::from(&key);
            if let Some(&existing) = self.keys.get(&core_key) {
                let scattered = self.tasks.get(existing).is_some_and(|t| t.spec.is_none());
                if !scattered {
                    return reply(
                        self,
                        Err(format!(
                            "key {core_key} is already on the cluster as the result of a task: \
                             scatter under another key"
                        )),
                    );
                }
                // The same bytes scattered again (keys hash the bytes).
                ids.push(existing);
                continue;
            }
            let prefix = self.prefix_of(&core_key);
            let mut task = Task::new(
                core_key.clone(),
                prefix,
                Priority {
                    user: 0,
                    generation: self.generation,
                    order: 0,
                },
            );
            task.nbytes = nbytes;
            task.type_name = self.intern_type(&type_name);
            let id = self.tasks.insert(task);
            self.keys.insert(core_key.clone(), id);
            self.log.born(id, &core_key, State::Released, self.stimulus);
            self.watch_added(prefix, State::Released);
            ids.push(id);
            let chosen: Vec<WorkerId> = if broadcast {
                targets.clone()
            } else {
                let least = targets
                    .iter()
                    .copied()
                    .min_by_key(|w| {
                        let bytes = self.workers.get(w).map_or(0, |w| w.managed_bytes);
                        let queued = per_worker.get(w).map_or(0, |(ids, _)| ids.len());
                        (bytes, queued)
                    })
                    .unwrap_or(targets[0]);
                vec![least]
            };
            let Some(bytes) = frames(i) else {
                continue;
            };
            for worker in chosen {
                let entry = per_worker.entry(worker).or_default();
                entry.0.push(id);
                entry.1.push(Frame::Bytes(bytes.clone()));
                waiting.push((id, worker));
            }
        }
        for &id in &ids {
            if let Some(task) = self.tasks.get_mut(id)
                && !task.who_wants.contains(&client)
            {
                task.who_wants.push(client);
            }
            if let Some(c) = self.clients.get_mut(&client) {
                c.wants.insert(id);
            }
        }
        let mut per_worker: Vec<_> = per_worker.into_iter().collect();
        per_worker.sort_by_key(|(w, _)| *w);
        for (worker, (task_ids, frames)) in per_worker {
            self.outbox.workers.push((
                worker,
                Outgoing {
                    message: ToWorker::PutData { ids: task_ids },
                    frames,
                },
            ));
        }
        if waiting.is_empty() {
            let locations = ids.iter().filter_map(|&id| self.location(id)).collect();
            return reply(self, Ok(Answer::Keys(locations)));
        }
        let scatter = self.next_scatter;
        self.next_scatter += 1;
        self.scatters.insert(
            scatter,
            PendingScatter {
                client,
                request,
                ids,
                waiting,
            },
        );
    }

    /// A worker holds new values: replicas it fetched, or scattered ones.
    pub(crate) fn add_keys(&mut self, worker: WorkerId, ids: &[TaskId]) {
        let mut unknown = Vec::new();
        for &id in ids {
            let Some(task) = self.tasks.get_mut(id) else {
                unknown.push(id);
                continue;
            };
            let scattered_now = task.state == State::Released && task.spec.is_none();
            if task.state != State::Memory && !scattered_now {
                unknown.push(id);
                continue;
            }
            if !task.who_has.contains(&worker) {
                task.who_has.push(worker);
                let nbytes = task.nbytes;
                if let Some(w) = self.workers.get_mut(&worker) {
                    w.has_what.insert(id);
                    w.managed_bytes += nbytes;
                }
            }
            if scattered_now {
                self.set_memory(id);
            }
        }
        if !unknown.is_empty() {
            self.outbox
                .workers
                .push((worker, Outgoing::plain(ToWorker::Free { ids: unknown })));
        }
        let mut done = Vec::new();
        for (&scatter, pending) in &mut self.scatters {
            pending
                .waiting
                .retain(|&(id, w)| !(w == worker && ids.contains(&id)));
            if pending.waiting.is_empty() {
                done.push(scatter);
            }
        }
        done.sort_unstable();
        for scatter in done {
            if let Some(pending) = self.scatters.remove(&scatter) {
                let locations: Vec<KeyLocation> = pending
                    .ids
                    .iter()
                    .filter_map(|&id| self.location(id))
                    .collect();
                self.outbox.clients.push((
                    pending.client,
                    Outgoing::plain(ToClient::Reply {
                        request: pending.request,
                        answer: Ok(Answer::Keys(locations)),
                    }),
                ));
            }
        }
    }

    /// released → memory, for a scattered value now held.
    fn set_memory(&mut self, id: TaskId) {
        if let Some(task) = self.tasks.get_mut(id) {
            task.state = State::Memory;
            let prefix = task.prefix;
            self.watch_scattered(prefix);
            self.log.push(
                id,
                Some(State::Released),
                Some(State::Memory),
                self.stimulus,
            );
        }
    }

    /// A worker could not store scattered values: their scatter fails.
    pub(crate) fn not_stored(&mut self, worker: WorkerId, ids: &[TaskId], reason: &str) {
        let label = self.workers.get(&worker).map_or_else(
            || format!("worker {worker}"),
            |w| format!("worker '{}' ({})", w.name, w.address),
        );
        let failed: Vec<u64> = self
            .scatters
            .iter()
            .filter(|(_, p)| {
                p.waiting
                    .iter()
                    .any(|(id, w)| *w == worker && ids.contains(id))
            })
            .map(|(&s, _)| s)
            .collect();
        for scatter in failed {
            if let Some(pending) = self.scatters.remove(&scatter) {
                self.outbox.clients.push((
                    pending.client,
                    Outgoing::plain(ToClient::Reply {
                        request: pending.request,
                        answer: Err(format!("{label} cannot store a scattered value: {reason}")),
                    }),
                ));
            }
        }
    }

    /// Fails the scatters waiting on a worker that left.
    pub(crate) fn fail_scatters(&mut self, worker: WorkerId, label: &str) {
        let failed: Vec<u64> = self
            .scatters
            .iter()
            .filter(|(_, p)| p.waiting.iter().any(|&(_, w)| w == worker))
            .map(|(&s, _)| s)
            .collect();
        for scatter in failed {
            if let Some(pending) = self.scatters.remove(&scatter) {
                self.outbox.clients.push((
                    pending.client,
                    Outgoing::plain(ToClient::Reply {
                        request: pending.request,
                        answer: Err(format!(
                            "{label} left before it stored the scattered values; scatter them \
                             again"
                        )),
                    }),
                ));
            }
        }
    }

    /// A worker could not get `dependency` for task `id` from any holder.
    pub(crate) fn missing_data(
        &mut self,
        worker: WorkerId,
        id: TaskId,
        dependency: TaskId,
        tried: &[(WorkerId, String)],
    ) {
        let mut recommendations = Vec::new();
        if let Some(dep) = self.tasks.get_mut(dependency) {
            let before = dep.who_has.len();
            dep.who_has.retain(|w| !tried.iter().any(|(t, _)| t == w));
            let removed = before - dep.who_has.len();
            let nbytes = dep.nbytes;
            for (t, _) in tried {
                if let Some(holder) = self.workers.get_mut(t)
                    && holder.has_what.remove(&dependency)
                {
                    holder.managed_bytes = holder.managed_bytes.saturating_sub(nbytes);
                }
            }
            if removed > 0 && dep.who_has.is_empty() && dep.state == State::Memory {
                if dep.spec.is_some() {
                    // Computed again, and the task that needs it waits.
                    recommendations.push((dependency, Target::Reset));
                } else {
                    let reasons: Vec<String> = tried
                        .iter()
                        .map(|(w, why)| format!("worker {w}: {why}"))
                        .collect();
                    let message = format!(
                        "its value was scattered by a client and could not be fetched from any \
                         worker holding it ({}); a scattered value cannot be computed again: \
                         scatter it again",
                        reasons.join("; ")
                    );
                    let failure = Arc::new(Failure {
                        error: wire_error(barrow_core::ErrorKind::Worker, &message, Some(&dep.key)),
                        blame: dep.key.clone(),
                        dependents: Vec::new(),
                    });
                    recommendations.push((dependency, Target::Erred(failure)));
                }
            }
        }
        // The lost input first: the task then waits for it.
        self.transitions(recommendations);
        if self
            .tasks
            .get(id)
            .is_some_and(|t| t.state == State::Processing && t.processing_on == Some(worker))
        {
            // Dispatch it again, with where its inputs are now.
            self.transitions(vec![(id, Target::Reset)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::key_prefix;

    #[test]
    fn prefixes_drop_tokens_and_numbers() {
        assert_eq!(key_prefix("inc-5f3a9c2e77"), "inc");
        assert_eq!(key_prefix("x"), "x");
        assert_eq!(key_prefix("random-sample-8c1f0d2e3a4b"), "random-sample");
        assert_eq!(key_prefix("x-1"), "x");
        assert_eq!(key_prefix("ones-like"), "ones-like");
        assert_eq!(key_prefix(""), "");
    }
}
