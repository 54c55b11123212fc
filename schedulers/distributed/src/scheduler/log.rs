//! The transition log: every change of a task's state with the stimulus
//! that caused it, in a bounded ring, so `story(key)` can replay what
//! happened to a key (Dask's `transition_log` and `story`).

use std::collections::VecDeque;
use std::fmt;

use barrow_core::Key;

use super::task::State;
use crate::protocol::TaskId;

/// What caused a change: a kind of event and its sequence number
/// (Dask's `stimulus_id`, such as `task-finished-42`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stimulus {
    /// What happened: `update-graph`, `task-finished`, `remove-worker`, …
    pub kind: &'static str,
    /// Its number, increasing for the scheduler's life.
    pub seq: u64,
}

impl Stimulus {
    pub(crate) fn new(kind: &'static str, seq: u64) -> Stimulus {
        Stimulus { kind, seq }
    }
}

impl fmt::Display for Stimulus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.kind, self.seq)
    }
}

/// One transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionRecord {
    /// The task.
    pub key: Key,
    /// Its state before (`None`: it was new).
    pub from: Option<State>,
    /// Its state after (`None`: forgotten).
    pub to: Option<State>,
    /// What caused it.
    pub stimulus: Stimulus,
}

impl fmt::Display for TransitionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |s: Option<State>| s.map_or("forgotten", State::name);
        write!(
            f,
            "{}: {} -> {} ({})",
            self.key,
            self.from.map_or("new", State::name),
            name(self.to),
            self.stimulus
        )
    }
}

/// The last transitions, at most `capacity` of them. Records name tasks
/// by id; the key of each id is kept once, when the task is made, so a
/// transition costs no reference count.
#[derive(Debug)]
pub(crate) struct TransitionLog {
    records: VecDeque<Record>,
    births: VecDeque<(TaskId, Key)>,
    capacity: usize,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    id: TaskId,
    from: Option<State>,
    to: Option<State>,
    stimulus: Stimulus,
}

impl TransitionLog {
    pub(crate) fn new(capacity: usize) -> TransitionLog {
        TransitionLog {
            records: VecDeque::with_capacity(capacity.min(1 << 16)),
            births: VecDeque::with_capacity(capacity.min(1 << 16)),
            capacity,
        }
    }

    /// Task `id` was made under `key`, in `state`.
    pub(crate) fn born(&mut self, id: TaskId, key: &Key, state: State, stimulus: Stimulus) {
        if self.capacity == 0 {
            return;
        }
        if self.births.len() == self.capacity {
            self.births.pop_front();
        }
        self.births.push_back((id, key.clone()));
        self.push(id, None, Some(state), stimulus);
    }

    pub(crate) fn push(
        &mut self,
        id: TaskId,
        from: Option<State>,
        to: Option<State>,
        stimulus: Stimulus,
    ) {
        if self.capacity == 0 {
            return;
        }
        if self.records.len() == self.capacity {
            self.records.pop_front();
        }
        self.records.push_back(Record {
            id,
            from,
            to,
            stimulus,
        });
    }

    pub(crate) fn story(&self, key: &Key) -> Vec<TransitionRecord> {
        let ids: Vec<TaskId> = self
            .births
            .iter()
            .filter(|(_, k)| k == key)
            .map(|(id, _)| *id)
            .collect();
        self.records
            .iter()
            .filter(|r| ids.contains(&r.id))
            .map(|r| TransitionRecord {
                key: key.clone(),
                from: r.from,
                to: r.to,
                stimulus: r.stimulus,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_keeps_the_last_transitions_and_tells_a_story() {
        let mut log = TransitionLog::new(3);
        let x = Key::new("x");
        let y = Key::new("y");
        let stimulus = Stimulus::new("update-graph", 1);
        log.born(1, &x, State::Released, stimulus);
        log.push(1, Some(State::Released), Some(State::Waiting), stimulus);
        log.born(2, &y, State::Released, stimulus);
        log.push(1, Some(State::Waiting), Some(State::Processing), stimulus);
        let story = log.story(&x);
        assert_eq!(story.len(), 2, "the oldest record fell out: {story:?}");
        assert_eq!(
            story[1].to_string(),
            "x: waiting -> processing (update-graph-1)"
        );
        assert_eq!(log.story(&y).len(), 1);
        let mut off = TransitionLog::new(0);
        off.born(1, &x, State::Released, stimulus);
        off.push(1, None, None, stimulus);
        assert!(off.story(&x).is_empty());
    }
}
