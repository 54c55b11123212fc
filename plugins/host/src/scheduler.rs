//! A plugin scheduler as a native [`Scheduler`]: the plugin decides when
//! each task runs; this process runs it and keeps its result.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use abi_stable::sabi_types::RRef;
use abi_stable::std_types::{RErr, ROk, RResult};
use abi_stable::type_level::downcasting::TD_Opaque;
use barrow_core::scheduler::Scheduler;
use barrow_core::{Error as CoreError, ErrorKind, Graph, Key, RunContext, Value};
use barrow_plugin::abi::{AbiError, AbiGraph, RunnerImpl, RunnerImpl_TO, SchedulersTable};

use crate::register::failure;

/// A plugin scheduler as a native [`Scheduler`]: the plugin decides the
/// order, this process runs the tasks and keeps their results.
pub(crate) struct ForeignScheduler {
    pub(crate) name: String,
    pub(crate) table: &'static SchedulersTable,
    pub(crate) index: usize,
}

impl Scheduler for ForeignScheduler {
    fn name(&self) -> &str {
        &self.name
    }

    fn get(
        &self,
        graph: &Graph,
        keys: &[Key],
        _ctx: &mut RunContext<'_>,
    ) -> barrow_core::Result<Vec<Value>> {
        let runner = HostRunner::new(graph, keys)?;
        let abi = runner.abi_graph();
        let result = (self.table.schedule)(
            self.index,
            &abi,
            RunnerImpl_TO::from_ptr(RRef::new(&runner), TD_Opaque),
        );
        // A task's own error is the one to report, with its key and kind.
        if let Some(error) = runner.first_error() {
            return Err(error);
        }
        if let RErr(e) = result {
            return Err(failure(&format!("plugin scheduler '{}'", self.name), &e));
        }
        runner.outputs(&self.name, keys)
    }
}

/// The tasks a computation needs, by index, and their results.
struct HostRunner<'g> {
    tasks: Vec<(Key, &'g barrow_core::Task)>,
    index: HashMap<Key, usize>,
    results: Vec<Mutex<Option<Value>>>,
    outputs: Vec<usize>,
    error: Mutex<Option<CoreError>>,
}

impl<'g> HostRunner<'g> {
    fn new(graph: &'g Graph, keys: &[Key]) -> barrow_core::Result<HostRunner<'g>> {
        let mut runner = HostRunner {
            tasks: Vec::new(),
            index: Default::default(),
            results: Vec::new(),
            outputs: Vec::new(),
            error: Mutex::new(None),
        };
        let mut stack: Vec<(Key, Option<Key>)> = keys.iter().map(|k| (k.clone(), None)).collect();
        while let Some((key, needed_by)) = stack.pop() {
            if runner.index.contains_key(&key) {
                continue;
            }
            let Some(task) = graph.get(&key) else {
                return Err(match needed_by {
                    None => CoreError::new(
                        ErrorKind::MissingKey,
                        format!("key '{key}' is not in the graph"),
                    ),
                    Some(by) => CoreError::new(
                        ErrorKind::MissingDependency,
                        format!("task '{by}' needs '{key}', which is not in the graph"),
                    ),
                });
            };
            runner.index.insert(key.clone(), runner.tasks.len());
            task.for_each_dependency(&mut |dep| stack.push((dep.clone(), Some(key.clone()))));
            runner.tasks.push((key, task));
        }
        runner.results = runner.tasks.iter().map(|_| Mutex::new(None)).collect();
        runner.outputs = keys
            .iter()
            .filter_map(|k| runner.index.get(k).copied())
            .collect();
        Ok(runner)
    }

    fn abi_graph(&self) -> AbiGraph {
        AbiGraph {
            keys: self
                .tasks
                .iter()
                .map(|(k, _)| k.to_string().into())
                .collect(),
            dependencies: self
                .tasks
                .iter()
                .map(|(_, task)| {
                    let mut deps = abi_stable::std_types::RVec::new();
                    task.for_each_dependency(&mut |dep| {
                        if let Some(&i) = self.index.get(dep) {
                            deps.push(i);
                        }
                    });
                    deps
                })
                .collect(),
            outputs: self.outputs.iter().copied().collect(),
        }
    }

    fn first_error(&self) -> Option<CoreError> {
        self.error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// The result of `key`, if it ran and was not released.
    fn result(&self, key: &Key) -> Option<Value> {
        let &index = self.index.get(key)?;
        self.results[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn outputs(&self, scheduler: &str, keys: &[Key]) -> barrow_core::Result<Vec<Value>> {
        keys.iter()
            .map(|key| {
                self.result(key).ok_or_else(|| {
                    CoreError::new(
                        ErrorKind::Internal,
                        format!(
                            "plugin scheduler '{scheduler}' finished without computing '{key}'"
                        ),
                    )
                })
            })
            .collect()
    }

    fn run_task(&self, index: usize) -> barrow_core::Result<()> {
        let (key, task) = self.tasks.get(index).ok_or_else(|| {
            CoreError::new(ErrorKind::Internal, format!("no task number {index}"))
        })?;
        let value = barrow_core::execute::run_task(task, &mut |dep| {
            self.result(dep).ok_or_else(|| {
                CoreError::new(
                    ErrorKind::MissingDependency,
                    format!(
                        "the scheduler ran '{key}' before '{dep}', which it needs (or after \
                             releasing it)"
                    ),
                )
            })
        })
        .map_err(|e| e.with_key(key.clone()))?;
        *self.results[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(value);
        Ok(())
    }
}

impl RunnerImpl for HostRunner<'_> {
    fn run(&self, index: usize) -> RResult<(), AbiError> {
        match self.run_task(index) {
            Ok(()) => ROk(()),
            Err(error) => {
                let message = error.to_string();
                self.error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_or_insert(error);
                RErr(AbiError {
                    panicked: false,
                    message: message.into(),
                })
            }
        }
    }

    fn release(&self, index: usize) {
        if !self.outputs.contains(&index)
            && let Some(slot) = self.results.get(index)
        {
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
    }
}
