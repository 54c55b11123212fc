//! The worker state machine's invariants, checked after every event when
//! `distributed.worker.validate` is on (tests).

use super::*;

impl WorkerState {
    /// Checks the invariants; the error names the first one broken.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let mut managed = 0u64;
        for (id, value) in &self.data {
            managed += value.nbytes() as u64;
            if let Some(task) = self.tasks.get(id)
                && task.state != WorkerTaskState::Memory
                && task.state != WorkerTaskState::Executing
            {
                return Err(format!("task {id} holds data in state {:?}", task.state));
            }
        }
        if managed != self.managed_bytes {
            return Err(format!(
                "{managed} bytes held, {} counted",
                self.managed_bytes
            ));
        }
        for (&id, task) in &self.tasks {
            let fail = |what: &str| Err(format!("task {id} ({:?}): {what}", task.state));
            match task.state {
                WorkerTaskState::Memory if !self.holds(id) => {
                    return fail("in memory without data");
                }
                WorkerTaskState::Executing if !self.executing.contains(&id) => {
                    return fail("executing but not listed");
                }
                WorkerTaskState::Fetch if !self.fetch.contains(&(task.priority, id)) => {
                    return fail("to fetch but not listed");
                }
                WorkerTaskState::Flight => {
                    let listed = task
                        .flight_peer
                        .and_then(|p| self.in_flight.get(&p))
                        .is_some_and(|ids| ids.contains(&id));
                    if !listed {
                        return fail("in flight but not listed");
                    }
                }
                WorkerTaskState::Waiting => {
                    let missing = task
                        .inputs
                        .iter()
                        .collect::<FxHashSet<_>>()
                        .into_iter()
                        .filter(|i| !self.holds(**i))
                        .count() as u32;
                    if missing != task.waiting_for || missing == 0 {
                        return fail(&format!(
                            "waits for {} inputs, {missing} are missing",
                            task.waiting_for
                        ));
                    }
                }
                _ => {}
            }
        }
        for id in &self.executing {
            if self.tasks.get(id).map(|t| t.state) != Some(WorkerTaskState::Executing) {
                return Err(format!("task {id} is listed as executing but is not"));
            }
        }
        for (name, total) in &self.resources {
            let left = self
                .available
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0.0, |(_, l)| *l);
            let held: f64 = self
                .executing
                .iter()
                .filter_map(|id| self.tasks.get(id))
                .flat_map(|t| t.resources.iter())
                .filter(|(n, _)| n == name)
                .map(|(_, a)| a)
                .sum();
            if (left + held - total).abs() > 1e-9 {
                return Err(format!(
                    "resource {name}: {left} left + {held} held != {total}"
                ));
            }
        }
        Ok(())
    }
}
