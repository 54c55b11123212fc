//! Dask's `dask/tests/test_config.py`, ported: one test per Dask test, named
//! after it, checking that Barrow's configuration behaves as `dask.config`
//! does where the idea translates. Ported from dask/dask at 817e5ffc12.
//!
//! How Dask's pieces map onto Barrow's: a dict passed as `config=` is a
//! [`Sandbox`]'s configuration; `collect_yaml(paths)` is files named by
//! `BARROW_CONFIG`; `collect_env(env)` is the sandbox's explicit
//! environment; `update(old, new)` is a higher layer over a lower one;
//! `dask.config.set` is [`barrow_config::scoped`]; `dask.config.get` is
//! [`Snapshot::get_value`]. Where Barrow differs on purpose, the test says
//! so: keys are always normalized to their `-` form (Dask keeps the first
//! spelling it saw), also inside nested values.
//!
//! 32 of Dask's 48 tests are ported. Left out, and why:
//!
//! - `test_update_defaults`: two packages declaring the same key with
//!   different defaults, stacked. Barrow refuses a second declaration of a
//!   key (`register_namespace` reports the conflict), so defaults never
//!   stack; what remains (new defaults apply only where no layer set the
//!   key) is `test_update_new_defaults`.
//! - `test_ensure_file`, `test_ensure_file_directory`,
//!   `test_ensure_file_defaults_to_DASK_CONFIG_directory`: Barrow writes no
//!   copy of its defaults into the user's folder; they are embedded, and
//!   `barrow config list` shows them.
//! - `test_set_hard_to_copyables`: a configuration value is data
//!   ([`Value`]), never an arbitrary object such as a lock, so there is
//!   nothing hard to copy.
//! - `test_expand_environment_variables`: Barrow does not expand
//!   `$VARIABLES` inside values.
//! - `test_schema_is_complete`: one file declares each key's type, doc and
//!   default together, so there are no two files to keep in sync.
//! - `test_rename` and the six `test_deprecations_*` tests: Barrow has no
//!   renamed or deleted keys yet, and so no deprecation map.
//! - `test_config_serialization`, `test_config_inheritance`: barrow-config
//!   has no serialized form of a whole configuration handed to child
//!   processes (Dask's `DASK_INTERNAL_INHERIT_CONFIG`).
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::path::Path;

use barrow_config::{Config, ErrorKind, Layer, Sandbox, Sources, Value, canonical_key};
use support::{folder, map, pairs, run_child, tree, yaml};

/// Dask's two small configurations, `a` and `b`, and their merge.
fn a() -> Value {
    map(&[("x", 1.into()), ("y", map(&[("a", 1.into())]))])
}

fn b() -> Value {
    map(&[
        ("x", 2.into()),
        ("z", 3.into()),
        ("y", map(&[("b", 2.into())])),
    ])
}

fn a_then_b() -> Value {
    map(&[
        ("x", 2.into()),
        ("y", map(&[("a", 1.into()), ("b", 2.into())])),
        ("z", 3.into()),
    ])
}

/// A sandbox whose `BARROW_CONFIG` names `paths` (files or folders).
fn named(sandbox: &mut Sandbox, paths: &[&Path]) {
    let joined = std::env::join_paths(paths).unwrap();
    sandbox.set_env("BARROW_CONFIG", joined.to_str().unwrap());
}

#[test]
fn test_canonical_name() {
    // Dask keeps the spelling a config already has; Barrow has one
    // spelling for every key, with `-`, and both spellings find it.
    assert_eq!(canonical_key("foo-bar"), "foo-bar");
    assert_eq!(canonical_key("foo_bar"), "foo-bar");
    assert_eq!(canonical_key("new_key"), "new-key");
    let sandbox = Sandbox::new().unwrap();
    sandbox
        .user_file("c.yaml", "foo-bar: 1\nfizz_buzz: 2\n")
        .unwrap();
    let snapshot = sandbox.config().snapshot().unwrap();
    for key in ["foo-bar", "foo_bar"] {
        assert_eq!(snapshot.get_value(key), Some(1.into()), "{key}");
    }
    for key in ["fizz-buzz", "fizz_buzz"] {
        assert_eq!(snapshot.get_value(key), Some(2.into()), "{key}");
    }
    assert_eq!(snapshot.get_value("new_key"), None);
}

#[test]
fn test_update() {
    // update(b, a): a is the higher layer; mappings merge key by key.
    let sandbox = Sandbox::new().unwrap();
    sandbox.system_file("b.yaml", &yaml(&b())).unwrap();
    sandbox.user_file("a.yaml", &yaml(&a())).unwrap();
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(
        tree(&snapshot, &["x", "y", "z"]),
        map(&[
            ("x", 1.into()),
            ("y", map(&[("a", 1.into()), ("b", 2.into())])),
            ("z", 3.into()),
        ])
    );

    // priority="old": what is there already wins, i.e. it is the higher
    // layer.
    let sandbox = Sandbox::new().unwrap();
    let old = map(&[
        ("x", 2.into()),
        ("z", 3.into()),
        ("y", map(&[("a", 3.into()), ("b", 2.into())])),
    ]);
    sandbox.system_file("a.yaml", &yaml(&a())).unwrap();
    sandbox.user_file("b.yaml", &yaml(&old)).unwrap();
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(tree(&snapshot, &["x", "y", "z"]), old);
}

#[test]
fn test_update_new_defaults() {
    // A library declares new defaults after the user's files were read:
    // keys the user set keep the user's values, the others take the new
    // defaults (Dask's priority="new-defaults").
    let sandbox = Sandbox::new().unwrap();
    sandbox
        .user_file(
            "mine.yaml",
            "dask-new-defaults: {y: 2, z: {b: 2}, c: 2, c2: {d: 2}}\n",
        )
        .unwrap();
    let config = sandbox.config();
    let before = config.snapshot().unwrap();
    assert_eq!(before.get_value("dask-new-defaults.x"), None);
    let declare = |key: &str| {
        format!("{key}:\n  doc: A key of the port of Dask's test.\n  type: integer\n  default: 3\n")
    };
    let declarations: String = ["x", "y", "z.a", "z.b", "c", "c2.d"]
        .iter()
        .map(|k| declare(k))
        .collect();
    barrow_config::register_namespace("dask-new-defaults", &declarations).unwrap();
    let after = config.snapshot().unwrap();
    assert_eq!(
        after.get_value("dask-new-defaults"),
        Some(map(&[
            ("x", 3.into()),
            ("y", 2.into()),
            ("z", map(&[("a", 3.into()), ("b", 2.into())])),
            ("c", 2.into()),
            ("c2", map(&[("d", 2.into())])),
        ]))
    );
    assert_eq!(after.get::<i64>("dask-new-defaults.z.a").unwrap(), Some(3));
}

#[test]
fn test_update_list_to_dict() {
    let sandbox = Sandbox::new().unwrap();
    sandbox.system_file("b.yaml", "x: [1, 2]\nw: 3\n").unwrap();
    sandbox.user_file("a.yaml", "x: {y: 1, z: 2}\n").unwrap();
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(
        tree(&snapshot, &["x", "w"]),
        map(&[
            ("x", map(&[("y", 1.into()), ("z", 2.into())])),
            ("w", 3.into()),
        ])
    );
}

#[test]
fn test_update_dict_to_list() {
    let sandbox = Sandbox::new().unwrap();
    sandbox
        .system_file("b.yaml", "x: {y: 1, z: 2}\nw: 3\n")
        .unwrap();
    sandbox.user_file("a.yaml", "x: [1, 2]\n").unwrap();
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(
        tree(&snapshot, &["x", "w"]),
        map(&[("x", Value::from(vec![1, 2])), ("w", 3.into())])
    );
    assert_eq!(
        snapshot.get_value("x.y"),
        None,
        "the mapping is replaced whole"
    );
}

#[test]
fn test_merge() {
    // merge(a, b) in code: a global override, then a scoped one.
    let config = Sandbox::new().unwrap().config();
    for (key, value) in pairs(a()) {
        config.set_global(&key, value).unwrap();
    }
    let _b = barrow_config::scoped(pairs(b())).unwrap();
    let snapshot = config.snapshot().unwrap();
    assert_eq!(tree(&snapshot, &["x", "y", "z"]), a_then_b());
}

#[test]
fn test_collect_yaml_paths() {
    let mut sandbox = Sandbox::new().unwrap();
    let pa = sandbox.write("a.yaml", &yaml(&a())).unwrap();
    let pb = sandbox.write("b.yaml", &yaml(&b())).unwrap();
    named(&mut sandbox, &[&pa, &pb]);
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(tree(&snapshot, &["x", "y", "z"]), a_then_b());
    // `return_paths`: each value knows its file.
    let origin = |key: &str| {
        snapshot
            .leaves()
            .find(|(k, _)| *k == key)
            .map(|(_, entry)| entry.origin().path().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(origin("y.a"), pa);
    assert_eq!(origin("x"), pb);
    assert_eq!(origin("z"), pb);
}

#[test]
fn test_paths_containing_key() {
    let mut sandbox = Sandbox::new().unwrap();
    let pa = sandbox.write("a.yaml", &yaml(&a())).unwrap();
    let pb = sandbox.write("b.yaml", &yaml(&b())).unwrap();
    named(&mut sandbox, &[&pa, &pb]);
    let snapshot = sandbox.config().snapshot().unwrap();
    let paths = |key: &str| -> Vec<std::path::PathBuf> {
        snapshot
            .unknown_keys()
            .filter(|(k, _)| *k == key)
            .flat_map(|(_, entries)| entries.iter().filter_map(|e| e.origin().path()))
            .map(Path::to_owned)
            .collect()
    };
    assert_eq!(paths("y.a"), [pa]);
    assert_eq!(paths("w"), Vec::<std::path::PathBuf>::new());
    // No files: nothing contains anything.
    let empty = Sandbox::new().unwrap().config().snapshot().unwrap();
    assert_eq!(empty.unknown_keys().count(), 0);
}

#[test]
fn test_collect_yaml_dir() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.write("conf/a.yaml", &yaml(&a())).unwrap();
    sandbox.write("conf/b.yaml", &yaml(&b())).unwrap();
    let dir = sandbox.root().join("conf");
    named(&mut sandbox, &[&dir]);
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(tree(&snapshot, &["x", "y", "z"]), a_then_b());
}

/// Makes `path` unreadable: permission bits where they bind; where they
/// do not (root), a file put where a folder is expected or a folder where
/// a file is, which cannot be read either.
#[cfg(unix)]
fn make_unreadable(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).unwrap().permissions().mode();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & !0o444)).unwrap();
    let still_readable = if path.is_dir() {
        std::fs::read_dir(path).is_ok()
    } else {
        std::fs::read(path).is_ok()
    };
    if still_readable {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        if path.is_dir() {
            std::fs::remove_dir_all(path).unwrap();
            std::fs::write(path, "a file where the folder was").unwrap();
        } else {
            std::fs::remove_file(path).unwrap();
            std::fs::create_dir(path).unwrap();
        }
    }
}

#[cfg(unix)]
#[test]
fn test_collect_yaml_permission_errors() {
    for kind in ["directory", "file"] {
        // The system folder: a folder Barrow lists, whatever is there.
        let sandbox = Sandbox::new().unwrap();
        let pa = sandbox.system_file("a.yaml", "x: 1\ny: 2\n").unwrap();
        sandbox.system_file("b.yaml", "y: 3\nz: 4\n").unwrap();
        let (cant_read, expected) = match kind {
            "directory" => (sandbox.system_dir(), map(&[])),
            _ => (pa, map(&[("y", 3.into()), ("z", 4.into())])),
        };
        make_unreadable(&cant_read);
        let snapshot = sandbox.config().snapshot().unwrap();
        assert_eq!(tree(&snapshot, &["x", "y", "z"]), expected, "{kind}");
        assert!(
            snapshot
                .warnings()
                .iter()
                .any(|w| w.path() == Some(cant_read.as_path())),
            "{kind}: a warning names it: {:?}",
            snapshot.warnings()
        );
        use std::os::unix::fs::PermissionsExt as _;
        let _ = std::fs::set_permissions(&cant_read, std::fs::Permissions::from_mode(0o755));
    }
}

#[test]
fn test_collect_yaml_malformed_file() {
    let mut sandbox = Sandbox::new().unwrap();
    let path = sandbox.write("conf/a.yaml", "{").unwrap();
    let dir = sandbox.root().join("conf");
    named(&mut sandbox, &[&dir]);
    let err = sandbox.config().snapshot().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Syntax);
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.contains("malformed configuration file"),
        "{message}"
    );
    // The parser's own words follow the position.
    assert!(message.contains(", line 2 column 1: "), "{message}");
}

#[test]
fn test_collect_yaml_no_top_level_dict() {
    let mut sandbox = Sandbox::new().unwrap();
    let path = sandbox.write("conf/a.yaml", "[1234]").unwrap();
    let dir = sandbox.root().join("conf");
    named(&mut sandbox, &[&dir]);
    let err = sandbox.config().snapshot().unwrap_err();
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.contains("malformed configuration file"),
        "{message}"
    );
    assert!(
        message.contains("the top level must be a mapping"),
        "{message}"
    );
}

#[test]
fn test_env() {
    let mut sandbox = Sandbox::new().unwrap();
    for (name, value) in [
        ("BARROW_A_B", "123"),
        ("BARROW_C", "True"),
        ("BARROW_D", "hello"),
        ("BARROW_E__X", "123"),
        ("BARROW_E__Y", "456"),
        ("BARROW_F", "[1, 2, \"3\"]"),
        ("BARROW_G", "/not/parsable/as/literal"),
        ("FOO", "not included"),
    ] {
        sandbox.set_env(name, value);
    }
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(
        tree(&snapshot, &["a-b", "c", "d", "e", "f", "g", "foo"]),
        map(&[
            ("a-b", 123.into()),
            ("c", true.into()),
            ("d", "hello".into()),
            ("e", map(&[("x", 123.into()), ("y", 456.into())])),
            ("f", Value::List(vec![1.into(), 2.into(), "3".into()])),
            ("g", "/not/parsable/as/literal".into()),
        ])
    );
}

#[test]
fn test_env_special_values() {
    let cases = [
        ("None", Value::Null),
        ("Null", Value::Null),
        ("False", Value::Bool(false)),
        ("True", Value::Bool(true)),
    ];
    for (raw, expected) in cases {
        for spelling in [raw.to_owned(), raw.to_lowercase(), raw.to_uppercase()] {
            let mut sandbox = Sandbox::new().unwrap();
            sandbox.set_env("BARROW_A", &spelling);
            let snapshot = sandbox.config().snapshot().unwrap();
            assert_eq!(
                snapshot.get_value("a"),
                Some(expected.clone()),
                "{spelling}"
            );
        }
    }
}

#[test]
fn test_collect() {
    let mut sandbox = Sandbox::new().unwrap();
    let pa = sandbox.write("a.yaml", &yaml(&a())).unwrap();
    let pb = sandbox.write("b.yaml", &yaml(&b())).unwrap();
    named(&mut sandbox, &[&pa, &pb]);
    sandbox.set_env("BARROW_W", "4");
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(
        tree(&snapshot, &["w", "x", "y", "z"]),
        map(&[
            ("w", 4.into()),
            ("x", 2.into()),
            ("y", map(&[("a", 1.into()), ("b", 2.into())])),
            ("z", 3.into()),
        ])
    );
}

/// Set in the children of the tests that read the process's own
/// environment.
const CHILD: &str = "DASK_CONFIG_PORT_CHILD";

#[test]
fn test_collect_env_none() {
    // With no environment given, the process's own is read (in a child
    // process, whose environment this test sets).
    if std::env::var_os(CHILD).is_some() {
        let snapshot = barrow_config::snapshot().unwrap();
        assert_eq!(snapshot.get_value("foo"), Some("bar".into()));
        println!("child saw foo");
        return;
    }
    let home = folder("dask-collect-env-none");
    let out = run_child(
        "test_collect_env_none",
        CHILD,
        &[
            ("BARROW_FOO", "bar"),
            ("HOME", home.to_str().unwrap()),
            ("BARROW_ROOT_CONFIG", home.to_str().unwrap()),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("child saw foo"));
}

#[test]
fn test_get() {
    let sandbox = Sandbox::new().unwrap();
    sandbox.user_file("d.yaml", "x: 1\ny: {a: 2}\n").unwrap();
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(snapshot.get_value("x"), Some(1.into()));
    assert_eq!(snapshot.get_value("y.a"), Some(2.into()));
    // A default for a missing key; missing is None (Dask: KeyError).
    assert_eq!(snapshot.get_value("y.b").unwrap_or(123.into()), 123.into());
    assert_eq!(snapshot.get_value("y.b"), None);
    assert_eq!(snapshot.get::<i64>("y.b").unwrap(), None);
}

#[test]
fn test_set() {
    let config = Sandbox::new().unwrap().config();
    let abc = || config.snapshot().unwrap().get_value("abc");
    {
        let _outer = barrow_config::scoped([("abc", 123)]).unwrap();
        assert_eq!(abc(), Some(123.into()));
        {
            let _inner = barrow_config::scoped([("abc", 456)]).unwrap();
            assert_eq!(abc(), Some(456.into()));
        }
        assert_eq!(abc(), Some(123.into()));
    }
    assert_eq!(abc(), None);

    {
        let _dotted = barrow_config::scoped([("abc.x", 1), ("abc.y", 2), ("abc.z.a", 3)]).unwrap();
        assert_eq!(
            abc(),
            Some(map(&[
                ("x", 1.into()),
                ("y", 2.into()),
                ("z", map(&[("a", 3.into())])),
            ]))
        );
    }
    assert_eq!(abc(), None);

    // Setting into a given configuration (Dask's `config=d`).
    let d = Sandbox::new().unwrap().config();
    d.set_global("abc.x", 123).unwrap();
    assert_eq!(d.snapshot().unwrap().get_value("abc.x"), Some(123.into()));
    assert_eq!(abc(), None, "not into the other one");

    // Dask respects a key's earlier hyphenation; Barrow stores every key
    // with `-`, and either spelling reads it.
    let d = Sandbox::new().unwrap().config();
    d.set_global("e_f", 0).unwrap();
    d.set_global("g-h", 1).unwrap();
    for (key, value) in [("a_b", 2), ("c-d", 3), ("e-f", 4), ("g_h", 5)] {
        d.set_global(key, value).unwrap();
    }
    let snapshot = d.snapshot().unwrap();
    assert_eq!(
        tree(&snapshot, &["a-b", "c-d", "e-f", "g-h"]),
        map(&[
            ("a-b", 2.into()),
            ("c-d", 3.into()),
            ("e-f", 4.into()),
            ("g-h", 5.into()),
        ])
    );
    assert_eq!(snapshot.get_value("e_f"), Some(4.into()));
}

#[test]
fn test_set_kwargs() {
    // Rust has no keyword arguments (`foo__bar=1`); their point, that
    // later settings beat earlier ones key by key, holds for pairs.
    let config = Sandbox::new().unwrap().config();
    let foo = || config.snapshot().unwrap().get_value("foo");
    let expected = map(&[("bar", 4.into()), ("baz", 2.into()), ("buzz", 3.into())]);
    {
        let _guard = barrow_config::scoped([("foo.bar", 1), ("foo.baz", 2)]).unwrap();
        assert_eq!(foo(), Some(map(&[("bar", 1.into()), ("baz", 2.into())])));
    }
    assert_eq!(foo(), None);
    {
        let _guard = barrow_config::scoped([
            ("foo.bar", 1),
            ("foo.baz", 2),
            ("foo.buzz", 3),
            ("foo.bar", 4),
        ])
        .unwrap();
        assert_eq!(foo(), Some(expected.clone()));
    }
    assert_eq!(foo(), None);
    {
        let nested = map(&[("bar", 1.into()), ("baz", 2.into())]);
        let _guard = barrow_config::scoped([
            ("foo", nested),
            ("foo.buzz", 3.into()),
            ("foo.bar", 4.into()),
        ])
        .unwrap();
        assert_eq!(foo(), Some(expected));
    }
    assert_eq!(foo(), None);
}

#[test]
fn test_set_nested() {
    let config = Sandbox::new().unwrap().config();
    let abc = || config.snapshot().unwrap().get_value("abc");
    {
        let _outer = barrow_config::scoped([("abc", map(&[("x", 123.into())]))]).unwrap();
        assert_eq!(abc(), Some(map(&[("x", 123.into())])));
        {
            let _inner = barrow_config::scoped([("abc.y", 456)]).unwrap();
            assert_eq!(abc(), Some(map(&[("x", 123.into()), ("y", 456.into())])));
        }
        assert_eq!(abc(), Some(map(&[("x", 123.into())])));
    }
    assert_eq!(abc(), None);
}

#[test]
fn test_pop() {
    let config = Sandbox::new().unwrap().config();
    config
        .set_global("foo", map(&[("ba-r", 1.into()), ("baz", 2.into())]))
        .unwrap();
    config.set_global("asd", 3).unwrap();
    // Dask's `pop` returns the value and removes it; read, then remove.
    assert!(
        !config.remove_global("x"),
        "nothing to pop (Dask: KeyError)"
    );
    let snapshot = config.snapshot().unwrap();
    assert_eq!(snapshot.get_value("x").unwrap_or(4.into()), 4.into());
    assert_eq!(snapshot.get_value("foo.ba_r"), Some(1.into()));
    assert!(config.remove_global("foo.ba_r"));
    assert_eq!(snapshot.get_value("asd"), Some(3.into()));
    assert!(config.remove_global("asd"));
    let after = config.snapshot().unwrap();
    assert_eq!(
        tree(&after, &["foo", "asd"]),
        map(&[("foo", map(&[("baz", 2.into())]))])
    );
}

#[test]
fn test_refresh() {
    barrow_config::register_namespace(
        "dask-refresh",
        "a:\n  doc: A default of the port of Dask's test_refresh.\n  type: integer\n  default: 1\n",
    )
    .unwrap();
    let mut sandbox = Sandbox::new().unwrap();
    let config = sandbox.config();
    let seen = |config: &Config| tree(&config.snapshot().unwrap(), &["dask-refresh", "b", "c"]);
    assert_eq!(
        seen(&config),
        map(&[("dask-refresh", map(&[("a", 1.into())]))])
    );

    sandbox.set_env("BARROW_B", "2");
    config.refresh().unwrap();
    assert_eq!(
        seen(&config),
        map(&[("dask-refresh", map(&[("a", 1.into())])), ("b", 2.into())])
    );

    // The environment is replaced, not added to.
    sandbox.remove_env("BARROW_B").set_env("BARROW_C", "3");
    config.refresh().unwrap();
    assert_eq!(
        seen(&config),
        map(&[("dask-refresh", map(&[("a", 1.into())])), ("c", 3.into())])
    );
}

#[test]
fn test_env_var_canonical_name() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.set_env("BARROW_A_B", "3");
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(snapshot.get_value("a_b"), Some(3.into()));
    assert_eq!(snapshot.get_value("a-b"), Some(3.into()));
}

#[test]
fn test_get_set_canonical_name() {
    let sandbox = Sandbox::new().unwrap();
    sandbox.user_file("c.yaml", "x-y: {a_b: 123}\n").unwrap();
    let config = sandbox.config();
    let keys = ["x_y.a_b", "x-y.a-b", "x_y.a-b"];
    let snapshot = config.snapshot().unwrap();
    for key in keys {
        assert_eq!(snapshot.get_value(key), Some(123.into()), "{key}");
    }
    {
        let _guard = barrow_config::scoped([("x_y", map(&[("a-b", 456.into())]))]).unwrap();
        let snapshot = config.snapshot().unwrap();
        for key in keys {
            assert_eq!(snapshot.get_value(key), Some(456.into()), "{key}");
        }
    }
    // Dask leaves keys inside a new value as written (`c_d`); Barrow
    // normalizes keys at every depth, so it reads back as `c-d`.
    let value = map(&[("a-b", map(&[("c_d", 1.into())])), ("e-f", 2.into())]);
    let _guard = barrow_config::scoped([("x_y", value)]).unwrap();
    let snapshot = config.snapshot().unwrap();
    assert_eq!(
        snapshot.get_value("x_y.a-b"),
        Some(map(&[("c-d", 1.into())]))
    );
    assert_eq!(snapshot.get_value("x_y.e_f"), Some(2.into()));
}

#[test]
fn test_get_set_roundtrip() {
    let config = Sandbox::new().unwrap().config();
    for key in ["custom_key", "custom-key"] {
        let _guard = barrow_config::scoped([(key, 123)]).unwrap();
        let snapshot = config.snapshot().unwrap();
        assert_eq!(snapshot.get_value("custom_key"), Some(123.into()), "{key}");
        assert_eq!(snapshot.get_value("custom-key"), Some(123.into()), "{key}");
    }
}

#[test]
#[allow(non_snake_case, reason = "Dask's test name")]
fn test_merge_None_to_dict() {
    let config = Sandbox::new().unwrap().config();
    config.set_global("a", Value::Null).unwrap();
    config.set_global("c", 0).unwrap();
    let _guard = barrow_config::scoped([("a", map(&[("b", 1.into())]))]).unwrap();
    assert_eq!(
        tree(&config.snapshot().unwrap(), &["a", "c"]),
        map(&[("a", map(&[("b", 1.into())])), ("c", 0.into())])
    );
}

#[test]
fn test_core_file() {
    // The built-in defaults hold Barrow's keys, Dask's dask.yaml its own.
    let snapshot = Sandbox::new().unwrap().config().snapshot().unwrap();
    let Some(Value::Map(root)) = snapshot.get_value("") else {
        panic!("the whole tree is a mapping");
    };
    assert!(root.contains_key("temporary-directory"));
    assert!(root.contains_key("array"));
    let Some(Value::Map(array)) = snapshot.get_value("array") else {
        panic!("array holds keys");
    };
    assert!(array.contains_key("chunk-size"), "{array:?}");
}

#[test]
fn test_schema() {
    // Every built-in default is valid for its declared type (Dask checks
    // dask.yaml against dask-schema.yaml with jsonschema).
    let schema = barrow_config::Schema::builtin().unwrap();
    assert!(!schema.is_empty());
    for declaration in schema.iter() {
        declaration
            .check(
                declaration.default_value(),
                &barrow_config::Origin::Defaults,
            )
            .unwrap();
    }
    // And a value against the schema is refused with its key.
    let err = Sandbox::new()
        .unwrap()
        .config()
        .set_global("array.chunk-size-tolerance", "wide")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadValue);
}

#[test]
fn test_get_override_with() {
    // Dask's `override_with` is the value of one call, above every layer:
    // Barrow's call options. None (no option) leaves the configuration.
    let config = Sandbox::new().unwrap().config();
    let _guard = barrow_config::scoped([("foo", "bar")]).unwrap();
    let snapshot = config.snapshot().unwrap();
    let get = |option: Option<Value>| {
        let call = match option {
            Some(value) => snapshot.with_options([("foo", value)]).unwrap(),
            None => snapshot.clone(),
        };
        call.get_value("foo")
    };
    assert_eq!(get(None), Some("bar".into()));
    for value in [
        Value::from("baz"),
        Value::from(false),
        Value::from(true),
        Value::from(123),
        map(&[("hello", "world".into())]),
        Value::from(vec!["one"]),
    ] {
        assert_eq!(get(Some(value.clone())), Some(value));
    }
}

#[test]
#[allow(non_snake_case, reason = "Dask's test name")]
fn test__get_paths() {
    // No sys.prefix or site prefixes in Rust: /etc/barrow, then the
    // user's folder, then BARROW_CONFIG; BARROW_ROOT_CONFIG moves the first.
    let paths = |env: &[(&str, &str)]| -> Vec<(Layer, std::path::PathBuf)> {
        let mut vars = vec![("HOME", "/home/someone")];
        vars.extend_from_slice(env);
        Config::new(Sources::from_env(vars.iter().copied()))
            .search_path()
            .iter()
            .map(|s| (s.layer(), s.path().to_owned()))
            .collect()
    };
    let expected = vec![
        (Layer::System, "/etc/barrow".into()),
        (Layer::User, "/home/someone/.config/barrow".into()),
    ];
    assert_eq!(paths(&[]), expected);
    let mut with_config = expected.clone();
    with_config.push((Layer::ConfigPath, "foo-bar".into()));
    assert_eq!(paths(&[("BARROW_CONFIG", "foo-bar")]), with_config);
    let mut moved = expected.clone();
    moved[0].1 = "foo-bar".into();
    assert_eq!(paths(&[("BARROW_ROOT_CONFIG", "foo-bar")]), moved);
}

#[test]
fn test_default_search_paths() {
    // The process's configuration searches the default paths of its own
    // environment (in a child process, whose environment this test sets).
    if std::env::var_os(CHILD).is_some() {
        let process: Vec<_> = Config::process()
            .search_path()
            .iter()
            .map(|s| s.path().to_owned())
            .collect();
        let home = std::env::var("HOME").unwrap();
        assert_eq!(
            process,
            [
                std::path::PathBuf::from("/etc/barrow"),
                Path::new(&home).join(".config/barrow"),
            ]
        );
        println!("child checked the paths");
        return;
    }
    let home = folder("dask-default-search-paths");
    let out = run_child(
        "test_default_search_paths",
        CHILD,
        &[("HOME", home.to_str().unwrap())],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("child checked the paths"));
}

#[test]
fn test_config_files_order() {
    // Files in one folder are read in name order (never in the order the
    // system lists them); folders in the order given.
    let mut sandbox = Sandbox::new().unwrap();
    for i in [5, 0, 8, 3, 1, 7, 2, 6, 4] {
        sandbox
            .write(format!("conf/{i}.yaml"), &format!("k: {i}\n"))
            .unwrap();
    }
    sandbox.write("conf/a/b.yaml", "k: 10\n").unwrap();
    let dir = sandbox.root().join("conf");
    let sub = dir.join("a");
    let order = |sandbox: &Sandbox| -> Vec<Value> {
        let snapshot = sandbox.config().snapshot().unwrap();
        snapshot
            .unknown_keys()
            .find(|(key, _)| *key == "k")
            .map(|(_, entries)| entries.iter().map(|e| e.value().clone()).collect())
            .unwrap()
    };
    named(&mut sandbox, &[&dir, &sub]);
    let expected: Vec<Value> = (0..9).chain([10]).map(Value::from).collect();
    assert_eq!(order(&sandbox), expected);
    named(&mut sandbox, &[&sub, &dir]);
    let expected: Vec<Value> = [10].into_iter().chain(0..9).map(Value::from).collect();
    assert_eq!(order(&sandbox), expected);
}
