//! The scheduler named `distributed`: the newest client of the program,
//! else a client of `distributed.scheduler-address` (one test per file:
//! the newest client is process-wide).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use barrow_core::arg::lit;
use barrow_core::collection::GraphKeys;
use barrow_core::testing::functions::inc;
use barrow_core::{ErrorKind, Graph, Options, Task, compute_with};
use barrow_distributed::LocalCluster;

#[test]
fn distributed_by_name_uses_the_newest_client_else_the_configured_address() {
    let graph = Graph::from_tasks([("v", Task::call(&inc(), [lit(1i64)]))]).unwrap();
    let target = GraphKeys::new(graph, ["v"]);
    let by_name = Options::new().scheduler("distributed");
    // No client and no address: the error says what to do.
    let err = compute_with(&target, &by_name).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        err.to_string().contains("distributed.scheduler-address"),
        "{err}"
    );

    let cluster = LocalCluster::new()
        .workers(1)
        .processes(false)
        .start()
        .unwrap();
    // The configured address (and token), through the call's settings.
    let configured = Options::new()
        .scheduler("distributed")
        .set("distributed.scheduler-address", cluster.address())
        .set("distributed.security.token", cluster.token());
    let out = compute_with(&target, &configured).unwrap();
    assert_eq!(*out[0].downcast_ref::<i64>().unwrap(), 2);

    // A client made since is the one used.
    let client = cluster.client().unwrap();
    let out = compute_with(&target, &by_name).unwrap();
    assert_eq!(*out[0].downcast_ref::<i64>().unwrap(), 2);
    assert_eq!(
        barrow_distributed::Client::current().unwrap().address(),
        client.address()
    );
}
