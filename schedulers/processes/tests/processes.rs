//! The `processes` scheduler with real worker processes: where tasks run,
//! what is refused before running, what happens when a worker dies or a
//! message is damaged, threads and seeds per worker.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::sync::{Arc, OnceLock};

use barrow_core::arg::{key, lit};
use barrow_core::collection::GraphKeys;
use barrow_core::testing::{RecordedEvent, Recorder};
use barrow_core::{ErrorKind, Func, Graph, Key, Options, Task, Value, compute_with};
use barrow_processes::{ProcessPool, ProcessesScheduler, worker_info};

barrow_processes::worker_entry!();

/// The process a task ran in, and the worker's seed.
#[barrow_core::task]
fn whoami(_x: &i64) -> Vec<u64> {
    std::thread::sleep(std::time::Duration::from_millis(2));
    let info = worker_info().map_or((0, 0), |i| (u64::from(i.id), i.seed));
    vec![u64::from(std::process::id()), info.0, info.1]
}

/// What a worker lets its parallel libraries use.
#[barrow_core::task]
fn thread_budget(_x: &i64) -> Vec<u64> {
    let barrow = std::env::var("BARROW_NUM_WORKERS").ok();
    vec![
        rayon::current_num_threads() as u64,
        barrow.and_then(|v| v.parse().ok()).unwrap_or(0),
    ]
}

/// Ends its own process the hard way, as the out-of-memory killer would.
#[barrow_core::task]
fn kill_own_process(_x: &i64) -> i64 {
    // The shell's own `kill`: no system package needed.
    let command = format!("kill -9 {}", std::process::id());
    let _ = std::process::Command::new("sh")
        .args(["-c", &command])
        .status();
    std::thread::sleep(std::time::Duration::from_secs(10));
    0
}

/// Exits its process with code 3.
#[barrow_core::task]
fn exit_three(_x: &i64) -> i64 {
    std::process::exit(3)
}

/// Panics, for the backtrace.
#[barrow_core::task]
fn explode(x: &i64) -> i64 {
    if *x > 0 {
        panic!("exploded on {x}");
    }
    *x
}

fn pool() -> Arc<ProcessPool> {
    static POOL: OnceLock<Arc<ProcessPool>> = OnceLock::new();
    POOL.get_or_init(|| Arc::new(ProcessPool::new(2).unwrap()))
        .clone()
}

fn on(pool: &Arc<ProcessPool>) -> Options {
    Options::new().scheduler_object(Arc::new(ProcessesScheduler::with_pool(pool.clone())))
}

fn graph_of(func: &Func, n: u32) -> (Graph, Vec<Key>) {
    let tasks: Vec<(Key, Task)> = (0..n)
        .map(|i| (Key::from(("t", i)), Task::call(func, [lit(i64::from(i))])))
        .collect();
    let keys = tasks.iter().map(|(k, _)| k.clone()).collect();
    (Graph::from_tasks(tasks).unwrap(), keys)
}

fn run(graph: Graph, keys: Vec<Key>, options: &Options) -> barrow_core::Result<Vec<Value>> {
    compute_with(GraphKeys::new(graph, keys), options)
}

#[test]
fn tasks_run_in_worker_processes_with_their_own_seeds() {
    let pool = pool();
    let (graph, keys) = graph_of(&whoami::func(), 40);
    let out = run(graph, keys, &on(&pool)).unwrap();
    let me = u64::from(std::process::id());
    let mut pids = Vec::new();
    let mut seeds = Vec::new();
    for value in &out {
        let row = value.downcast_ref::<Vec<u64>>().unwrap();
        assert_ne!(row[0], me, "a task ran in the test process");
        assert_ne!(row[1], 0, "a worker knows its id");
        pids.push(row[0]);
        seeds.push((row[0], row[2]));
    }
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), 2, "both workers ran tasks: {pids:?}");
    seeds.sort_unstable();
    seeds.dedup();
    assert_eq!(seeds.len(), 2, "one seed per worker, different: {seeds:?}");
    assert!(worker_info().is_none(), "the test process is not a worker");
}

#[test]
fn the_pool_is_reused_across_computations() {
    let pool = pool();
    let before = pool.start().unwrap();
    for _ in 0..3 {
        let (graph, keys) = graph_of(&whoami::func(), 4);
        run(graph, keys, &on(&pool)).unwrap();
    }
    let after = pool.start().unwrap();
    assert_eq!(before.len(), 2);
    // Another test may kill a worker of this pool in between; most stay.
    assert!(
        before.iter().any(|pid| after.contains(pid)),
        "{before:?} {after:?}"
    );
}

#[test]
fn an_unregistered_closure_is_refused_before_anything_runs() {
    let closure = Func::new("my-closure", |x: &i64| x + 1);
    let graph = Graph::from_tasks([
        ("a", Task::call(&whoami::func(), [lit(1i64)])),
        ("b", Task::call(&closure, [key("a")])),
    ])
    .unwrap();
    let recorder = Recorder::new();
    let options = on(&pool()).callback(recorder.clone());
    let err = run(graph, vec![Key::new("b")], &options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotShippable);
    let text = err.to_string();
    assert!(
        text.contains("task b") && text.contains("my-closure"),
        "{text}"
    );
    assert!(text.contains("#[barrow::task]"), "{text}");
    assert!(
        !recorder
            .events()
            .iter()
            .any(|e| matches!(e, RecordedEvent::Pretask(_))),
        "nothing ran"
    );
}

#[test]
fn a_function_the_workers_lack_fails_naming_the_task_and_the_function() {
    // In a process of its own: once this process registers a function its
    // workers lack, the pools of other tests refuse their new workers.
    let name = "a_function_the_workers_lack_fails_naming_the_task_and_the_function";
    if let Some(output) = barrow_core::testing::child::run(name, &[]) {
        return barrow_core::testing::child::assert_passed(name, &output);
    }
    // A pool started before the function is registered: its workers never
    // heard of it.
    let pool = Arc::new(ProcessPool::new(1).unwrap());
    pool.start().unwrap();
    let late = Func::new("tests.processes.registered-late", |x: &i64| x + 1);
    barrow_core::Registry::global()
        .functions()
        .register(late.clone())
        .unwrap();
    let graph = Graph::from_tasks([
        ("x", Task::literal(1i64)),
        ("late-task", Task::call(&late, [key("x")])),
    ])
    .unwrap();
    let err = run(graph, vec![Key::new("late-task")], &on(&pool)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownFunction);
    assert_eq!(err.key(), Some(&Key::new("late-task")));
    assert_eq!(err.function(), Some("tests.processes.registered-late"));
    let text = err.to_string();
    assert!(
        text.contains("late-task") && text.contains("'tests.processes.registered-late'"),
        "{text}"
    );
    assert!(
        text.contains("#[barrow::task]"),
        "how to register it: {text}"
    );
}

#[test]
fn a_literal_without_a_codec_is_refused_naming_its_type() {
    #[derive(Debug)]
    struct Opaque;
    let graph = Graph::from_tasks([("a", Task::literal(Opaque))]).unwrap();
    let err = run(graph, vec![Key::new("a")], &on(&pool())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotShippable);
    assert!(err.to_string().contains("Opaque"), "{err}");
}

#[test]
fn a_killed_worker_fails_its_task_naming_it_and_is_replaced() {
    // A pool of its own: killing a worker must not disturb other tests.
    let pool = Arc::new(ProcessPool::new(1).unwrap());
    let graph = Graph::from_tasks([
        ("x", Task::literal(1i64)),
        ("victim", Task::call(&kill_own_process::func(), [key("x")])),
    ])
    .unwrap();
    let err = run(graph, vec![Key::new("victim")], &on(&pool)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Worker);
    assert_eq!(err.key(), Some(&Key::new("victim")));
    let text = err.to_string();
    assert!(text.contains("worker 1 (pid"), "{text}");
    assert!(text.contains("signal 9"), "{text}");

    let (graph, keys) = graph_of(&whoami::func(), 3);
    let out = run(graph, keys, &on(&pool)).unwrap();
    let row = out[0].downcast_ref::<Vec<u64>>().unwrap();
    assert_eq!(row[1], 2, "a new worker took the dead one's place");

    let graph = Graph::from_tasks([("bye", Task::call(&exit_three::func(), [lit(0i64)]))]).unwrap();
    let err = run(graph, vec![Key::new("bye")], &on(&pool)).unwrap_err();
    assert!(err.to_string().contains("exited with code 3"), "{err}");
    let (graph, keys) = graph_of(&whoami::func(), 1);
    run(graph, keys, &on(&pool)).unwrap();
}

#[test]
fn a_panic_comes_back_with_the_workers_message_and_backtrace() {
    let graph = Graph::from_tasks([("boom", Task::call(&explode::func(), [lit(7i64)]))]).unwrap();
    let err = run(graph, vec![Key::new("boom")], &on(&pool())).unwrap_err();
    assert!(err.is_panic(), "{err:?}");
    assert_eq!(err.key(), Some(&Key::new("boom")));
    assert_eq!(err.function(), Some(explode::NAME));
    assert!(err.to_string().contains("exploded on 7"), "{err}");
    let remote = err
        .source_as::<barrow_wire::task::RemoteError>()
        .expect("the worker's side of the story");
    assert!(remote.origin.starts_with("worker "), "{remote:?}");
    assert!(remote.backtrace.as_deref().is_some_and(|b| !b.is_empty()));
}

#[test]
fn a_damaged_message_stops_the_worker_cleanly_and_it_is_replaced() {
    let pool = Arc::new(ProcessPool::new(1).unwrap());
    pool.start().unwrap();
    let mut garbage = b"BRWM\x01\x00\x04\x00".to_vec();
    garbage.extend_from_slice(&[0xff; 40]);
    let end = pool.send_raw(0, &garbage).unwrap();
    assert_eq!(
        end, "exited with code 71",
        "the worker refused it and exited"
    );
    let (graph, keys) = graph_of(&whoami::func(), 2);
    run(graph, keys, &on(&pool)).unwrap();
}

#[test]
fn workers_limit_their_threads_to_their_share() {
    let config = barrow_core::config::snapshot()
        .unwrap()
        .with_options([("processes.worker-threads", 3i64)])
        .unwrap();
    let pool = Arc::new(ProcessPool::with_config(1, &config).unwrap());
    let graph =
        Graph::from_tasks([("t", Task::call(&thread_budget::func(), [lit(0i64)]))]).unwrap();
    let out = run(graph, vec![Key::new("t")], &on(&pool)).unwrap();
    assert_eq!(out[0].downcast_ref::<Vec<u64>>().unwrap(), &[3, 3]);
}

#[test]
fn the_scheduler_is_found_by_name_with_workers_from_the_call() {
    barrow_processes::link();
    let (graph, keys) = graph_of(&whoami::func(), 5);
    for name in ["processes", "multiprocessing"] {
        let options = Options::new().scheduler(name).num_workers(1);
        let out = run(graph.clone(), keys.clone(), &options).unwrap();
        let pids: Vec<u64> = out
            .iter()
            .map(|v| v.downcast_ref::<Vec<u64>>().unwrap()[0])
            .collect();
        assert!(
            pids.windows(2).all(|w| w[0] == w[1]),
            "one worker: {pids:?}"
        );
    }
}

#[test]
fn the_fork_context_without_a_fork_server_says_how_to_start_one() {
    let config = barrow_core::config::snapshot()
        .unwrap()
        .with_options([("processes.context", "fork")])
        .unwrap();
    let pool = Arc::new(ProcessPool::with_config(2, &config).unwrap());
    let (graph, keys) = graph_of(&whoami::func(), 1);
    let err = run(graph, keys, &on(&pool)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let text = err.to_string();
    assert!(text.contains("no fork server runs"), "{text}");
    assert!(text.contains("BARROW_PROCESSES__CONTEXT=fork"), "{text}");
}

#[test]
fn a_zero_start_timeout_is_refused_naming_the_key_not_the_hook() {
    let config = barrow_core::config::snapshot()
        .unwrap()
        .with_options([("processes.start-timeout", "0s")])
        .unwrap();
    let err = ProcessPool::with_config(1, &config).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let text = err.to_string();
    assert!(text.contains("processes.start-timeout is 0s"), "{text}");
    assert!(!text.contains("worker_main"), "the hook is there: {text}");

    // Set in code, the timeout runs out at once: the error says why.
    let pool = Arc::new(
        ProcessPool::new(1)
            .unwrap()
            .with_start_timeout(std::time::Duration::ZERO),
    );
    let (graph, keys) = graph_of(&whoami::func(), 1);
    let text = run(graph, keys, &on(&pool)).unwrap_err().to_string();
    assert!(text.contains("the timeout is zero"), "{text}");
    assert!(!text.contains("worker_main"), "the hook is there: {text}");
}
