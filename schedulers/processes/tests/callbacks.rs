//! Callbacks on `processes` mean what they mean on threads: `pretask`
//! fires when a worker starts the task, with that worker's id, not when
//! the task is queued to a worker's batch.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use barrow_core::arg::lit;
use barrow_core::callback::{Callback, TaskEvent};
use barrow_core::collection::GraphKeys;
use barrow_core::{Graph, Options, Task, Value, compute_with};
use barrow_processes::{ProcessPool, ProcessesScheduler};

barrow_processes::worker_entry!();

/// Waits (at most ten seconds) for `path` to exist; says whether it did.
#[barrow_core::task]
fn wait_for_file(path: &String) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if Path::new(path).exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// The pid of the worker running it.
#[barrow_core::task]
fn worker_pid(_x: &i64) -> i64 {
    i64::from(std::process::id())
}

fn on_two_workers() -> Options {
    let pool = Arc::new(ProcessPool::new(2).unwrap());
    Options::new().scheduler_object(Arc::new(ProcessesScheduler::with_pool(pool)))
}

/// Creates a file when a task's `pretask` fires, and records the workers
/// named by each event.
#[derive(Default)]
struct Signal {
    path: PathBuf,
    workers: Mutex<Vec<(String, &'static str, usize)>>,
}

impl Callback for Signal {
    fn pretask(&self, task: &TaskEvent<'_>) {
        if task.function.is_some_and(|f| f.ends_with("wait_for_file")) {
            std::fs::write(&self.path, b"started").unwrap();
        }
        let mut workers = self.workers.lock().unwrap();
        workers.push((task.key.to_string(), "pre", task.worker));
    }

    fn posttask(&self, task: &TaskEvent<'_>, _value: &Value) {
        let mut workers = self.workers.lock().unwrap();
        workers.push((task.key.to_string(), "post", task.worker));
    }
}

#[test]
fn pretask_fires_while_a_long_task_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("started");
    let graph = Graph::from_tasks([(
        "wait",
        Task::call(
            &wait_for_file::func(),
            [lit(path.to_string_lossy().into_owned())],
        ),
    )])
    .unwrap();
    let signal = Arc::new(Signal {
        path,
        ..Signal::default()
    });
    let options = on_two_workers().callback(signal.clone());
    let out = compute_with(GraphKeys::new(graph, ["wait"]), &options).unwrap();
    assert_eq!(
        out[0].downcast_ref::<bool>().unwrap(),
        &true,
        "the task saw the file its own pretask wrote: pretask fired while it ran"
    );
}

#[test]
fn pretask_and_posttask_name_the_worker_that_ran_the_task() {
    let tasks: Vec<(String, Task)> = (0..8)
        .map(|i| {
            (
                format!("pid-{i}"),
                Task::call(&worker_pid::func(), [lit(i as i64)]),
            )
        })
        .collect();
    let graph = Graph::from_tasks(tasks.iter().map(|(k, t)| (k.as_str(), t.clone()))).unwrap();
    let signal = Arc::new(Signal::default());
    let options = on_two_workers().callback(signal.clone());
    let wanted: Vec<&str> = tasks.iter().map(|(k, _)| k.as_str()).collect();
    compute_with(GraphKeys::new(graph, wanted), &options).unwrap();
    let events = signal.workers.lock().unwrap().clone();
    assert_eq!(events.len(), 16, "{events:?}");
    for (key, _) in &tasks {
        let of: Vec<_> = events.iter().filter(|(k, _, _)| k == key).collect();
        assert_eq!(of.len(), 2, "{key}: {events:?}");
        assert_eq!(of[0].1, "pre", "{key}: pretask first");
        assert_ne!(of[0].2, 0, "{key}: a worker of the pool, not the engine");
        assert_eq!(of[0].2, of[1].2, "{key}: the same worker in both events");
    }
}
