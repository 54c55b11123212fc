//! The invariants of the scheduler's state (Dask's `validate_state`),
//! checked after every stimulus when `distributed.scheduler.validate` is
//! on, as the tests run.

use super::task::State;
use super::{DATASETS, SchedulerState};

impl SchedulerState {
    /// Checks every invariant; the error names the first one broken.
    pub fn validate(&self) -> Result<(), String> {
        if self.keys.len() != self.tasks.len() {
            return Err(format!(
                "{} keys map to {} tasks",
                self.keys.len(),
                self.tasks.len()
            ));
        }
        let mut queued = 0;
        for (id, task) in self.tasks.iter() {
            let name = &task.key;
            let fail = |what: String| Err(format!("task {name} ({}): {what}", task.state));
            if self.keys.get(&task.key) != Some(&id) {
                return fail("its key does not map to it".into());
            }
            let held = !task.who_has.is_empty();
            if (task.state == State::Memory) != held {
                return fail(format!("{} holders", task.who_has.len()));
            }
            if (task.state == State::Processing) != task.processing_on.is_some() {
                return fail(format!("processing on {:?}", task.processing_on));
            }
            if (task.state == State::Erred) != task.failure.is_some() {
                return fail("a failure iff erred broken".into());
            }
            let mut not_in_memory = 0;
            for &dep in &task.dependencies {
                let Some(d) = self.tasks.get(dep) else {
                    return fail("it depends on a forgotten task".into());
                };
                if !d.dependents.contains(&id) {
                    return fail(format!("dependency {} does not list it", d.key));
                }
                if d.state != State::Memory {
                    not_in_memory += 1;
                }
            }
            match task.state {
                State::Waiting if task.waiting_on != not_in_memory || not_in_memory == 0 => {
                    return fail(format!(
                        "waits on {} dependencies, {not_in_memory} are not in memory",
                        task.waiting_on
                    ));
                }
                State::Queued | State::NoWorker | State::Processing if not_in_memory > 0 => {
                    return fail(format!("{not_in_memory} dependencies are not in memory"));
                }
                State::Memory if !task.is_needed() => {
                    return fail("in memory but neither wanted nor needed".into());
                }
                _ => {}
            }
            if task.state == State::Queued {
                queued += 1;
            }
            if (task.state == State::NoWorker) != self.unrunnable.contains_key(&id) {
                return fail("no-worker iff unrunnable broken".into());
            }
            let mut live = 0;
            let mut active = 0;
            for &dependent in &task.dependents {
                let Some(d) = self.tasks.get(dependent) else {
                    continue;
                };
                live += 1;
                if !d.dependencies.contains(&id) {
                    return fail(format!("dependent {} does not list it", d.key));
                }
                if d.state.is_active() {
                    active += 1;
                }
            }
            if live != task.live_dependents {
                return fail(format!(
                    "{} live dependents counted, {live} listed",
                    task.live_dependents
                ));
            }
            if active != task.waiters {
                return fail(format!(
                    "{} waiters counted, {active} active dependents",
                    task.waiters
                ));
            }
            if let Some(worker) = task.processing_on {
                let Some(w) = self.workers.get(&worker) else {
                    return fail(format!("processing on worker {worker}, which left"));
                };
                if !w.processing.contains(&id) {
                    return fail(format!("worker {worker} does not list it as processing"));
                }
            }
            for &worker in &task.who_has {
                let Some(w) = self.workers.get(&worker) else {
                    return fail(format!("held by worker {worker}, which left"));
                };
                if !w.has_what.contains(&id) {
                    return fail(format!("worker {worker} does not list it as held"));
                }
            }
            for &client in &task.who_wants {
                if client == DATASETS {
                    continue;
                }
                let Some(c) = self.clients.get(&client) else {
                    return fail(format!("wanted by client {client}, which left"));
                };
                if !c.wants.contains(&id) {
                    return fail(format!("client {client} does not list it as wanted"));
                }
            }
        }
        if queued != self.queued_count {
            return Err(format!(
                "{queued} tasks are queued, {} counted",
                self.queued_count
            ));
        }
        for (&worker, w) in &self.workers {
            let mut managed = 0u64;
            for &id in &w.has_what {
                let Some(task) = self.tasks.get(id) else {
                    return Err(format!("worker {worker} holds a forgotten task"));
                };
                if !task.who_has.contains(&worker) {
                    return Err(format!(
                        "worker {worker} holds {}, which does not say so",
                        task.key
                    ));
                }
                managed += task.nbytes;
            }
            if managed != w.managed_bytes {
                return Err(format!(
                    "worker {worker} holds {managed} bytes, {} counted",
                    w.managed_bytes
                ));
            }
            let running = w.status == super::WorkerStatus::Running;
            if running != self.running.contains(&worker) {
                return Err(format!(
                    "worker {worker} is {} and {}in the running list",
                    w.status.name(),
                    if running { "not " } else { "" }
                ));
            }
            if (running && w.processing.is_empty()) != self.idle.contains(&worker) {
                return Err(format!(
                    "worker {worker} processes {} tasks, and is {}listed as idle",
                    w.processing.len(),
                    if self.idle.contains(&worker) {
                        ""
                    } else {
                        "not "
                    }
                ));
            }
            for &id in &w.processing {
                if self.tasks.get(id).and_then(|t| t.processing_on) != Some(worker) {
                    return Err(format!(
                        "worker {worker} processes a task not assigned to it"
                    ));
                }
            }
        }
        for (&client, c) in &self.clients {
            for &id in &c.wants {
                if self
                    .tasks
                    .get(id)
                    .is_some_and(|t| !t.who_wants.contains(&client))
                {
                    return Err(format!("client {client} wants a task that does not say so"));
                }
            }
        }
        Ok(())
    }
}
