//! Hooks that linked crates add to every computation: a hook that declares
//! configuration keys (as the plugin host does for a plugin's keys) lets the
//! call itself set them.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::sync::Arc;
use std::sync::Once;

use barrow_core::collection::GraphKeys;
use barrow_core::hooks::ProcessHook;
use barrow_core::{
    ErrorKind, Graph, Key, Options, Registry, RunContext, Scheduler, Task, Value, compute_with,
};

/// Declares `late-keys.answer` the first time a computation starts
/// (computations starting meanwhile wait until it is declared).
fn declare_late(_: &Registry, _: &barrow_config::Snapshot) -> barrow_core::Result<bool> {
    static ONCE: Once = Once::new();
    let mut declared = Ok(false);
    ONCE.call_once(|| {
        declared = barrow_config::register_namespace(
            "late-keys",
            "answer:\n  doc: A key declared by a hook.\n  type: integer\n  default: 0\n",
        )
        .map(|()| true)
        .map_err(barrow_core::Error::from);
    });
    declared
}

inventory::submit! {
    ProcessHook {
        name: "late-keys-test",
        before_run: declare_late,
        worker_env: Vec::new,
        worker_start: |_, _| Ok(false),
    }
}

/// Answers every key with the run's `late-keys.answer`.
struct Answer;

impl Scheduler for Answer {
    fn get(
        &self,
        _: &Graph,
        keys: &[Key],
        ctx: &mut RunContext<'_>,
    ) -> barrow_core::Result<Vec<Value>> {
        let answer = ctx.config().get::<i64>("late-keys.answer")?.unwrap_or(-1);
        Ok(keys.iter().map(|_| Value::new(answer)).collect())
    }
}

fn run(options: Options) -> barrow_core::Result<i64> {
    let graph = Graph::from_tasks([("a", Task::literal(0i64))])?;
    let out = compute_with(
        GraphKeys::new(graph, ["a"]),
        &options.scheduler_object(Arc::new(Answer)),
    )?;
    Ok(*out[0].downcast_ref::<i64>()?)
}

#[test]
fn a_call_sets_keys_a_hook_declares_when_the_computation_starts() {
    assert_eq!(run(Options::new().set("late-keys.answer", 42)).unwrap(), 42);
    // Once declared, the key is an ordinary one.
    assert_eq!(run(Options::new().set("late-keys.answer", 7)).unwrap(), 7);
}

/// Answers every key with the run's `never-declared.key`.
struct Undeclared;

impl Scheduler for Undeclared {
    fn get(
        &self,
        _: &Graph,
        keys: &[Key],
        ctx: &mut RunContext<'_>,
    ) -> barrow_core::Result<Vec<Value>> {
        let answer = ctx.config().get::<i64>("never-declared.key")?.unwrap_or(-1);
        Ok(keys.iter().map(|_| Value::new(answer)).collect())
    }
}

#[test]
fn a_key_no_hook_declares_reaches_the_scheduler_as_given() {
    // As in Dask, a key nobody declared lives: the call's value is kept.
    let graph = Graph::from_tasks([("a", Task::literal(0i64))]).unwrap();
    let options = Options::new()
        .set("never-declared.key", 5)
        .scheduler_object(Arc::new(Undeclared));
    let out = compute_with(GraphKeys::new(graph, ["a"]), &options).unwrap();
    assert_eq!(*out[0].downcast_ref::<i64>().unwrap(), 5);
    // A declared key's value is still checked, once its hook declared it.
    let err = run(Options::new().set("late-keys.answer", "many")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("late-keys.answer"), "{err}");
}
