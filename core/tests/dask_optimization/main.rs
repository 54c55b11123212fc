//! Dask's `dask/tests/test_optimization.py` (dask/dask 817e5ff), ported:
//! one test per Dask test, under its name, on `cull`, `fuse`,
//! `fuse_linear`, `inline` and `inline_functions`. Graphs are written in
//! Dask's shape in a small notation (`support.rs`); every fused graph is
//! also run, and must compute what the original computes.
//!
//! Ported (17 of the file's 23 tests, and the 2 `fuse_subgraphs` tests of
//! the version before Dask removed subgraphs, ae3fc2ed2^):
//! `test_cull`, `test_fuse`, `test_fuse_keys`,
//! `test_donot_substitute_same_key_multiple_times`, `test_inline`,
//! `test_inline_functions`, `test_inline_ignores_curries_and_partials`,
//! `test_inline_doesnt_shrink_fast_functions_at_top`,
//! `test_inline_traverses_lists`, `test_inline_functions_protects_output_keys`,
//! `test_inline_cull_dependencies`, `test_fuse_reductions_single_input`,
//! `test_fuse_stressed`, `test_fuse_reductions_multiple_input`,
//! `test_dont_fuse_numpy_arrays`, `test_fuse_config`,
//! `test_fused_keys_max_length` (`reductions.rs` holds the three long
//! ones), `test_fuse_subgraphs` and
//! `test_fuse_subgraphs_linear_chains_of_duplicate_deps` (`subgraphs.rs`).
//!
//! Translations: a Dask task that is a list (`"d": ["a", "b"]`) is a call
//! of a `list` function here (a Barrow task is a literal, an alias or a
//! call); `cull` returns the graph, and its dependencies come from
//! `plan::Dependencies`; Dask's `with_deps(...)` comparison becomes
//! "validates and computes the same values". `cull`'s nested key lists
//! (`[["out"], ["z"]]`) have no counterpart: Barrow keys come flat.
//!
//! Left out, and why:
//! - `test_inline_functions_non_hashable`: about a Python callable whose
//!   `__hash__` raises; Barrow functions are told apart by name, never
//!   hashed.
//! - `test_functions_of`: tests the helper `functions_of`, not an
//!   optimization; Barrow has no such helper (a task's function is
//!   `Task::function_name`).
//! - `test_hybrid_legacy_new`, `test_fusion_legacy_hybrid`,
//!   `test_fusion_wide_legacy_hybrid`, `test_do_not_inline_legacy_hybrid`:
//!   about graphs mixing Dask's two task representations (tuples and
//!   `Task` objects); Barrow has one.
//! - From the older version: `test_SubgraphCallable`,
//!   `test_SubgraphCallable_with_numpy`, `test_SubgraphCallable_eq`: the
//!   equality, hashing and pickling of Dask's Python object; Barrow's
//!   subgraph is a function (`optimize::Subgraph`), run by the two
//!   `fuse_subgraphs` tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is a failed test"
)]

mod reductions;
mod subgraphs;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use barrow_config::Sandbox;
use barrow_core::arg::key;
use barrow_core::optimize::{FuseOptions, cull, fuse, fuse_with, inline, inline_functions};
use barrow_core::plan::Dependencies;
use barrow_core::{ErrorKind, Func, Graph, Key, Task, reference};

use support::{assert_computes_the_same, assert_same, fuse2, g, g_with, k, t};

fn keys(names: &[&str]) -> Vec<Key> {
    names.iter().map(|n| k(n)).collect()
}

#[test]
fn test_cull() {
    // 'out' depends on 'x' and 'y', but not 'z'
    let d = g(&[
        ("x", "1"),
        ("y", "inc(x)"),
        ("z", "inc(x)"),
        ("out", "add(y, 10)"),
    ]);
    let culled = cull(&d, &keys(&["out"])).unwrap();
    assert_same(
        &culled,
        &g(&[("x", "1"), ("y", "inc(x)"), ("out", "add(y, 10)")]),
    );
    let dependencies = Dependencies::of(&culled, None).unwrap();
    let mut listed: Vec<(String, Vec<String>)> = (0..dependencies.len() as u32)
        .map(|id| {
            let deps = dependencies.dependencies(id).iter();
            let deps = deps.map(|&d| dependencies.key(d).to_string()).collect();
            (dependencies.key(id).to_string(), deps)
        })
        .collect();
    listed.sort();
    let named = |k: &str, v: &[&str]| (k.to_owned(), v.iter().map(|s| s.to_string()).collect());
    assert_eq!(
        listed,
        [named("out", &["y"]), named("x", &[]), named("y", &["x"])]
    );
    assert_same(&cull(&d, &keys(&["out", "z"])).unwrap(), &d);
    let err = cull(&d, &keys(&["badkey"])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MissingKey);
}

#[test]
fn test_fuse() {
    let d = g(&[
        ("w", "inc(x)"),
        ("x", "inc(y)"),
        ("y", "inc(z)"),
        ("z", "add(a, b)"),
        ("a", "1"),
        ("b", "2"),
    ]);
    fuse2(
        &d,
        None,
        false,
        &g(&[("w", "inc(inc(inc(add(a, b))))"), ("a", "1"), ("b", "2")]),
    );
    fuse2(
        &d,
        None,
        true,
        &g(&[
            ("z-y-x-w", "inc(inc(inc(add(a, b))))"),
            ("a", "1"),
            ("b", "2"),
            ("w", "z-y-x-w"),
        ]),
    );

    let d = g(&[
        ("NEW", "inc(y)"),
        ("w", "inc(x)"),
        ("x", "inc(y)"),
        ("y", "inc(z)"),
        ("z", "add(a, b)"),
        ("a", "1"),
        ("b", "2"),
    ]);
    fuse2(
        &d,
        None,
        false,
        &g(&[
            ("NEW", "inc(y)"),
            ("w", "inc(inc(y))"),
            ("y", "inc(add(a, b))"),
            ("a", "1"),
            ("b", "2"),
        ]),
    );
    fuse2(
        &d,
        None,
        true,
        &g(&[
            ("NEW", "inc(z-y)"),
            ("x-w", "inc(inc(z-y))"),
            ("z-y", "inc(add(a, b))"),
            ("a", "1"),
            ("b", "2"),
            ("w", "x-w"),
            ("y", "z-y"),
        ]),
    );

    let d = g(&[
        ("v", "inc(y)"),
        ("u", "inc(w)"),
        ("w", "inc(x)"),
        ("x", "inc(y)"),
        ("y", "inc(z)"),
        ("z", "add(a, b)"),
        ("a", "inc(c)"),
        ("b", "inc(d)"),
        ("c", "1"),
        ("d", "2"),
    ]);
    fuse2(
        &d,
        None,
        false,
        &g(&[
            ("u", "inc(inc(inc(y)))"),
            ("v", "inc(y)"),
            ("y", "inc(add(a, b))"),
            ("a", "inc(1)"),
            ("b", "inc(2)"),
        ]),
    );
    fuse2(
        &d,
        None,
        true,
        &g(&[
            ("x-w-u", "inc(inc(inc(z-y)))"),
            ("v", "inc(z-y)"),
            ("z-y", "inc(add(c-a, d-b))"),
            ("c-a", "inc(1)"),
            ("d-b", "inc(2)"),
            ("a", "c-a"),
            ("b", "d-b"),
            ("u", "x-w-u"),
            ("y", "z-y"),
        ]),
    );

    let d = g(&[
        ("a", "inc(x)"),
        ("b", "inc(x)"),
        ("c", "inc(x)"),
        ("d", "inc(c)"),
        ("x", "inc(y)"),
        ("y", "0"),
    ]);
    fuse2(
        &d,
        None,
        false,
        &g(&[
            ("a", "inc(x)"),
            ("b", "inc(x)"),
            ("d", "inc(inc(x))"),
            ("x", "inc(0)"),
        ]),
    );
    fuse2(
        &d,
        None,
        true,
        &g(&[
            ("a", "inc(y-x)"),
            ("b", "inc(y-x)"),
            ("c-d", "inc(inc(y-x))"),
            ("y-x", "inc(0)"),
            ("d", "c-d"),
            ("x", "y-x"),
        ]),
    );

    let d = g(&[("a", "1"), ("b", "inc(a)"), ("c", "add(b, b)")]);
    fuse2(&d, None, false, &g(&[("b", "inc(1)"), ("c", "add(b, b)")]));
    fuse2(
        &d,
        None,
        true,
        &g(&[("a-b", "inc(1)"), ("c", "add(a-b, a-b)"), ("b", "a-b")]),
    );
}

#[test]
fn test_fuse_keys() {
    let d = g(&[("a", "1"), ("b", "inc(a)"), ("c", "inc(b)")]);
    fuse2(
        &d,
        Some(&["b"]),
        false,
        &g(&[("b", "inc(1)"), ("c", "inc(b)")]),
    );
    fuse2(
        &d,
        Some(&["b"]),
        true,
        &g(&[("a-b", "inc(1)"), ("c", "inc(a-b)"), ("b", "a-b")]),
    );

    let d = g(&[
        ("w", "inc(x)"),
        ("x", "inc(y)"),
        ("y", "inc(z)"),
        ("z", "add(a, b)"),
        ("a", "1"),
        ("b", "2"),
    ]);
    let protected = ["x", "z"];
    fuse2(
        &d,
        Some(&protected),
        false,
        &g(&[
            ("w", "inc(x)"),
            ("x", "inc(inc(z))"),
            ("z", "add(a, b)"),
            ("a", "1"),
            ("b", "2"),
        ]),
    );
    fuse2(
        &d,
        Some(&protected),
        true,
        &g(&[
            ("w", "inc(y-x)"),
            ("y-x", "inc(inc(z))"),
            ("z", "add(a, b)"),
            ("a", "1"),
            ("b", "2"),
            ("x", "y-x"),
        ]),
    );
}

#[test]
fn test_donot_substitute_same_key_multiple_times() {
    // The topology of Z.T @ Z after blockwise fusion (dask/dask#10645): B
    // is read twice by C, so substituting it would compute it twice.
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let inc_only_once = Func::try_new("inc_only_once", move |x: &i64| {
        if counted.fetch_add(1, Ordering::SeqCst) > 0 {
            Err("called twice")
        } else {
            Ok(x + 1)
        }
    });
    let dsk = g_with(
        &[
            ("A", "42"),
            ("B", "inc_only_once(A)"),
            ("C", "add(B, B)"),
            ("D", "inc(C)"),
        ],
        &[("inc_only_once", inc_only_once)],
    );
    // Precomputed dependencies, as Dask's test passes them.
    let dependencies = Dependencies::of(&dsk, None).unwrap();
    let fused = fuse_with(&dependencies, &keys(&["A", "D"]), &FuseOptions::new()).unwrap();
    let d = reference::get(&fused, &keys(&["D"])).unwrap();
    assert!(*d[0].downcast_ref::<i64>().unwrap() > 1);
    assert_eq!(*d[0].downcast_ref::<i64>().unwrap(), 87);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn test_inline() {
    let d = g(&[
        ("a", "1"),
        ("b", "inc(a)"),
        ("c", "inc(b)"),
        ("d", "add(a, c)"),
    ]);
    assert_same(
        &inline(&d, &[], true).unwrap(),
        &g(&[
            ("a", "1"),
            ("b", "inc(1)"),
            ("c", "inc(b)"),
            ("d", "add(1, c)"),
        ]),
    );
    assert_same(
        &inline(&d, &keys(&["a", "b", "c"]), true).unwrap(),
        &g(&[
            ("a", "1"),
            ("b", "inc(1)"),
            ("c", "inc(inc(1))"),
            ("d", "add(1, inc(inc(1)))"),
        ]),
    );
    let d = g(&[("x", "1"), ("y", "inc(x)"), ("z", "add(x, y)")]);
    assert_same(
        &inline(&d, &[], true).unwrap(),
        &g(&[("x", "1"), ("y", "inc(1)"), ("z", "add(1, y)")]),
    );
    assert_same(
        &inline(&d, &keys(&["y"]), true).unwrap(),
        &g(&[("x", "1"), ("y", "inc(1)"), ("z", "add(1, inc(1))")]),
    );
    assert_same(
        &inline(&d, &keys(&["y"]), false).unwrap(),
        &g(&[("x", "1"), ("y", "inc(x)"), ("z", "add(x, inc(x))")]),
    );

    let d = g(&[
        ("a", "1"),
        ("b", "a"),
        ("c", "b"),
        ("d", "[a, b, c]"),
        ("e", "add(len(d), a)"),
    ]);
    assert_same(
        &inline(&d, &keys(&["d"]), true).unwrap(),
        &g(&[
            ("a", "1"),
            ("b", "1"),
            ("c", "1"),
            ("d", "[1, 1, 1]"),
            ("e", "add(len(list([1, 1, 1])), 1)"),
        ]),
    );
    assert_same(
        &inline(&d, &keys(&["a"]), false).unwrap(),
        &g(&[
            ("a", "1"),
            ("b", "1"),
            ("c", "b"),
            ("d", "[1, b, c]"),
            ("e", "add(len(d), 1)"),
        ]),
    );
}

#[test]
fn test_inline_functions() {
    let dsk = g(&[
        ("out", "add(i, d)"),
        ("i", "inc(x)"),
        ("d", "double(y)"),
        ("x", "1"),
        ("y", "1"),
    ]);
    let result = inline_functions(&dsk, &[], &["inc"]).unwrap();
    assert_same(
        &result,
        &g(&[
            ("out", "add(inc(x), d)"),
            ("d", "double(y)"),
            ("x", "1"),
            ("y", "1"),
        ]),
    );
}

#[test]
fn test_inline_ignores_curries_and_partials() {
    let add_one = Func::partial("add", 1i64, |by: &i64, x: &i64| x + by).unwrap();
    let dsk = Graph::from_tasks([
        ("x", Task::literal(1i64)),
        ("y", Task::literal(2i64)),
        ("a", Task::call(&add_one, [key("x")])),
        ("b", t("inc(a)")),
    ])
    .unwrap();
    let result = inline_functions(&dsk, &[], &["add"]).unwrap();
    let expected = Task::call(
        &support::func("inc"),
        [barrow_core::arg::call(&add_one, [key("x")])],
    );
    assert!(result.get(&k("b")).unwrap().same_as(&expected));
    assert!(!result.contains_key(&k("a")));
}

#[test]
fn test_inline_doesnt_shrink_fast_functions_at_top() {
    let dsk = g(&[("x", "inc(y)"), ("y", "1")]);
    let result = inline_functions(&dsk, &[], &["inc"]).unwrap();
    assert_same(&result, &dsk);
}

#[test]
fn test_inline_traverses_lists() {
    let dsk = g(&[
        ("out", "sum([i, d])"),
        ("i", "inc(x)"),
        ("d", "double(y)"),
        ("x", "1"),
        ("y", "1"),
    ]);
    let expected = g(&[
        ("out", "sum([inc(x), d])"),
        ("d", "double(y)"),
        ("x", "1"),
        ("y", "1"),
    ]);
    assert_same(&inline_functions(&dsk, &[], &["inc"]).unwrap(), &expected);
}

#[test]
fn test_inline_functions_protects_output_keys() {
    let dsk = g(&[("x", "inc(1)"), ("y", "double(x)")]);
    assert_same(
        &inline_functions(&dsk, &[], &["inc"]).unwrap(),
        &g(&[("y", "double(inc(1))")]),
    );
    assert_same(
        &inline_functions(&dsk, &keys(&["x"]), &["inc"]).unwrap(),
        &g(&[("y", "double(x)"), ("x", "inc(1)")]),
    );
}

#[test]
fn test_inline_cull_dependencies() {
    let d = g(&[
        ("a", "1"),
        ("b", "a"),
        ("c", "b"),
        ("d", "[a, b, c]"),
        ("e", "add(len(d), a)"),
    ]);
    let d2 = cull(&d, &keys(&["d", "e"])).unwrap();
    let inlined = inline(&d2, &keys(&["b"]), true).unwrap();
    assert_computes_the_same(&d, &inlined);
}

#[test]
fn test_dont_fuse_numpy_arrays() {
    // Some types stay in the graph bare: this helps with serialization.
    let array = Graph::from_tasks([
        ("x", Task::literal(vec![0.0f64, 1.0, 2.0, 3.0, 4.0])),
        ("y", t("inc(x)")),
    ])
    .unwrap();
    let fused = fuse(&array, &keys(&["y"]), &FuseOptions::new()).unwrap();
    assert_same(&fused, &array);
    // A number is fused into its reader.
    let number = g(&[("x", "5"), ("y", "inc(x)")]);
    let fused = fuse(&number, &keys(&["y"]), &FuseOptions::new()).unwrap();
    assert_same(&fused, &g(&[("y", "inc(5)")]));
}

#[test]
fn test_fuse_config() {
    let sandbox = Sandbox::new().unwrap();
    let config = sandbox
        .config()
        .snapshot()
        .unwrap()
        .with_options([("optimization.fuse.active", false)])
        .unwrap();
    let d = g(&[("a", "1"), ("b", "inc(a)")]);
    let options = FuseOptions::from_config(&config).unwrap();
    let fused = fuse(&d, &keys(&["b"]), &options).unwrap();
    assert_same(&fused, &d);
    assert!(Arc::ptr_eq(&fused.layers()[0], &d.layers()[0]));
    // The defaults do fuse it.
    let defaults = FuseOptions::from_config(&sandbox.config().snapshot().unwrap()).unwrap();
    assert_eq!(fuse(&d, &keys(&["b"]), &defaults).unwrap().len(), 1);
}

#[test]
fn test_fused_keys_max_length() {
    // A generic fix for dask/dask#5999.
    let long = |c: char| {
        format!(
            "{c}-looooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooong"
        )
    };
    let [u, v, w, x, y, z] = ['u', 'v', 'w', 'x', 'y', 'z'].map(long);
    let d = g(&[
        (&u, &format!("inc({v})")),
        (&v, &format!("inc({w})")),
        (&w, &format!("inc({x})")),
        (&x, &format!("inc({y})")),
        (&y, &format!("inc({z})")),
        (&z, "add(a, b)"),
        ("a", "1"),
        ("b", "2"),
    ]);
    let fused = fuse(&d, &[], &FuseOptions::new().rename_keys(true)).unwrap();
    for key in fused.keys() {
        assert!(key.name().len() < 150, "{key}");
    }
    // The fused chain was renamed, and its name cut at 120 characters.
    let renamed: Vec<&Key> = fused.keys().filter(|k| !d.contains_key(k)).collect();
    assert_eq!(renamed.len(), 1, "{fused:?}");
    assert_eq!(renamed[0].name().chars().count(), 120);
    assert_computes_the_same(&d, &fused);
}
