//! Dask's `fuse_subgraphs` tests, from the version of
//! `test_optimization.py` before Dask removed subgraphs (ae3fc2ed2^):
//! Dask's `SubgraphCallable(dsk, outkey, inkeys)` is
//! `barrow_core::optimize::Subgraph` here.

use barrow_core::optimize::{FuseOptions, Subgraph, fuse};
use barrow_core::{Graph, Key};

use crate::support::{assert_computes_the_same, k, keys_of, t};

/// Dask's `fuse(dsk, keys, fuse_subgraphs=True, rename_keys=...)`.
fn fuse_subgraphs(dsk: &Graph, keys: &[&str], rename_keys: bool) -> Graph {
    let keys: Vec<Key> = keys.iter().map(|s| k(s)).collect();
    let options = FuseOptions::new().subgraphs(true).rename_keys(rename_keys);
    let fused = fuse(dsk, &keys, &options).unwrap();
    assert_computes_the_same(dsk, &fused);
    fused
}

/// The task of `key` is a subgraph of these tasks, returning `output`,
/// reading `inputs` (in any order: Dask's are unordered too).
#[track_caller]
fn assert_subgraph(
    graph: &Graph,
    key: &str,
    tasks: &[(&str, &str)],
    output: &str,
    inputs: &[&str],
) {
    let task = graph.get(&k(key)).unwrap();
    let subgraph = Subgraph::of(task).unwrap_or_else(|| panic!("{key} is {task}, not a subgraph"));
    let mut got: Vec<String> = subgraph
        .tasks()
        .iter()
        .map(|(k, _)| k.to_string())
        .collect();
    got.sort();
    let mut want: Vec<String> = tasks.iter().map(|(k, _)| k.to_string()).collect();
    want.sort();
    assert_eq!(got, want, "the tasks of {key}'s subgraph");
    for (name, text) in tasks {
        let (_, inner) = subgraph
            .tasks()
            .iter()
            .find(|(k, _)| k.name() == *name)
            .unwrap();
        assert!(
            inner.same_as(&t(text)),
            "{name}: expected {text}, got {inner}"
        );
    }
    assert_eq!(subgraph.output(), &k(output));
    let mut got: Vec<String> = subgraph.inputs().iter().map(Key::to_string).collect();
    got.sort();
    assert_eq!(got, inputs, "the inputs of {key}'s subgraph");
    // The task reads its inputs as arguments.
    let mut reads: Vec<String> = task.dependencies().iter().map(Key::to_string).collect();
    reads.sort();
    assert_eq!(reads, inputs);
}

fn dsk() -> Graph {
    crate::support::g(&[
        ("x-1", "1"),
        ("inc-1", "inc(x-1)"),
        ("inc-2", "inc(inc-1)"),
        ("add-1", "add(x-1, inc-2)"),
        ("inc-3", "inc(add-1)"),
        ("inc-4", "inc(inc-3)"),
        ("add-2", "add(add-1, inc-4)"),
        ("inc-5", "inc(add-2)"),
        ("inc-6", "inc(inc-5)"),
    ])
}

#[test]
fn test_fuse_subgraphs() {
    let dsk = dsk();
    let whole = [
        ("x-1", "1"),
        ("add-1", "add(x-1, inc(inc(x-1)))"),
        ("inc-6", "inc(inc(add(add-1, inc(inc(add-1)))))"),
    ];

    let res = fuse_subgraphs(&dsk, &["inc-6"], true);
    assert_eq!(keys_of(&res), ["add-inc-x-1", "inc-6"]);
    assert!(res.get(&k("inc-6")).unwrap().same_as(&t("add-inc-x-1")));
    assert_subgraph(&res, "add-inc-x-1", &whole, "inc-6", &[]);

    let res = fuse_subgraphs(&dsk, &["inc-6"], false);
    assert_eq!(keys_of(&res), ["inc-6"]);
    assert_subgraph(&res, "inc-6", &whole, "inc-6", &[]);

    let res = fuse_subgraphs(&dsk, &["add-2"], true);
    assert_eq!(keys_of(&res), ["add-2", "add-inc-x-1", "inc-6"]);
    assert_subgraph(
        &res,
        "add-inc-x-1",
        &[
            ("x-1", "1"),
            ("add-1", "add(x-1, inc(inc(x-1)))"),
            ("add-2", "add(add-1, inc(inc(add-1)))"),
        ],
        "add-2",
        &[],
    );
    assert!(res.get(&k("add-2")).unwrap().same_as(&t("add-inc-x-1")));
    assert!(res.get(&k("inc-6")).unwrap().same_as(&t("inc(inc(add-2))")));

    let res = fuse_subgraphs(&dsk, &["inc-2"], true);
    assert_eq!(keys_of(&res), ["inc-2", "inc-6", "inc-add-1", "x-1"]);
    assert!(res.get(&k("inc-2")).unwrap().same_as(&t("inc(inc(x-1))")));
    assert!(res.get(&k("inc-6")).unwrap().same_as(&t("inc-add-1")));
    assert_subgraph(
        &res,
        "inc-add-1",
        &[
            ("add-1", "add(x-1, inc-2)"),
            ("inc-6", "inc(inc(add(add-1, inc(inc(add-1)))))"),
        ],
        "inc-6",
        &["inc-2", "x-1"],
    );

    let res = fuse_subgraphs(&dsk, &["inc-2", "add-2"], true);
    assert_eq!(
        keys_of(&res),
        ["add-2", "inc-2", "inc-6", "inc-add-1", "x-1"]
    );
    assert!(res.get(&k("inc-2")).unwrap().same_as(&t("inc(inc(x-1))")));
    assert!(res.get(&k("add-2")).unwrap().same_as(&t("inc-add-1")));
    assert!(res.get(&k("inc-6")).unwrap().same_as(&t("inc(inc(add-2))")));
    assert_subgraph(
        &res,
        "inc-add-1",
        &[
            ("add-1", "add(x-1, inc-2)"),
            ("add-2", "add(add-1, inc(inc(add-1)))"),
        ],
        "add-2",
        &["inc-2", "x-1"],
    );
}

#[test]
fn test_fuse_subgraphs_linear_chains_of_duplicate_deps() {
    let dsk = crate::support::g(&[
        ("x-1", "1"),
        ("add-1", "add(x-1, x-1)"),
        ("add-2", "add(add-1, add-1)"),
        ("add-3", "add(add-2, add-2)"),
        ("add-4", "add(add-3, add-3)"),
        ("add-5", "add(add-4, add-4)"),
    ]);
    let res = fuse_subgraphs(&dsk, &["add-5"], true);
    assert_eq!(keys_of(&res), ["add-5", "add-x-1"]);
    assert!(res.get(&k("add-5")).unwrap().same_as(&t("add-x-1")));
    assert_subgraph(
        &res,
        "add-x-1",
        &[
            ("x-1", "1"),
            ("add-1", "add(x-1, x-1)"),
            ("add-2", "add(add-1, add-1)"),
            ("add-3", "add(add-2, add-2)"),
            ("add-4", "add(add-3, add-3)"),
            ("add-5", "add(add-4, add-4)"),
        ],
        "add-5",
        &[],
    );
}
