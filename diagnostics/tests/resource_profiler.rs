#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
//! The resource profiler: samples during real runs, the store's bytes from
//! the engine's task events, and its JSON and HTML outputs.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use barrow_core::Value;
use barrow_core::arg::key;
use barrow_core::callback::{Callback, TaskEvent};
use barrow_core::{Func, Graph, Task};
use barrow_diagnostics::ResourceProfiler;
use support::*;

#[test]
fn samples_a_cpu_bound_run_on_threads() {
    // 8 tasks of 70 ms on 2 workers: about 300 ms.
    let graph = map_reduce(8, 70, 256 * 1024);
    let resources = ResourceProfiler::with_interval(Duration::from_millis(40));
    run(
        &graph,
        "total",
        &threads(2).callback(Arc::new(resources.clone())),
    );
    let samples = resources.results();
    assert!(samples.len() >= 4, "{} samples in ~300 ms", samples.len());
    for pair in samples.windows(2) {
        assert!(pair[0].time <= pair[1].time);
    }
    for sample in &samples {
        match (sample.rss, sample.unmanaged) {
            (Some(rss), Some(unmanaged)) => {
                assert_eq!(unmanaged, rss.saturating_sub(sample.store_bytes))
            }
            (None, None) => {}
            other => panic!("RSS and unmanaged memory disagree: {other:?}"),
        }
    }
    if cfg!(target_os = "linux") {
        assert!(samples.iter().all(|s| s.rss.is_some_and(|r| r > 0)));
        let busiest = samples
            .iter()
            .filter_map(|s| s.cpu_percent)
            .fold(0.0, f64::max);
        assert!(busiest > 0.0, "CPU-bound tasks used no CPU: {samples:?}");
    }
    resources
        .write_html(out_dir("resources-threads").join("resources.html"))
        .unwrap();
    // Results of 256 KiB wait in the store for the final sum.
    let most_stored = samples.iter().map(|s| s.store_bytes).max().unwrap();
    assert!(most_stored >= 256 * 1024, "{most_stored}");
}

#[test]
fn json_and_html_hold_every_sample() {
    let graph = map_reduce(4, 30, 1024);
    let resources = ResourceProfiler::with_interval(Duration::from_millis(20));
    run(
        &graph,
        "total",
        &sync().callback(Arc::new(resources.clone())),
    );
    let count = resources.results().len();
    let dir = out_dir("resources-outputs");

    resources.write_json(dir.join("resources.json")).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("resources.json")).unwrap()).unwrap();
    assert_eq!(json["interval"], 0.02);
    let samples = json["samples"].as_array().unwrap();
    assert_eq!(samples.len(), count);
    for key in ["time", "cpu_percent", "rss", "store_bytes", "unmanaged"] {
        assert!(
            samples[0].get(key).is_some(),
            "{key} missing from {}",
            samples[0]
        );
    }

    resources.write_html(dir.join("resources.html")).unwrap();
    let html = std::fs::read_to_string(dir.join("resources.html")).unwrap();
    assert!(html.contains("unmanaged"));
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert_eq!(page_data(&html)["samples"].as_array().unwrap().len(), count);
}

#[test]
fn the_sampler_stops_when_the_run_ends() {
    let graph = map_reduce(2, 20, 8);
    let resources = ResourceProfiler::with_interval(Duration::from_millis(5));
    run(
        &graph,
        "total",
        &sync().callback(Arc::new(resources.clone())),
    );
    let after_run = resources.results().len();
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(resources.results().len(), after_run);
    // A second run samples again, on the same clock.
    run(
        &graph,
        "total",
        &sync().callback(Arc::new(resources.clone())),
    );
    let samples = resources.results();
    assert!(samples.len() > after_run);
    assert!(samples[after_run].time >= samples[after_run - 1].time);
    resources.clear();
    assert!(resources.results().is_empty());
}

/// Records the `store_bytes` of every `posttask`, by key.
#[derive(Default)]
struct StoreBytes(Mutex<Vec<(String, usize)>>);

impl Callback for StoreBytes {
    fn posttask(&self, task: &TaskEvent<'_>, _value: &Value) {
        self.0
            .lock()
            .unwrap()
            .push((task.key.to_string(), task.store_bytes));
    }
}

#[test]
fn task_events_carry_the_bytes_the_store_holds() {
    let alloc = Func::new("alloc", |n: &usize| vec![1u8; *n]);
    let both = Func::new("both", |a: &Vec<u8>, b: &Vec<u8>| a.len() + b.len());
    let mib = 1usize << 20;
    let graph = Graph::from_tasks([
        ("n", Task::literal(mib)),
        ("a", Task::call(&alloc, [key("n")])),
        ("b", Task::call(&alloc, [key("n")])),
        ("c", Task::call(&both, [key("a"), key("b")])),
    ])
    .unwrap();
    for options in [sync(), threads(2)] {
        let seen = Arc::new(StoreBytes::default());
        run(&graph, "c", &options.callback(seen.clone()));
        let seen = seen.0.lock().unwrap().clone();
        let at = |k: &str| seen.iter().find(|(key, _)| key == k).unwrap().1;
        // Each result counts from its own posttask on (it is in the store).
        assert!(at("a") >= mib, "{seen:?}");
        assert!(at("b") >= mib, "{seen:?}");
        // `c` read both buffers last: they are gone, only `c` is held.
        assert!(at("c") < 1024, "{seen:?}");
    }
}
