//! The conformance suite on the threaded scheduler, plus what only a pool
//! of threads promises.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use barrow_core::arg::{key, keys, lit};
use barrow_core::function::List;
use barrow_core::testing::run_with;
use barrow_core::{Func, Graph, Key, Options, Task};
use barrow_local::ThreadsScheduler;

barrow_core::scheduler_conformance!(Arc::new(ThreadsScheduler::new()));

mod with_one_thread {
    use super::*;
    barrow_core::scheduler_conformance!(Arc::new(ThreadsScheduler::with_pool(Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
    ))));
}

/// Independent tasks spread over the pool's threads.
#[test]
fn tasks_run_on_several_threads() {
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let record = seen.clone();
    let slow = Func::new("slow", move |x: &i64| {
        record.lock().unwrap().insert(std::thread::current().id());
        std::thread::sleep(std::time::Duration::from_millis(2));
        *x
    });
    let sum = Func::new("sum", |xs: List<i64>| xs.iter().sum::<i64>());
    let mut tasks: Vec<(Key, Task)> = (0..40u32)
        .map(|i| (Key::from(("s", i)), Task::call(&slow, [lit(i64::from(i))])))
        .collect();
    tasks.push((
        Key::new("total"),
        Task::call(&sum, [keys((0..40u32).map(|i| ("s", i)))]),
    ));
    let graph = Graph::from_tasks(tasks).unwrap();
    let options = Options::new().num_workers(2);
    let out = run_with(
        &ThreadsScheduler::new(),
        &graph,
        &[Key::new("total")],
        &options,
    )
    .unwrap();
    assert_eq!(*out[0].downcast_ref::<i64>().unwrap(), 780);
    assert_eq!(seen.lock().unwrap().len(), 2, "both workers ran tasks");
}

/// A pool given per call runs the tasks.
#[test]
fn a_user_pool_runs_the_tasks() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .thread_name(|_| "user-pool".into())
        .build()
        .unwrap();
    let name = Func::new("name", |_: &i64| {
        std::thread::current().name().map(str::to_string)
    });
    let graph = Graph::from_tasks([
        ("x", Task::literal(1i64)),
        ("n", Task::call(&name, [key("x")])),
    ])
    .unwrap();
    let scheduler = ThreadsScheduler::with_pool(Arc::new(pool));
    let out = run_with(&scheduler, &graph, &[Key::new("n")], &Options::new()).unwrap();
    let got = out[0].downcast_ref::<Option<String>>().unwrap();
    assert_eq!(got.as_deref(), Some("user-pool"));
}

/// Zero workers is refused with a clear message.
#[test]
fn zero_workers_is_an_error() {
    let graph = Graph::from_tasks([("x", Task::literal(1i64))]).unwrap();
    let options = Options::new().num_workers(0);
    let err = run_with(&ThreadsScheduler::new(), &graph, &[Key::new("x")], &options).unwrap_err();
    assert!(err.to_string().contains("num-workers is 0"), "{err}");
}

/// With `local.rerun-failed-on-caller`, a task that fails on a worker runs
/// once more on the calling thread, where a debugger can stop in it; the
/// error is reported as usual.
#[test]
fn a_failed_task_reruns_on_the_caller_when_asked() {
    let caller = std::thread::current().id();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let record = calls.clone();
    let fail = Func::try_new("fail", move |x: &i64| {
        record
            .lock()
            .unwrap()
            .push(std::thread::current().id() == caller);
        Err::<i64, _>(format!("bad {x}"))
    });
    let graph = Graph::from_tasks([
        ("x", Task::literal(1i64)),
        ("y", Task::call(&fail, [key("x")])),
    ])
    .unwrap();
    let threads = ThreadsScheduler::new();
    let options = Options::new()
        .num_workers(2)
        .set("local.rerun-failed-on-caller", true);
    let err = run_with(&threads, &graph, &[Key::new("y")], &options).unwrap_err();
    assert_eq!(err.to_string(), "task y (function 'fail') failed: bad 1");
    assert_eq!(
        *calls.lock().unwrap(),
        [false, true],
        "once on a worker, then on the caller"
    );

    calls.lock().unwrap().clear();
    let options = Options::new().num_workers(2);
    run_with(&threads, &graph, &[Key::new("y")], &options).unwrap_err();
    assert_eq!(*calls.lock().unwrap(), [false], "off by default");
}

/// `num-workers` in the thousands: the pool stops at its cap and the user
/// is told, on stderr when the program has no `tracing` subscriber.
#[test]
fn thousands_of_workers_are_capped_with_a_warning() {
    let name = "thousands_of_workers_are_capped_with_a_warning";
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let cap = barrow_local::ThreadBudget::for_workers(usize::MAX, cores).threads;
    let Some(output) = barrow_core::testing::child::run(name, &[]) else {
        let threads = Func::new("threads", |_: &i64| rayon::current_num_threads() as i64);
        let graph = Graph::from_tasks([("t", Task::call(&threads, [lit(0i64)]))]).unwrap();
        let options = Options::new().scheduler("threads").num_workers(cap + 100);
        let out = barrow_core::compute_with(
            barrow_core::collection::GraphKeys::new(graph.clone(), ["t"]),
            &options,
        )
        .unwrap();
        assert_eq!(*out[0].downcast_ref::<i64>().unwrap(), cap as i64);
        // Once per process and count.
        barrow_core::compute_with(
            barrow_core::collection::GraphKeys::new(graph, ["t"]),
            &options,
        )
        .unwrap();
        return;
    };
    barrow_core::testing::child::assert_passed(name, &output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let warning = format!(
        "barrow: warning: num-workers = {} on the threads scheduler",
        cap + 100
    );
    assert_eq!(stderr.matches(&warning).count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("starts {cap} of them")),
        "{stderr}"
    );
}
