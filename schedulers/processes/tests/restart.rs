//! Worker start-up hooks (how plugins set workers up): a hook that fails
//! refuses the worker with its message; a hook that asks for a restart runs
//! the worker's program afresh, once, before it joins.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::sync::Arc;

use barrow_core::arg::lit;
use barrow_core::collection::GraphKeys;
use barrow_core::hooks::ProcessHook;
use barrow_core::{Graph, Options, Registry, Task, compute_with};
use barrow_processes::{ProcessPool, ProcessesScheduler};

barrow_processes::worker_entry!();

/// Asks every worker to restart, unless it already has; passes the
/// program's marker to the workers.
fn worker_start(_worker: u32, _registry: &Registry) -> barrow_core::Result<bool> {
    Ok(true)
}

fn worker_env() -> Vec<(String, String)> {
    vec![(
        "RESTART_TEST_MARKER".to_owned(),
        "from-the-parent".to_owned(),
    )]
}

inventory::submit! {
    ProcessHook {
        name: "restart-test",
        before_run: |_, _| Ok(false),
        worker_env,
        worker_start,
    }
}

/// What a worker knows about itself: whether it restarted, and what its
/// parent passed on.
#[barrow_core::task(name = "tests.restart.who-am-i")]
fn who_am_i(_: &i64) -> String {
    format!(
        "{}:{}",
        std::env::var("BARROW_WORKER_RESTARTED").unwrap_or_default(),
        std::env::var("RESTART_TEST_MARKER").unwrap_or_default()
    )
}

#[test]
fn a_worker_whose_set_up_asks_restarts_once_then_joins() {
    let who = Registry::global()
        .functions()
        .get("tests.restart.who-am-i")
        .unwrap();
    let graph = Graph::from_tasks([
        ("a", Task::call(&who, [lit(1i64)])),
        ("b", Task::call(&who, [lit(2i64)])),
    ])
    .unwrap();
    let pool = Arc::new(ProcessPool::new(2).unwrap());
    let options = Options::new().scheduler_object(Arc::new(ProcessesScheduler::with_pool(pool)));
    let out = compute_with(GraphKeys::new(graph, ["a", "b"]), &options).unwrap();
    for value in out {
        assert_eq!(value.downcast_ref::<String>().unwrap(), "1:from-the-parent");
    }
}
