//! The local schedulers with results spilling to disk: the conformance
//! suite through a tiny budget, and 10,000-task graphs checked against
//! closed forms, with the store chosen by `local.spill.memory-limit`.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::Path;
use std::sync::{Arc, Mutex};

use barrow_core::arg::{key, keys, lit};
use barrow_core::collection::GraphKeys;
use barrow_core::function::List;
use barrow_core::{
    Func, Graph, Key, Options, Result, RunContext, Scheduler, Task, Value, compute_with,
};
use barrow_local::{SpillStats, SpillStore, SyncScheduler, ThreadsScheduler};

/// Runs `inner` with every run's results in a [`SpillStore`] of 64 bytes
/// (unless the run brings a store of its own), so nearly every result
/// goes through a file.
struct Spilling<S>(S);

impl<S: Scheduler> Scheduler for Spilling<S> {
    fn get(&self, graph: &Graph, keys: &[Key], ctx: &mut RunContext<'_>) -> Result<Vec<Value>> {
        if ctx.options().make_store().is_none() {
            let parent = ctx.config().try_temporary_directory()?;
            let store = SpillStore::new(64, parent, ctx.registry().shared_codecs());
            ctx.set_store(Box::new(store));
        }
        self.0.get(graph, keys, ctx)
    }

    fn name(&self) -> &str {
        self.0.name()
    }
}

// Every conformance case but the three 100,000-task ones, which take 1 to
// 4 s in a debug build even in memory (`scheduler_sync.rs` and
// `scheduler_threads.rs` run them); the 10,000-task graphs below check
// spilling at scale.
mod sync_conformance {
    use super::*;
    barrow_core::scheduler_conformance!(small: Arc::new(Spilling(SyncScheduler)));
}

mod threads_conformance {
    use super::*;
    barrow_core::scheduler_conformance!(small: Arc::new(Spilling(ThreadsScheduler::new())));
}

const N: u32 = 5_000;

/// 10,001 tasks: `x_i = [i; 16]`, `y_i = 2 x_i`, and `total = Σ Σ y_i`,
/// which holds every `y_i` until the end: 640 kB through a 4 KiB budget.
fn fan_in() -> Graph {
    let ramp = Func::new("ramp", |i: &i64| vec![*i as f64; 16]);
    let double = Func::new("double", |x: &Vec<f64>| {
        x.iter().map(|v| 2.0 * v).collect::<Vec<f64>>()
    });
    let total = Func::new("total", |ys: List<Vec<f64>>| {
        ys.iter().map(|y| y.iter().sum::<f64>()).sum::<f64>()
    });
    let mut tasks: Vec<(Key, Task)> = Vec::with_capacity(2 * N as usize + 1);
    for i in 0..N {
        tasks.push((Key::from(("x", i)), Task::call(&ramp, [lit(i64::from(i))])));
        tasks.push((Key::from(("y", i)), Task::call(&double, [key(("x", i))])));
    }
    tasks.push((
        Key::new("total"),
        Task::call(&total, [keys((0..N).map(|i| ("y", i)))]),
    ));
    Graph::from_tasks(tasks).unwrap()
}

fn fan_in_expected() -> f64 {
    let n = f64::from(N);
    16.0 * 2.0 * n * (n - 1.0) / 2.0
}

fn run_fan_in(scheduler: Arc<dyn Scheduler>) -> SpillStats {
    let parent = tempfile::tempdir().unwrap();
    let stats = Arc::new(Mutex::new(None));
    let (seen, folder) = (stats.clone(), parent.path().to_path_buf());
    let options = Options::new()
        .scheduler_object(scheduler)
        .num_workers(2)
        .store(move || {
            Box::new(
                SpillStore::new(
                    4096,
                    &folder,
                    Arc::new(barrow_core::codec::CodecRegistry::with_builtins()),
                )
                .report_stats_to(seen.clone()),
            )
        });
    let out = compute_with(GraphKeys::new(fan_in(), ["total"]), &options).unwrap();
    assert_eq!(*out[0].downcast_ref::<f64>().unwrap(), fan_in_expected());
    assert!(is_empty_dir(parent.path()));
    let stats = stats.lock().unwrap().take().unwrap();
    assert!(stats.spilled_count >= u64::from(N) - 100, "{stats:?}");
    assert_eq!(
        stats.loaded_count, stats.spilled_count,
        "each spilled y is read back once: {stats:?}"
    );
    assert_eq!(
        (stats.resident_bytes, stats.disk_bytes),
        (0, 0),
        "emptied: {stats:?}"
    );
    stats
}

#[test]
fn ten_thousand_tasks_through_a_tiny_budget_on_sync() {
    run_fan_in(Arc::new(SyncScheduler));
}

#[test]
fn ten_thousand_tasks_through_a_tiny_budget_on_threads() {
    run_fan_in(Arc::new(ThreadsScheduler::new()));
}

fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).unwrap().next().is_none()
}

/// Whether a spill folder exists in `parent` (made at the first spill).
fn has_spill_folder(parent: &Path) -> bool {
    std::fs::read_dir(parent).unwrap().any(|entry| {
        entry
            .unwrap()
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with("barrow-spill-"))
    })
}

/// A tree reduction over 2,048 leaves of 16 floats with the store chosen by
/// the configuration alone: per call, then as a scoped override.
#[test]
fn the_configuration_alone_turns_spilling_on() {
    let parent = tempfile::tempdir().unwrap();
    let folder = parent.path().to_path_buf();
    let spilled = Arc::new(Mutex::new(Vec::new()));
    let seen = spilled.clone();
    let leaf = Func::new("leaf", |i: &i64| vec![*i as f64; 16]);
    let add = Func::new("add", |a: &Vec<f64>, b: &Vec<f64>| {
        a.iter().zip(b).map(|(x, y)| x + y).collect::<Vec<f64>>()
    });
    let sum = Func::new("sum", move |a: &Vec<f64>| {
        seen.lock().unwrap().push(has_spill_folder(&folder));
        a.iter().sum::<f64>()
    });
    let levels = 11u32;
    let mut tasks: Vec<(Key, Task)> = (0..1u32 << levels)
        .map(|i| {
            (
                Key::from(("t", 0, i)),
                Task::call(&leaf, [lit(i64::from(i))]),
            )
        })
        .collect();
    for level in 1..=levels {
        for i in 0..1u32 << (levels - level) {
            let children = [
                key(("t", level - 1, 2 * i)),
                key(("t", level - 1, 2 * i + 1)),
            ];
            tasks.push((Key::from(("t", level, i)), Task::call(&add, children)));
        }
    }
    tasks.push((Key::new("sum"), Task::call(&sum, [key(("t", levels, 0))])));
    let graph = Graph::from_tasks(tasks).unwrap();
    let n = f64::from(1u32 << levels);
    let expected = 16.0 * n * (n - 1.0) / 2.0;
    barrow_local::link();

    for scheduler in ["sync", "threads"] {
        // For one call. A tree reduction holds little at once (`order`
        // finishes branches first), so the budget is tiny to spill at all.
        let options = Options::new()
            .scheduler(scheduler)
            .num_workers(2)
            .set("local.spill.memory-limit", "200B")
            .set("temporary-directory", parent.path());
        let out = compute_with(GraphKeys::new(graph.clone(), ["sum"]), &options).unwrap();
        assert_eq!(*out[0].downcast_ref::<f64>().unwrap(), expected);

        // Scoped: every computation on this thread until the guard drops.
        let _scoped = barrow_core::config::scoped([
            ("local.spill.memory-limit", "200B"),
            ("temporary-directory", parent.path().to_str().unwrap()),
        ])
        .unwrap();
        let options = Options::new().scheduler(scheduler).num_workers(2);
        let out = compute_with(GraphKeys::new(graph.clone(), ["sum"]), &options).unwrap();
        assert_eq!(*out[0].downcast_ref::<f64>().unwrap(), expected);
    }
    assert_eq!(*spilled.lock().unwrap(), [true; 4], "each run spilled");
    assert!(is_empty_dir(parent.path()));

    // Unset: no spill folder is made.
    compute_with(
        GraphKeys::new(graph, ["sum"]),
        &Options::new().scheduler("sync"),
    )
    .unwrap();
    assert_eq!(spilled.lock().unwrap().last(), Some(&false));
}
