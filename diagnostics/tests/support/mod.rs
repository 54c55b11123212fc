//! Graphs, schedulers and folders shared by the diagnostics tests.
#![allow(dead_code, reason = "each test file uses some of the helpers")]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use barrow_core::arg::{key, keys, lit};
use barrow_core::collection::GraphKeys;
use barrow_core::function::List;
use barrow_core::{Func, Graph, Key, Options, Task, Value, compute_with};
use barrow_local::{SyncScheduler, ThreadsScheduler};

/// A fresh folder for one test's files, under cargo's temporary target dir.
pub fn out_dir(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("diagnostics")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Keeps one core busy for `millis` (real work, not a sleep).
pub fn spin(millis: u64) -> u64 {
    let until = Instant::now() + Duration::from_millis(millis);
    let mut x = 1u64;
    while Instant::now() < until {
        for _ in 0..1000 {
            x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    x
}

/// `chunks` leaves ("x", i), each turned into a buffer of `bytes` by
/// ("work", i) after `millis` of CPU work, and one "total" summing their
/// lengths: 2 * chunks + 1 tasks.
pub fn map_reduce(chunks: u32, millis: u64, bytes: usize) -> Graph {
    let work = Func::new("work", move |x: &i64| {
        black_box(spin(millis));
        vec![*x as u8; bytes]
    });
    let total = Func::new("total", |parts: List<Vec<u8>>| {
        parts.iter().map(|p| p.len() as u64).sum::<u64>()
    });
    let mut tasks: Vec<(Key, Task)> = Vec::new();
    for i in 0..chunks {
        tasks.push((Key::from(("x", i)), Task::literal(i64::from(i))));
        tasks.push((Key::from(("work", i)), Task::call(&work, [key(("x", i))])));
    }
    let parts: Vec<Key> = (0..chunks).map(|i| Key::from(("work", i))).collect();
    tasks.push((Key::new("total"), Task::call(&total, [keys(parts)])));
    Graph::from_tasks(tasks).unwrap()
}

/// `n` independent one-line tasks and a sum: n + 1 tasks.
pub fn many_small(n: u32) -> Graph {
    let add = Func::new("add", |a: &i64, b: &i64| a + b);
    let count = Func::new("count", |parts: List<i64>| parts.len() as i64);
    let mut tasks: Vec<(Key, Task)> = (0..n)
        .map(|i| {
            (
                Key::from(("add", i)),
                Task::call(&add, [lit(i64::from(i)), lit(1i64)]),
            )
        })
        .collect();
    let parts: Vec<Key> = (0..n).map(|i| Key::from(("add", i))).collect();
    tasks.push((Key::new("count"), Task::call(&count, [keys(parts)])));
    Graph::from_tasks(tasks).unwrap()
}

/// Options running on the synchronous scheduler, every task as written.
pub fn sync() -> Options {
    Options::new()
        .scheduler_object(Arc::new(SyncScheduler))
        .optimize_graph(false)
}

/// Options running on `workers` threads, every task as written.
pub fn threads(workers: usize) -> Options {
    Options::new()
        .scheduler_object(Arc::new(ThreadsScheduler::new()))
        .num_workers(workers)
        .optimize_graph(false)
}

/// Computes `out` from `graph` with `options`.
pub fn run(graph: &Graph, out: &str, options: &Options) -> Vec<Value> {
    compute_with(GraphKeys::new(graph.clone(), [out]), options).unwrap()
}

/// Every key of `graph`, printed.
pub fn key_strings(graph: &Graph) -> Vec<String> {
    graph.keys().map(Key::to_string).collect()
}

/// The JSON data block of a page written by this crate.
pub fn page_data(html: &str) -> serde_json::Value {
    let start_tag = "<script type=\"application/json\" id=\"data\">";
    let start = html.find(start_tag).unwrap() + start_tag.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).unwrap()
}
