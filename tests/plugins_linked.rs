//! A program that never names `barrow::plugins` still loads the plugins its
//! configuration asks for: the facade links the plugin host.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

#[path = "../plugins/host/tests/host/support.rs"]
mod support;

use barrow::collection::GraphKeys;
use barrow::{Graph, Options, Registry, Task, compute_with};

#[test]
fn configured_plugins_load_without_naming_the_plugin_host() {
    let path = support::library("barrow-example-functions");
    let options = Options::new()
        .scheduler("sync")
        .set("plugins.load", vec![path.display().to_string()]);
    let graph = Graph::from_tasks([("a", Task::literal(1i64))]).unwrap();
    compute_with(GraphKeys::new(graph, ["a"]), &options).unwrap();
    assert!(Registry::global().functions().contains("stats.zscore"));
}
