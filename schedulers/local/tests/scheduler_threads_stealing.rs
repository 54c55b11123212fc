//! What the threaded scheduler's work stealing promises: random graphs
//! give the reference's values on pools of any size, a chain stays on the
//! worker that started it, idle workers steal from a busy one, and a
//! panicking callback ends the run instead of leaving workers asleep.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use barrow_core::arg::{key, keys, lit};
use barrow_core::callback::{Callback, TaskEvent};
use barrow_core::function::List;
use barrow_core::testing::run_with;
use barrow_core::{Func, Graph, Key, Options, Task, reference};
use barrow_local::ThreadsScheduler;
use proptest::prelude::*;

fn pool(threads: usize) -> ThreadsScheduler {
    ThreadsScheduler::with_pool(Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap(),
    ))
}

/// A random DAG: task `i` sums `i` and the tasks it reads, all of them
/// earlier ones (`reads[i]`, indices below `i`, repeats allowed).
fn dag(reads: &[Vec<usize>]) -> Graph {
    let sum = Func::new("sum", |own: &i64, xs: List<i64>| {
        xs.iter()
            .fold(*own, |acc, x| acc.wrapping_mul(31).wrapping_add(*x))
    });
    let tasks: Vec<(Key, Task)> = reads
        .iter()
        .enumerate()
        .map(|(i, deps)| {
            let args = keys(deps.iter().map(|&d| ("t", d as u32)));
            (
                Key::from(("t", i as u32)),
                Task::call(&sum, [lit(i as i64), args]),
            )
        })
        .collect();
    Graph::from_tasks(tasks).unwrap()
}

fn random_reads() -> impl Strategy<Value = Vec<Vec<usize>>> {
    (1usize..120).prop_flat_map(|n| {
        (0..n)
            .map(|i| {
                if i == 0 {
                    Just(Vec::new()).boxed()
                } else {
                    prop::collection::vec(0..i, 0..4).boxed()
                }
            })
            .collect::<Vec<_>>()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every task's value, asked for some of the tasks, equals the
    /// reference's on 1, 2 and 5 threads (5 on a 2-core machine: workers
    /// that go idle and wake up all the time).
    #[test]
    fn random_graphs_match_the_reference(reads in random_reads(), pick in 1usize..5) {
        let graph = dag(&reads);
        let outputs: Vec<Key> = (0..reads.len())
            .filter(|i| i % pick == 0 || *i == reads.len() - 1)
            .map(|i| Key::from(("t", i as u32)))
            .collect();
        let want = reference::get(&graph, &outputs).unwrap();
        for threads in [1, 2, 5] {
            let got = run_with(&pool(threads), &graph, &outputs, &Options::new()).unwrap();
            for (g, w) in got.iter().zip(&want) {
                prop_assert_eq!(g.downcast_ref::<i64>().unwrap(), w.downcast_ref::<i64>().unwrap());
            }
        }
    }
}

/// Dependents of many tasks, whose countdowns workers hold and hand over
/// in batches: two wide sums fed by interleaved leaves (so a worker's held
/// dependent changes on every task), a third reading every leaf twice and
/// both sums, and a task reading both sums. Every value equals the
/// reference's, on pools of 1 to 5 threads, run many times.
///
///   l0  l1  l2  l3 ... l999
///    \   \  /   /
///     even   odd     (fan-in 500 each)
///        \   /  \
///        both   all  (all: every leaf twice, even, odd)
#[test]
fn wide_fan_ins_match_the_reference() {
    let leaves = 1000;
    let mut reads: Vec<Vec<usize>> = vec![Vec::new(); leaves];
    reads.push((0..leaves).step_by(2).collect());
    reads.push((1..leaves).step_by(2).collect());
    reads.push(vec![leaves, leaves + 1]);
    let mut all: Vec<usize> = (0..leaves).chain(0..leaves).collect();
    all.extend([leaves, leaves + 1]);
    reads.push(all);
    let graph = dag(&reads);
    let outputs: Vec<Key> = (leaves..reads.len())
        .map(|i| Key::from(("t", i as u32)))
        .collect();
    let want = reference::get(&graph, &outputs).unwrap();
    for threads in 1..=5 {
        let scheduler = pool(threads);
        for _ in 0..20 {
            let got = run_with(&scheduler, &graph, &outputs, &Options::new()).unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(
                    g.downcast_ref::<i64>().unwrap(),
                    w.downcast_ref::<i64>().unwrap()
                );
            }
        }
    }
}

/// Many short runs in a row: a lost wake-up would hang one of them.
#[test]
fn many_short_runs_finish() {
    let scheduler = pool(3);
    let reads: Vec<Vec<usize>> = (0..40)
        .map(|i| if i < 8 { vec![] } else { vec![i % 8, i - 1] })
        .collect();
    let graph = dag(&reads);
    let last = [Key::from(("t", 39u32))];
    let want = reference::get(&graph, &last).unwrap();
    for _ in 0..500 {
        let got = run_with(&scheduler, &graph, &last, &Options::new()).unwrap();
        assert_eq!(
            got[0].downcast_ref::<i64>().unwrap(),
            want[0].downcast_ref::<i64>().unwrap()
        );
    }
}

/// A chain runs on the worker that took its first task: each finished
/// task hands its dependent to the same thread, nothing is handed over.
#[test]
fn a_chain_stays_on_one_worker() {
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let record = seen.clone();
    let step = Func::new("step", move |x: &i64| {
        record.lock().unwrap().insert(std::thread::current().id());
        x + 1
    });
    let mut tasks = vec![(Key::from(("c", 0u32)), Task::literal(0i64))];
    for i in 1..300u32 {
        tasks.push((Key::from(("c", i)), Task::call(&step, [key(("c", i - 1))])));
    }
    let graph = Graph::from_tasks(tasks).unwrap();
    let out = run_with(
        &pool(2),
        &graph,
        &[Key::from(("c", 299u32))],
        &Options::new(),
    )
    .unwrap();
    assert_eq!(*out[0].downcast_ref::<i64>().unwrap(), 299);
    assert_eq!(seen.lock().unwrap().len(), 1, "one thread ran the chain");
}

/// One root with many slow dependents: they become ready on one worker's
/// deque, and the other worker steals some of them.
#[test]
fn idle_workers_steal_ready_tasks() {
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let record = seen.clone();
    let slow = Func::new("slow", move |x: &i64| {
        record.lock().unwrap().insert(std::thread::current().id());
        std::thread::sleep(std::time::Duration::from_millis(2));
        x + 1
    });
    let sum = Func::new("sum", |xs: List<i64>| xs.iter().sum::<i64>());
    let mut tasks = vec![(Key::new("root"), Task::literal(1i64))];
    for i in 0..30u32 {
        tasks.push((Key::from(("s", i)), Task::call(&slow, [key("root")])));
    }
    tasks.push((
        Key::new("total"),
        Task::call(&sum, [keys((0..30u32).map(|i| ("s", i)))]),
    ));
    let graph = Graph::from_tasks(tasks).unwrap();
    let out = run_with(&pool(2), &graph, &[Key::new("total")], &Options::new()).unwrap();
    assert_eq!(*out[0].downcast_ref::<i64>().unwrap(), 60);
    assert_eq!(seen.lock().unwrap().len(), 2, "both workers ran tasks");
}

/// Panics in `pretask` after a few tasks.
#[derive(Debug, Default)]
struct PanicsLater(Mutex<usize>);

impl Callback for PanicsLater {
    fn pretask(&self, _task: &TaskEvent<'_>) {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *seen += 1;
        if *seen == 5 {
            panic!("the callback gives up");
        }
    }
}

/// A callback that panics on a worker ends the run with that panic (the
/// other workers stop instead of waiting for work that never comes), and
/// the pool runs the next computation.
#[test]
fn a_panicking_callback_ends_the_run() {
    let scheduler = pool(2);
    let reads: Vec<Vec<usize>> = (0..50)
        .map(|i| if i < 10 { vec![] } else { vec![i - 10] })
        .collect();
    let graph = dag(&reads);
    let last = [Key::from(("t", 49u32))];
    let options = Options::new().callback(Arc::new(PanicsLater::default()));
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        run_with(&scheduler, &graph, &last, &options)
    }));
    assert!(outcome.is_err(), "the panic reaches the caller");
    let again = run_with(&scheduler, &graph, &last, &Options::new()).unwrap();
    let want = reference::get(&graph, &last).unwrap();
    assert_eq!(
        again[0].downcast_ref::<i64>().unwrap(),
        want[0].downcast_ref::<i64>().unwrap()
    );
}
