//! A plugin's own type through task graphs, spilling and the wire format.

use barrow_core::arg::{call, key, lit};
use barrow_core::collection::GraphKeys;
use barrow_core::{Graph, Options, Registry, Task, compute_with};
use barrow_plugin_host::{ForeignObject, OBJECT_TAG, load, register};

use crate::support::library;

fn graph() -> (Graph, Vec<String>) {
    let plugin = load(&library("barrow-example-codec")).unwrap();
    register(&plugin, Registry::global()).unwrap();
    let f = |name: &str| Registry::global().functions().get(name).unwrap();
    let (histogram, merge, total) = (f("hist.histogram"), f("hist.merge"), f("hist.total"));
    let mut tasks = Vec::new();
    for part in 0..4 {
        let values: Vec<f64> = (0..250)
            .map(|i| f64::from(part * 250 + i) / 1000.0)
            .collect();
        tasks.push((format!("h{part}"), Task::call(&histogram, [lit(values)])));
    }
    tasks.push(("m01".into(), Task::call(&merge, [key("h0"), key("h1")])));
    tasks.push(("m23".into(), Task::call(&merge, [key("h2"), key("h3")])));
    tasks.push(("all".into(), Task::call(&merge, [key("m01"), key("m23")])));
    tasks.push(("total".into(), Task::call(&total, [key("all")])));
    tasks.push((
        "counts".into(),
        Task::call(&f("hist.counts"), [call(&merge, [key("h0"), key("h3")])]),
    ));
    let graph = Graph::from_tasks(tasks).unwrap();
    (graph, vec!["total".into(), "all".into(), "counts".into()])
}

#[test]
fn plugin_values_flow_between_tasks_on_threads() {
    barrow_local::link();
    let (graph, keys) = graph();
    let out = compute_with(
        GraphKeys::new(graph, keys),
        &Options::new().scheduler("threads"),
    )
    .unwrap();
    assert_eq!(*out[0].downcast_ref::<u64>().unwrap(), 1000);
    let all = out[1].downcast_ref::<ForeignObject>().unwrap();
    assert_eq!(all.tag(), "hist.histogram");
    // Part 0 holds [0, 0.25), part 3 [0.75, 1): ten bins of 0.1.
    let counts = out[2].downcast_ref::<Vec<u64>>().unwrap();
    assert_eq!(counts, &[100, 100, 50, 0, 0, 0, 0, 50, 100, 100]);
}

#[test]
fn plugin_values_spill_to_disk_and_come_back() {
    barrow_local::link();
    let dir = tempfile::tempdir().unwrap();
    let (graph, keys) = graph();
    let options = Options::new()
        .scheduler("sync")
        .set("local.spill.memory-limit", "1B")
        .set("temporary-directory", dir.path().display().to_string());
    let out = compute_with(GraphKeys::new(graph, keys), &options).unwrap();
    assert_eq!(*out[0].downcast_ref::<u64>().unwrap(), 1000);
}

#[test]
fn plugin_values_cross_the_wire_format() {
    let (graph, _) = graph();
    let value = barrow_core::execute::run_task(graph.get(&"h1".into()).unwrap(), &mut |_| {
        unreachable!("h1 has no dependencies")
    })
    .unwrap();
    let codecs = Registry::global().codecs();
    let bytes = barrow_wire::encode(&value, codecs).unwrap();
    let back = barrow_wire::decode(&bytes, codecs).unwrap();
    let back = back.downcast_ref::<ForeignObject>().unwrap();
    assert_eq!(
        back.encode().unwrap(),
        value
            .downcast_ref::<ForeignObject>()
            .unwrap()
            .encode()
            .unwrap()
    );
    // Damaged bytes are an error, never a crash.
    let codec = codecs.by_tag(OBJECT_TAG).unwrap();
    for cut in [0, 1, 5, 20] {
        let mut payload = Vec::new();
        codec.encode(&value, &mut payload).unwrap();
        payload.truncate(cut);
        assert!(codec.decode(&payload).is_err(), "cut at {cut}");
    }
}
