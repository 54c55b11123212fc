//! Helpers shared by barrow-config's integration tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    reason = "each test file uses some of the helpers; a failed unwrap is a failed test"
)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use barrow_config::{Snapshot, Value};

/// A mapping from `(key, value)` pairs.
pub fn map(pairs: &[(&str, Value)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// The pairs of a mapping value, for `scoped`, `set_global` and options.
pub fn pairs(value: Value) -> Vec<(String, Value)> {
    match value {
        Value::Map(map) => map.into_iter().collect(),
        other => panic!("not a mapping: {other}"),
    }
}

/// The merged values of the top-level `keys` (those that hold one), as
/// one mapping: the part of the tree a test is about (the declared keys
/// are always there too).
pub fn tree(snapshot: &Snapshot, keys: &[&str]) -> Value {
    Value::Map(
        keys.iter()
            .filter_map(|key| Some(((*key).to_owned(), snapshot.get_value(key)?)))
            .collect(),
    )
}

/// YAML text for a mapping value, as Dask's tests write files with
/// `yaml.dump`.
pub fn yaml(value: &Value) -> String {
    format!("{value}\n")
}

/// Runs `test` of the current test binary alone in a child process whose
/// environment is exactly `vars`; `role` (a variable name without the
/// `BARROW_` prefix, which would make it a key) tells the test it is the
/// child.
pub fn run_child(test: &str, role: &str, vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env_clear()
        .env(role, "1");
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().unwrap()
}

/// A fresh folder for one test's files, under cargo's temporary folder.
pub fn folder(name: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
