#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
//! The task profiler: JSON and HTML outputs hold every task, on real runs.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use barrow_diagnostics::{NO_FUNCTION, Profiler};
use support::*;

#[test]
fn json_has_one_record_per_task_on_the_sync_scheduler() {
    let graph = map_reduce(12, 0, 16);
    let profiler = Profiler::new();
    run(
        &graph,
        "total",
        &sync().callback(Arc::new(profiler.clone())),
    );
    let dir = out_dir("profiler-json-sync");
    let path = dir.join("profile.json");
    profiler.write_json(&path).unwrap();

    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(json["scheduler"], "sync");
    assert_eq!(json["workers"], 1);
    let tasks = json["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), graph.len());
    let keys: BTreeSet<&str> = tasks.iter().map(|t| t["key"].as_str().unwrap()).collect();
    let expected: Vec<String> = key_strings(&graph);
    assert_eq!(keys, expected.iter().map(String::as_str).collect());
    let mut last_end = 0.0;
    for task in tasks {
        let (start, end) = (
            task["start"].as_f64().unwrap(),
            task["end"].as_f64().unwrap(),
        );
        assert!(start <= end, "{task}");
        // One worker runs one task at a time: records follow each other.
        assert!(start >= last_end, "{task} overlaps the previous task");
        last_end = end;
        assert_eq!(task["worker"], 0);
    }
    let work = tasks.iter().find(|t| t["key"] == "('work', 3)").unwrap();
    assert_eq!(work["function"], "work");
    let leaf = tasks.iter().find(|t| t["key"] == "('x', 3)").unwrap();
    assert!(leaf["function"].is_null());
}

#[test]
fn html_timeline_holds_every_task_and_works_offline() {
    let graph = map_reduce(10, 1, 16);
    let profiler = Profiler::new();
    run(
        &graph,
        "total",
        &threads(2).callback(Arc::new(profiler.clone())),
    );
    let path = out_dir("profiler-html").join("profile.html");
    profiler.write_html(&path).unwrap();

    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for key in key_strings(&graph) {
        assert!(html.contains(&key), "{key} is missing from the timeline");
    }
    for external in ["http://", "https://", "src=", "@import", "url("] {
        assert!(!html.contains(external), "the page refers to {external}");
    }
    let data = page_data(&html);
    assert_eq!(data["tasks"].as_array().unwrap().len(), graph.len());
    assert_eq!(data["workers"], 2);
    let functions: Vec<&str> = data["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for name in ["work", "total", NO_FUNCTION] {
        assert!(functions.contains(&name), "{name} not in {functions:?}");
    }
}

#[test]
fn threads_fill_one_lane_per_worker_without_overlap() {
    let graph = map_reduce(12, 4, 16);
    let profiler = Profiler::new();
    run(
        &graph,
        "total",
        &threads(2).callback(Arc::new(profiler.clone())),
    );
    let records = profiler.results();
    assert_eq!(records.len(), graph.len());
    let mut lanes: BTreeMap<usize, Vec<_>> = BTreeMap::new();
    for record in &records {
        assert!(record.start <= record.end);
        assert!(record.worker < 2, "worker {} of 2", record.worker);
        lanes.entry(record.worker).or_default().push(record);
    }
    for (worker, mut tasks) in lanes {
        tasks.sort_by_key(|r| r.start);
        for pair in tasks.windows(2) {
            assert!(
                pair[1].start >= pair[0].end,
                "worker {worker}: {} starts before {} ends",
                pair[1].key,
                pair[0].key
            );
        }
    }
    // The CPU-bound tasks took about their 4 ms each.
    let work: Vec<_> = records
        .iter()
        .filter(|r| r.function.as_deref() == Some("work"))
        .collect();
    assert_eq!(work.len(), 12);
    let busy: std::time::Duration = work.iter().map(|r| r.duration()).sum();
    assert!(busy.as_millis() >= 12 * 4, "{busy:?}");
}

#[test]
fn tens_of_thousands_of_tasks_make_a_compact_page() {
    let n = 20_000;
    let graph = many_small(n);
    let profiler = Profiler::new();
    run(
        &graph,
        "count",
        &sync().callback(Arc::new(profiler.clone())),
    );
    assert_eq!(profiler.len(), graph.len());
    let path = out_dir("profiler-many").join("profile.html");
    profiler.write_html(&path).unwrap();
    let html = std::fs::read_to_string(&path).unwrap();
    // ("add", 12345) + function index + two times + worker: ~45 bytes a task.
    assert!(
        html.len() < graph.len() * 64 + 32 * 1024,
        "{} bytes",
        html.len()
    );
    let data = page_data(&html);
    let keys: BTreeSet<&str> = data["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t[0].as_str().unwrap())
        .collect();
    let expected = key_strings(&graph);
    assert_eq!(keys, expected.iter().map(String::as_str).collect());
}

#[test]
fn records_accumulate_over_runs_until_cleared() {
    let graph = map_reduce(3, 0, 8);
    let profiler = Profiler::new();
    let options = sync().callback(Arc::new(profiler.clone()));
    run(&graph, "total", &options);
    run(&graph, "total", &options);
    let records = profiler.results();
    assert_eq!(records.len(), 2 * graph.len());
    // One clock: the second run comes after the first.
    assert!(records[graph.len()].start >= records[graph.len() - 1].end);
    profiler.clear();
    assert!(profiler.is_empty());
    // An empty profile still writes valid files.
    let data = page_data(&profiler.to_html().unwrap());
    assert!(data["tasks"].as_array().unwrap().is_empty());
    let json: serde_json::Value = serde_json::from_str(&profiler.to_json().unwrap()).unwrap();
    assert!(json["tasks"].as_array().unwrap().is_empty());
}

#[test]
fn a_failed_write_names_the_file() {
    let profiler = Profiler::new();
    let path = out_dir("profiler-bad-path")
        .join("no-such-folder")
        .join("p.html");
    let err = profiler.write_html(&path).unwrap_err();
    assert_eq!(err.kind(), barrow_diagnostics::ErrorKind::Io);
    assert_eq!(err.path(), Some(path.as_path()));
    assert!(err.to_string().contains("no-such-folder"), "{err}");
    assert!(std::error::Error::source(&err).is_some());
}
