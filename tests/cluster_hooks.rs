//! Plugins' hooks on a cluster's events (Dask's scheduler and worker
//! plugins), through the stable ABI: the scheduler and the workers of this
//! process hand each event to the hooks of the plugins it loaded, a hook
//! of one name runs once however often its plugin is loaded, and a hook
//! that panics is contained and reported while the cluster computes on.
#![cfg(all(feature = "distributed", feature = "plugins"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

#[path = "../plugins/host/tests/host/support.rs"]
mod support;

use barrow::arg::lit;
use barrow::distributed::LocalCluster;
use barrow::function::Input;
use barrow::{Options, Registry, Value};
use support::library;

#[barrow::task(name = "tests.hooks.inc")]
fn inc(x: &i64) -> i64 {
    x + 1
}

fn load_here(package: &str) {
    let config = Options::new().resolve_config().unwrap();
    barrow::plugins::load_into(&library(package), Registry::global(), &config).unwrap();
}

/// What `stats.audit` saw in this process.
fn audit_log() -> String {
    let log = Registry::global()
        .functions()
        .get("stats.audit-log")
        .unwrap();
    let out = log.call(&[Input::Value(Value::new(0i64))]).unwrap();
    out.downcast_ref::<String>().unwrap().clone()
}

#[test]
fn the_scheduler_and_its_workers_hand_their_events_to_plugin_hooks() {
    load_here("barrow-example-functions");
    load_here("barrow-example-functions"); // once is enough
    let names = barrow::hooks::cluster_hook_names();
    assert_eq!(
        names.iter().filter(|n| *n == "stats.audit").count(),
        1,
        "{names:?}"
    );
    let inc = inc::func();
    let address;
    {
        let cluster = LocalCluster::new()
            .workers(2)
            .threads_per_worker(1)
            .processes(false)
            .start()
            .unwrap();
        address = cluster.address();
        let client = cluster.client().unwrap();
        let f = client.submit::<i64>(&inc, [lit(41i64)]).unwrap();
        assert_eq!(f.result().unwrap(), 42);
        let key = f.key().to_string();
        let log = audit_log();
        for line in [
            format!("scheduler-started {address}"),
            "worker-added local-0".to_owned(),
            "worker-added local-1".to_owned(),
            "worker-started local-0".to_owned(),
            format!("transition {key} waiting processing local-"),
            format!("transition {key} processing memory local-"),
        ] {
            assert!(log.contains(&line), "{line:?} in\n{log}");
        }
    }
    // The cluster is gone: its workers closed, the scheduler too.
    let log = audit_log();
    assert!(log.contains("worker-closing local-0"), "{log}");
    assert!(log.contains("scheduler-closing"), "{log}");
}

#[test]
fn a_panicking_hook_is_contained_and_reported() {
    load_here("barrow-test-faulty");
    let inc = inc::func();
    let cluster = LocalCluster::new()
        .workers(1)
        .threads_per_worker(1)
        .processes(false)
        .start()
        .unwrap();
    let client = cluster.client().unwrap();
    // The hook panicked when the worker joined; the cluster computes on.
    let f = client.submit::<i64>(&inc, [lit(1i64)]).unwrap();
    assert_eq!(f.result().unwrap(), 2);
    let failures = barrow::hooks::cluster_hook_failures();
    let (hook, what) = failures
        .iter()
        .find(|(hook, _)| hook == "faulty.panics-on-events")
        .expect("the panic is reported");
    assert_eq!(hook, "faulty.panics-on-events");
    assert!(what.contains("panicked"), "{what}");
    assert!(
        what.contains("faulty hook panicked on purpose when local-0 joined"),
        "{what}"
    );
}
