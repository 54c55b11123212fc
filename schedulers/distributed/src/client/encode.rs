//! A lowered graph as the scheduler takes it: tasks in priority order
//! (dependencies first), each with its body and literals as frames, its
//! dependencies as indices into the graph or keys already on the cluster.
//!
//! Tasks standing for values on the cluster (futures, persisted
//! collections) become references to those keys, also where an
//! optimization fused one into the task that reads it.

use std::sync::Arc;

use barrow_core::plan::Plan;
use barrow_core::task::{Arg, Call, TaskBody};
use barrow_core::{Key, KeyMap, Registry, Result, Task};
use barrow_wire::task::{TaskEncoder, WireKey};
use barrow_wire::{Depth, WireOptions};
use rustc_hash::FxHashMap;
use xxhash_rust::xxh3::Xxh3;

use super::future::{FutureHandle, remote_key_of, remote_key_of_call};
use crate::comm::framed::Frame;
use crate::protocol::{DepRef, TaskDef, UpdateGraph};

/// A graph ready to send.
pub(crate) struct Encoded {
    pub(crate) update: UpdateGraph,
    pub(crate) frames: Vec<Frame>,
    /// The futures the graph reads: kept until the scheduler has it.
    pub(crate) holds: Vec<Arc<FutureHandle>>,
}

/// Encodes `plan` for the scheduler, wanting its outputs.
pub(crate) fn encode_plan(
    plan: &Plan<'_>,
    registry: &Registry,
    wire: &WireOptions,
    report_events: bool,
) -> Result<Encoded> {
    let mut order: Vec<u32> = (0..plan.len() as u32).collect();
    order.sort_by_key(|&id| plan.priority(id));
    let mut position: KeyMap<DepRef> = KeyMap::default();
    let mut holds = Vec::new();
    let mut local: Vec<(u32, Task)> = Vec::with_capacity(plan.len());
    for &id in &order {
        let task = plan.task(id);
        let key = plan.key(id);
        if let Some(remote) = remote_key_of(task) {
            position.insert(
                key.clone(),
                DepRef::Remote(WireKey::from(&remote.handle.key)),
            );
            holds.push(remote.handle.clone());
            continue;
        }
        let (task, fused) = unfuse(task);
        for (fused_key, handle) in fused {
            position
                .entry(fused_key)
                .or_insert_with(|| DepRef::Remote(WireKey::from(&handle.key)));
            holds.push(handle);
        }
        position.insert(key.clone(), DepRef::Local(local.len() as u32));
        local.push((id, task));
    }
    // Every function registered by name and every literal encodable, or
    // an error naming each task that is not, before anything is sent.
    let keyed: Vec<(&Key, &Task)> = local.iter().map(|(id, t)| (plan.key(*id), t)).collect();
    barrow_wire::check_tasks(keyed, registry, wire, Depth::Codecs)?;

    let mut functions: Vec<String> = Vec::new();
    let mut function_ids: FxHashMap<String, u32> = FxHashMap::default();
    let mut tasks = Vec::with_capacity(local.len());
    let mut frames = Vec::new();
    for (id, task) in &local {
        let mut dependencies: Vec<DepRef> = Vec::new();
        let mut seen: KeyMap<u32> = KeyMap::default();
        let mut inputs = Vec::new();
        let mut missing = None;
        task.for_each_dependency(&mut |dep| {
            let index = match seen.get(dep) {
                Some(&i) => i,
                None => match position.get(dep) {
                    Some(d) => {
                        let i = dependencies.len() as u32;
                        dependencies.push(d.clone());
                        seen.insert(dep.clone(), i);
                        i
                    }
                    None => {
                        missing.get_or_insert(dep.clone());
                        0
                    }
                },
            };
            inputs.push(index);
        });
        if let Some(dep) = missing {
            return Err(barrow_core::Error::internal(format!(
                "task {} reads {dep}, which its plan does not hold",
                plan.key(*id)
            )));
        }
        let mut encoder = TaskEncoder::new(registry.codecs(), *wire);
        let wire_task = encoder.encode(0, task, &[])?;
        let body = postcard::to_allocvec(&wire_task.body).map_err(|e| {
            barrow_core::Error::internal(format!("a task body does not encode: {e}"))
        })?;
        let literals = encoder.take_frames();
        let mut hasher = Xxh3::new();
        hasher.update(&body);
        for literal in &literals {
            hasher.update(literal.head());
            hasher.update(literal.tail());
        }
        let task_functions = wire_task
            .body
            .function_names()
            .into_iter()
            .map(|name| match function_ids.get(name) {
                Some(&i) => i,
                None => {
                    let i = functions.len() as u32;
                    functions.push(name.to_owned());
                    function_ids.insert(name.to_owned(), i);
                    i
                }
            })
            .collect();
        tasks.push(TaskDef {
            key: WireKey::from(plan.key(*id)),
            literals: literals.len() as u32,
            dependencies,
            inputs,
            functions: task_functions,
            annotations: task.annotations().cloned(),
            order: plan.priority(*id),
            fingerprint: hasher.digest(),
        });
        frames.push(Frame::Bytes(Arc::from(body)));
        frames.extend(literals.iter().map(|l| Frame::Bytes(Arc::from(l.to_vec()))));
    }
    let wanted = plan
        .outputs()
        .iter()
        .filter_map(|&id| position.get(plan.key(id)).cloned())
        .collect();
    Ok(Encoded {
        update: UpdateGraph {
            tasks,
            functions,
            wanted,
            report_events,
        },
        frames,
        holds,
    })
}

/// `task` with every fused call standing for a cluster value replaced by
/// a read of its key, and those keys.
fn unfuse(task: &Task) -> (Task, Vec<(Key, Arc<FutureHandle>)>) {
    let TaskBody::Call(call) = task.body() else {
        return (task.clone(), Vec::new());
    };
    if !has_remote(call) {
        return (task.clone(), Vec::new());
    }
    let mut found = Vec::new();
    let call = rewrite_call(call, &mut found);
    let mut out = Task::from_body(TaskBody::Call(call));
    if let Some(annotations) = task.shared_annotations() {
        out = out.with_annotations(annotations.clone());
    }
    (out, found)
}

fn has_remote(call: &Call) -> bool {
    call.args().iter().any(has_remote_arg)
}

fn has_remote_arg(arg: &Arg) -> bool {
    match arg {
        Arg::Fused(fused) => remote_key_of_call(&fused.1).is_some() || has_remote(&fused.1),
        Arg::Call(inner) => has_remote(inner),
        Arg::List(items) => items.iter().any(has_remote_arg),
        Arg::Literal(_) | Arg::Key(_) => false,
    }
}

fn rewrite_call(call: &Call, found: &mut Vec<(Key, Arc<FutureHandle>)>) -> Call {
    Call::new(
        call.function(),
        call.args().iter().map(|arg| rewrite_arg(arg, found)),
    )
}

fn rewrite_arg(arg: &Arg, found: &mut Vec<(Key, Arc<FutureHandle>)>) -> Arg {
    match arg {
        Arg::Fused(fused) => match remote_key_of_call(&fused.1) {
            Some(remote) => {
                found.push((fused.0.clone(), remote.handle.clone()));
                Arg::Key(fused.0.clone())
            }
            None => Arg::Fused(Box::new((fused.0.clone(), rewrite_call(&fused.1, found)))),
        },
        Arg::Call(inner) => Arg::Call(Box::new(rewrite_call(inner, found))),
        Arg::List(items) => Arg::List(items.iter().map(|a| rewrite_arg(a, found)).collect()),
        Arg::Literal(_) | Arg::Key(_) => arg.clone(),
    }
}
