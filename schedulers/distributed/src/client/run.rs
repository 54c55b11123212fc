//! The client as a [`Scheduler`]: a computation's graph goes to the
//! cluster and its results come back, with the computation's callbacks
//! told of every task as the scheduler reports it.

use std::sync::Arc;

use barrow_core::callback::{Callback, RunInfo, TaskEvent as CallbackEvent};
use barrow_core::{Error, Graph, Key, KeyMap, Registry, Result, RunContext, Scheduler, Value};

use super::{Client, ClientInner, encode};
use crate::protocol::FromClient;

impl Scheduler for Client {
    fn get(&self, graph: &Graph, keys: &[Key], ctx: &mut RunContext<'_>) -> Result<Vec<Value>> {
        let inner = &self.inner;
        let graph = inner.with_remote_tasks(graph)?;
        let plan = graph.lower(keys)?;
        let callbacks: Vec<Arc<dyn Callback>> = ctx.callbacks().to_vec();
        let watch = !callbacks.is_empty();
        let encoded = encode::encode_plan(&plan, Registry::global(), &inner.comm.wire, watch)?;
        let outputs: Vec<Key> = plan
            .outputs()
            .iter()
            .map(|&id| plan.key(id).clone())
            .collect();
        let subscription = watch.then(|| inner.subscribe());
        inner.hold(&outputs);
        let info = RunInfo {
            plan: &plan,
            scheduler: "distributed",
            workers: inner.total_threads().max(1),
        };
        for callback in &callbacks {
            callback.start(&info);
        }
        let result = inner
            .send(
                FromClient::UpdateGraph(Box::new(encoded.update)),
                encoded.frames,
            )
            .and_then(|()| {
                drop(encoded.holds);
                watch_run(inner, &plan, &outputs, &callbacks, subscription)
            })
            .and_then(|()| inner.gather_keys(&outputs));
        if let Some(subscription) = subscription {
            inner.unsubscribe(subscription);
        }
        let error = result.as_ref().err();
        for callback in &callbacks {
            callback.finish(&info, error);
        }
        inner.release(&outputs);
        // The outputs' values, or the first failure.
        result.map_err(|e| e.with_function_of(&plan))
    }

    fn name(&self) -> &str {
        "distributed"
    }
}

/// Error helpers for the run.
trait WithFunction {
    fn with_function_of(self, plan: &barrow_core::plan::Plan<'_>) -> Self;
}

impl WithFunction for Error {
    fn with_function_of(self, plan: &barrow_core::plan::Plan<'_>) -> Error {
        let Some(key) = self.key().cloned() else {
            return self;
        };
        let function = (0..plan.len() as u32)
            .find(|&id| plan.key(id) == &key)
            .and_then(|id| plan.task(id).function_name().map(str::to_owned));
        match function {
            Some(name) => self.with_function(name),
            None => self,
        }
    }
}

/// Waits for the outputs, calling the callbacks on the tasks' events.
fn watch_run(
    inner: &ClientInner,
    plan: &barrow_core::plan::Plan<'_>,
    outputs: &[Key],
    callbacks: &[Arc<dyn Callback>],
    subscription: Option<u64>,
) -> Result<()> {
    let ids: KeyMap<u32> = match subscription {
        Some(_) => (0..plan.len() as u32)
            .map(|id| (plan.key(id).clone(), id))
            .collect(),
        None => KeyMap::default(),
    };
    let mut started = rustc_hash::FxHashSet::default();
    let mut finished = rustc_hash::FxHashSet::default();
    loop {
        let (mut state, done) = inner.shared.wait_until(None, |state| {
            let events = subscription
                .and_then(|s| state.events.get(&s))
                .is_some_and(|q| !q.is_empty());
            events
                || outputs
                    .iter()
                    .all(|k| state.keys.get(k).is_none_or(|e| e.status.is_done()))
        });
        let events: Vec<crate::protocol::TaskEvent> = subscription
            .and_then(|s| state.events.get_mut(&s))
            .map(|q| q.drain(..).collect())
            .unwrap_or_default();
        let all_done = outputs
            .iter()
            .all(|k| state.keys.get(k).is_none_or(|e| e.status.is_done()));
        drop(state);
        for event in events {
            let key = Key::from(&event.key);
            let Some(&id) = ids.get(&key) else {
                continue;
            };
            let callback_event = CallbackEvent {
                id,
                key: plan.key(id),
                function: plan.task(id).function_name(),
                worker: event.worker as usize,
                store_bytes: 0,
            };
            if event.started {
                if started.insert(id) {
                    for callback in callbacks {
                        callback.pretask(&callback_event);
                    }
                }
            } else if finished.insert(id) {
                if started.insert(id) {
                    for callback in callbacks {
                        callback.pretask(&callback_event);
                    }
                }
                let value = Value::with_nbytes(
                    RemoteResult {
                        key: key.clone(),
                        nbytes: event.nbytes,
                    },
                    event.nbytes as usize,
                );
                for callback in callbacks {
                    callback.posttask(&callback_event, &value);
                }
            }
        }
        if all_done {
            return Ok(());
        }
        if !done {
            return Err(inner.closed_error());
        }
    }
}

/// What callbacks see as the value of a task computed on the cluster: the
/// value stays on its worker; this says which key it is and its size.
#[derive(Debug, Clone)]
pub struct RemoteResult {
    /// The task's key.
    pub key: Key,
    /// The value's size in bytes.
    pub nbytes: u64,
}
