//! The transition log: every change of a task's state with the stimulus
//! that caused it, in a bounded ring, so `story(key)` can replay what
//! happened to a key (Dask's `transition_log` and `story`).

use std::collections::VecDeque;
use std::fmt;

use barrow_core::Key;

use super::task::State;

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

/// The last transitions, at most `capacity` of them.
#[derive(Debug)]
pub(crate) struct TransitionLog {
    records: VecDeque<TransitionRecord>,
    capacity: usize,
}

impl TransitionLog {
    pub(crate) fn new(capacity: usize) -> TransitionLog {
        TransitionLog {
            records: VecDeque::with_capacity(capacity.min(1 << 16)),
            capacity,
        }
    }

    pub(crate) fn push(
        &mut self,
        key: &Key,
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
        self.records.push_back(TransitionRecord {
            key: key.clone(),
            from,
            to,
            stimulus,
        });
    }

    pub(crate) fn story(&self, key: &Key) -> Vec<TransitionRecord> {
        self.records
            .iter()
            .filter(|r| &r.key == key)
            .cloned()
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
        log.push(
            &x,
            None,
            Some(State::Released),
            Stimulus::new("update-graph", 1),
        );
        log.push(
            &x,
            Some(State::Released),
            Some(State::Waiting),
            Stimulus::new("update-graph", 1),
        );
        log.push(
            &y,
            None,
            Some(State::Released),
            Stimulus::new("update-graph", 1),
        );
        log.push(
            &x,
            Some(State::Waiting),
            Some(State::Processing),
            Stimulus::new("update-graph", 1),
        );
        let story = log.story(&x);
        assert_eq!(story.len(), 2);
        assert_eq!(
            story[1].to_string(),
            "x: waiting -> processing (update-graph-1)"
        );
        let mut off = TransitionLog::new(0);
        off.push(&x, None, None, Stimulus::new("a", 1));
        assert!(off.story(&x).is_empty());
    }
}
