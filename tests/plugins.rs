//! The example plugins, loaded from configuration, on threads and on real
//! worker processes: workers load the plugins their parent loaded and run
//! their set-up steps with the parent's configuration.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

#[path = "../plugins/host/tests/host/support.rs"]
mod support;

use barrow::array::Array;
use barrow::bag::Bag;
use barrow::collection::GraphKeys;
use barrow::plugins::ForeignObject;
use barrow::{Graph, Options, Registry, Task, arg::key, arg::lit, compute_with};
use support::library;

barrow::processes::worker_entry!();

const PLUGINS: [&str; 4] = [
    "barrow-example-functions",
    "barrow-example-codec",
    "barrow-example-setup",
    "barrow-example-scheduler",
];

/// Every test loads all four through the configuration first, so that the
/// pool shared by the tests starts with all of them.
fn on(scheduler: &str) -> Options {
    let load: Vec<String> = PLUGINS
        .iter()
        .map(|p| library(p).display().to_string())
        .collect();
    let options = Options::new().set("plugins.load", load).num_workers(2);
    // Loading happens before the first computation: an empty one does it.
    let graph = Graph::from_tasks([("nothing", Task::literal(0u8))]).unwrap();
    compute_with(
        GraphKeys::new(graph, ["nothing"]),
        &options.clone().scheduler("sync"),
    )
    .unwrap();
    options.scheduler(scheduler)
}

fn func(name: &str) -> barrow::Func {
    Registry::global().functions().get(name).unwrap()
}

#[test]
fn a_plugin_kernel_runs_on_array_blocks_on_threads_and_processes() {
    let threads = on("threads");
    let x = Array::<f64>::arange(0.0, 40.0, 1.0, 7).unwrap();
    let z = (&x * 3.0).map_blocks_func::<f64>(&func("stats.zscore"));
    let on_threads = compute_with(&z, &threads).unwrap();
    let on_processes = compute_with(&z, &on("processes")).unwrap();
    assert_eq!(on_threads, on_processes);
    // Each block of 7 is standardized: its values sum to zero.
    let raw = on_processes.into_raw_vec_and_offset().0;
    for block in raw.chunks(7) {
        assert!(block.iter().sum::<f64>().abs() < 1e-9, "{block:?}");
    }
}

#[test]
fn plugin_functions_run_on_bag_partitions_on_processes() {
    let processes = on("processes");
    let words = ["Alpha", "BETA", "gamma", "Delta", "epsilon", "ZETA", "eta"];
    let bag = Bag::from_sequence(words.iter().map(|w| w.to_string()), 3).unwrap();
    let lower = bag.map_partitions_func::<String>(&func("stats.lowercase"));
    let lengths = lower.map_partitions_func::<u64>(&func("stats.word-lengths"));
    let mut got = compute_with(&lower, &processes).unwrap();
    got.sort();
    let mut expected: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    expected.sort();
    assert_eq!(got, expected);
    let total: u64 = compute_with(&lengths, &processes).unwrap().iter().sum();
    assert_eq!(total, words.iter().map(|w| w.len() as u64).sum::<u64>());
}

#[test]
fn plugin_values_travel_to_and_from_workers() {
    let options = on("processes");
    let (histogram, merge, total) = (
        func("hist.histogram"),
        func("hist.merge"),
        func("hist.total"),
    );
    let mut tasks = Vec::new();
    for part in 0..4 {
        let values: Vec<f64> = (0..100)
            .map(|i| f64::from(part * 100 + i) / 400.0)
            .collect();
        tasks.push((format!("h{part}"), Task::call(&histogram, [lit(values)])));
    }
    tasks.push(("a".into(), Task::call(&merge, [key("h0"), key("h1")])));
    tasks.push(("b".into(), Task::call(&merge, [key("h2"), key("h3")])));
    tasks.push(("all".into(), Task::call(&merge, [key("a"), key("b")])));
    tasks.push(("n".into(), Task::call(&total, [key("all")])));
    let graph = Graph::from_tasks(tasks).unwrap();
    let out = compute_with(GraphKeys::new(graph, ["n", "all"]), &options).unwrap();
    assert_eq!(*out[0].downcast_ref::<u64>().unwrap(), 400);
    assert_eq!(
        out[1].downcast_ref::<ForeignObject>().unwrap().tag(),
        "hist.histogram"
    );
}

#[test]
fn the_plugin_scheduler_is_chosen_by_name() {
    let add = barrow::Func::new("add", |a: &i64, b: &i64| a + b);
    let graph = Graph::from_tasks([
        ("a", Task::literal(1i64)),
        ("b", Task::call(&add, [key("a"), lit(2i64)])),
        ("c", Task::call(&add, [key("a"), key("b")])),
    ])
    .unwrap();
    let out = compute_with(GraphKeys::new(graph, ["c"]), &on("lifo")).unwrap();
    assert_eq!(*out[0].downcast_ref::<i64>().unwrap(), 4);
}

/// What a worker was told about plugins by its parent.
#[barrow::task(name = "tests.plugins.worker-env")]
fn worker_env(_: &i64) -> String {
    format!(
        "{}|{}",
        std::env::var(barrow::plugins::WORKER_PLUGINS).unwrap_or_default(),
        std::env::var(barrow::plugins::WORKER_PLUGIN_CONFIG).unwrap_or_default()
    )
}

#[test]
fn workers_set_up_with_the_programs_configuration_once_per_host() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let command = format!("echo ran >> {}", log.display());
    // A pool of its own, started after the set-up is configured.
    let pool = std::sync::Arc::new(barrow::processes::ProcessPool::new(2).unwrap());
    let options = on("processes")
        .scheduler_object(std::sync::Arc::new(
            barrow::processes::ProcessesScheduler::with_pool(pool),
        ))
        .set("setup-example.commands", vec![command.clone()])
        .set("setup-example.state-dir", dir.path().display().to_string());
    let who = func("tests.plugins.worker-env");
    let graph = Graph::from_tasks([
        ("a", Task::call(&who, [lit(1i64)])),
        ("b", Task::call(&who, [lit(2i64)])),
    ])
    .unwrap();
    let out = compute_with(GraphKeys::new(graph, ["a", "b"]), &options).unwrap();
    for value in out {
        let text = value.downcast_ref::<String>().unwrap();
        assert!(text.contains("libbarrow_example_setup"), "{text}");
        assert!(text.contains("echo ran"), "{text}");
    }
    // The program and both workers ran the step; the commands ran once.
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "ran\n");
}

/// `barrow plugin inspect | list`, as an operator runs them.
#[test]
fn the_barrow_command_inspects_and_lists_plugins() {
    let barrow = env!("CARGO_BIN_EXE_barrow");
    let functions = library("barrow-example-functions");
    let out = std::process::Command::new(barrow)
        .args(["plugin", "inspect"])
        .arg(&functions)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("name: stats"), "{text}");
    assert!(text.contains("  stats.zscore: "), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let text_file = dir.path().join("libnotes.so");
    std::fs::write(&text_file, "some notes\n").unwrap();
    let out = std::process::Command::new(barrow)
        .args(["plugin", "inspect"])
        .arg(&text_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("libnotes.so is not a loadable plugin library"),
        "{err}"
    );

    let out = std::process::Command::new(barrow)
        .args(["plugin", "list"])
        .env("BARROW_PLUGINS__PATHS", functions.parent().unwrap())
        .env("BARROW_PLUGINS__LOAD", "stats")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("plugins.load = \"stats\" (from BARROW_PLUGINS__LOAD)"),
        "{text}"
    );
    assert!(
        text.contains("stats 0.1.0 (barrow-plugin 1.2) from "),
        "{text}"
    );
}

/// Workers started before the program loads a plugin are replaced by
/// workers that load it.
#[test]
fn a_plugin_loaded_after_the_workers_started_reaches_new_workers() {
    // The examples first: other tests load them at any moment.
    on("threads");
    let pool = std::sync::Arc::new(barrow::processes::ProcessPool::new(1).unwrap());
    let before = pool.start().unwrap();
    let config = barrow::Options::new().resolve_config().unwrap();
    barrow::plugins::load_into(&library("barrow-test-faulty"), Registry::global(), &config)
        .unwrap();
    let options = Options::new().scheduler_object(std::sync::Arc::new(
        barrow::processes::ProcessesScheduler::with_pool(pool.clone()),
    ));
    let identity = func("faulty.identity");
    let graph = Graph::from_tasks([("x", Task::call(&identity, [lit(2.5f64)]))]).unwrap();
    let out = compute_with(GraphKeys::new(graph, ["x"]), &options).unwrap();
    assert_eq!(*out[0].downcast_ref::<f64>().unwrap(), 2.5);
    assert_ne!(pool.start().unwrap(), before, "the worker was replaced");
}
