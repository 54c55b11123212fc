//! A local run's dashboard without a browser: what the callback records
//! on `threads` and `sync`, read back from the feed and the JSON API.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use barrow_core::arg::{key, keys, lit};
use barrow_core::collection::GraphKeys;
use barrow_core::{Func, Graph, Options, Task, compute_with};
use barrow_dashboard::{Cursor, Dashboard, ServeOptions};
use barrow_local::{SyncScheduler, ThreadsScheduler};

/// `n` tasks `inc-<i>` reading one literal, and their sum.
fn graph(n: usize) -> (Graph, usize) {
    let inc = Func::new("inc", |x: &i64| x + 1);
    let add = Func::new("add", |x: &i64, y: &i64| x + y);
    let total = Func::new("total", |xs: barrow_core::function::List<i64>| {
        xs.iter().sum::<i64>()
    });
    let mut tasks = vec![("x".to_owned(), Task::literal(1i64))];
    for i in 0..n {
        tasks.push((format!("inc-{i}"), Task::call(&inc, [key("x")])));
        tasks.push((
            format!("add-{i}"),
            Task::call(&add, [key(format!("inc-{i}").as_str()), lit(1i64)]),
        ));
    }
    let adds: Vec<String> = (0..n).map(|i| format!("add-{i}")).collect();
    tasks.push((
        "total".to_owned(),
        Task::call(&total, [keys(adds.iter().map(String::as_str))]),
    ));
    let len = tasks.len();
    (Graph::from_tasks(tasks).unwrap(), len)
}

fn threads(dashboard: &Arc<Dashboard>) -> Options {
    Options::new()
        .scheduler_object(Arc::new(ThreadsScheduler::default()))
        .num_workers(2)
        .optimize_graph(false)
        .callback(dashboard.clone())
}

#[test]
fn a_threads_run_fills_the_feed_and_ends_finished() {
    let dashboard = Dashboard::serve(ServeOptions::at("127.0.0.1:0")).unwrap();
    let (graph, len) = graph(300);
    let out = compute_with(GraphKeys::new(graph, ["total"]), &threads(&dashboard)).unwrap();
    assert_eq!(*out[0].downcast_ref::<i64>().unwrap(), 300 * 3);

    let snap = dashboard.feed().snapshot(Cursor::default());
    assert!(snap.finished);
    assert_eq!(snap.overall.all, len as u64);
    assert_eq!(snap.overall.done, len as u64);
    assert_eq!(snap.overall.processing, 0);
    assert_eq!(snap.stream.rects.len(), len);
    let prefixes: Vec<&str> = snap.progress.iter().map(|p| p.prefix.as_str()).collect();
    for prefix in ["x", "inc", "add", "total"] {
        assert!(prefixes.contains(&prefix), "{prefixes:?}");
    }
    let inc = snap.progress.iter().find(|p| p.prefix == "inc").unwrap();
    assert_eq!((inc.all, inc.done, inc.memory), (300, 300, 300));
    assert_eq!(snap.workers.len(), 1);
    let pool = &snap.workers[0];
    assert_eq!((pool.row.name.as_str(), pool.row.threads), ("local", 2));
    for r in &snap.stream.rects {
        assert!(r.thread < 2 && r.duration_ms >= 0.0 && !r.failed, "{r:?}");
        assert_eq!(&*r.worker, "local");
    }
    let add = snap
        .stream
        .rects
        .iter()
        .find(|r| &*r.prefix == "add")
        .unwrap();
    assert_eq!(&*add.function, "add");
    #[cfg(target_os = "linux")]
    assert!(pool.row.memory.process > 0 && pool.row.memory.limit > pool.row.memory.process);

    // The JSON API serves the same final snapshot after the run.
    let address = dashboard.address().unwrap();
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /api/v1/snapshot?rects=0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let body = raw.split_once("\r\n\r\n").unwrap().1;
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["finished"], true);
    assert_eq!(json["overall"]["done"], len);

    // Dropping the dashboard stops its server.
    drop(dashboard);
    assert!(TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_err());
}

#[test]
fn a_failed_task_is_an_event_and_a_black_rectangle() {
    let dashboard = Dashboard::serve(ServeOptions::at("127.0.0.1:0")).unwrap();
    let fragile = Func::try_new("fragile", |x: &i64| {
        if *x == 7 {
            Err(format!("bad item {x}"))
        } else {
            Ok(*x)
        }
    });
    let graph = Graph::from_tasks([
        ("seven".to_owned(), Task::literal(7i64)),
        ("fragile-1".to_owned(), Task::call(&fragile, [key("seven")])),
    ])
    .unwrap();
    let error =
        compute_with(GraphKeys::new(graph, ["fragile-1"]), &threads(&dashboard)).unwrap_err();
    assert!(error.to_string().contains("bad item 7"), "{error}");

    let snap = dashboard.feed().snapshot(Cursor::default());
    assert!(snap.finished);
    let event = snap
        .events
        .iter()
        .find(|e| e.kind == "task-failed")
        .unwrap();
    assert_eq!(event.key.as_deref(), Some("fragile-1"));
    assert!(event.text.contains("bad item 7"), "{}", event.text);
    let black = snap.stream.rects.iter().find(|r| r.failed).unwrap();
    assert_eq!((black.key.name(), &*black.prefix), ("fragile-1", "fragile"));
    let row = snap
        .progress
        .iter()
        .find(|p| p.prefix == "fragile")
        .unwrap();
    assert_eq!((row.failed, row.processing), (1, 0));
    assert_eq!(snap.overall.fraction(), 1.0);
}

#[test]
fn the_sync_scheduler_and_a_second_run_start_afresh() {
    let dashboard = Dashboard::serve(ServeOptions::at("127.0.0.1:0")).unwrap();
    let sync = Options::new()
        .scheduler_object(Arc::new(SyncScheduler))
        .optimize_graph(false)
        .callback(dashboard.clone());
    let (small, small_len) = graph(3);
    compute_with(GraphKeys::new(small, ["total"]), &sync).unwrap();
    let (big, big_len) = graph(10);
    compute_with(GraphKeys::new(big, ["total"]), &sync).unwrap();
    let snap = dashboard.feed().snapshot(Cursor::default());
    // Progress is the last run's; the task stream keeps both.
    assert_eq!(snap.overall.all, big_len as u64);
    assert_eq!(snap.overall.done, big_len as u64);
    assert_eq!(snap.stream.rects.len(), small_len + big_len);
    assert_eq!(snap.workers[0].row.threads, 1);
}
