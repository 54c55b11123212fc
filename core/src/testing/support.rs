//! Helpers for the conformance cases and for scheduler tests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::callback::{Callback, RunInfo, TaskEvent};
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::key::Key;
use crate::options::Options;
use crate::registry::Registry;
use crate::scheduler::{RunContext, Scheduler};
use crate::value::Value;

/// Runs `graph` for `keys` on `scheduler` with default options.
pub fn run<S: Scheduler + ?Sized>(
    scheduler: &S,
    graph: &Graph,
    keys: &[Key],
) -> Result<Vec<Value>> {
    run_with(scheduler, graph, keys, &Options::new())
}

/// Runs `graph` for `keys` on `scheduler` with `options`.
pub fn run_with<S: Scheduler + ?Sized>(
    scheduler: &S,
    graph: &Graph,
    keys: &[Key],
    options: &Options,
) -> Result<Vec<Value>> {
    let registry = match options.registry_option() {
        Some(registry) => registry.clone(),
        None => Arc::new(Registry::new()),
    };
    let mut ctx = RunContext::new(&registry, options)?;
    scheduler.get(graph, keys, &mut ctx)
}

/// What a [`Recorder`] saw.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordedEvent {
    /// `start`, with the number of tasks planned.
    Start(usize),
    /// `pretask` of a key.
    Pretask(Key),
    /// `posttask` of a key.
    Posttask(Key),
    /// `finish`, with whether an error ended the run.
    Finish {
        /// Whether the run failed.
        failed: bool,
    },
}

/// A callback that records every event, in order.
#[derive(Debug, Default)]
pub struct Recorder {
    events: Mutex<Vec<RecordedEvent>>,
}

impl Recorder {
    /// A new, shared recorder.
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder::default())
    }

    /// The events so far.
    pub fn events(&self) -> Vec<RecordedEvent> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// How many times `event` was seen.
    pub fn count(&self, event: &RecordedEvent) -> usize {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|e| *e == event)
            .count()
    }

    fn push(&self, event: RecordedEvent) {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event);
    }
}

impl Callback for Recorder {
    fn start(&self, run: &RunInfo<'_>) {
        self.push(RecordedEvent::Start(run.plan.len()));
    }

    fn pretask(&self, task: &TaskEvent<'_>) {
        self.push(RecordedEvent::Pretask(task.key.clone()));
    }

    fn posttask(&self, task: &TaskEvent<'_>, _value: &Value) {
        self.push(RecordedEvent::Posttask(task.key.clone()));
    }

    fn finish(&self, _run: &RunInfo<'_>, error: Option<&Error>) {
        self.push(RecordedEvent::Finish {
            failed: error.is_some(),
        });
    }
}

/// Counts how many values it made and how many were dropped, to observe
/// when a scheduler frees results.
#[derive(Debug, Default)]
pub struct DropCounter {
    made: AtomicUsize,
    dropped: Arc<AtomicUsize>,
}

/// A value that bumps its counter when dropped.
#[derive(Debug)]
pub struct Counted {
    /// The payload.
    pub value: i64,
    dropped: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

impl DropCounter {
    /// A new, shared counter.
    pub fn new() -> Arc<DropCounter> {
        Arc::new(DropCounter::default())
    }

    /// A counted value.
    pub fn make(&self, value: i64) -> Counted {
        self.made.fetch_add(1, Ordering::SeqCst);
        Counted {
            value,
            dropped: self.dropped.clone(),
        }
    }

    /// How many counted values were made.
    pub fn made(&self) -> usize {
        self.made.load(Ordering::SeqCst)
    }

    /// How many counted values were dropped.
    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }

    /// How many are alive now.
    pub fn alive(&self) -> usize {
        self.made() - self.dropped()
    }
}
