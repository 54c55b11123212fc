//! Hostile and mistaken files: nested anchors that expand exponentially,
//! deep nesting, huge or endless files, and one key given twice under two
//! spellings. Each is an error naming the file (and both places of a key
//! given twice), never a crash and never a value that silently vanishes.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use barrow_config::{ByteSize, ErrorKind, Sandbox, cli};

/// Ten levels of anchors, each a list of ten aliases of the one before:
/// 10^10 values once expanded, in 600 bytes.
fn billion_laughs() -> String {
    let mut text = String::from(
        "scheduler: threads\nl0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for level in 1..10 {
        let alias = format!("*l{}", level - 1);
        let items = [alias.as_str(); 10].join(", ");
        text.push_str(&format!("l{level}: &l{level} [{items}]\n"));
    }
    text
}

#[test]
fn nested_anchors_that_expand_exponentially_are_an_error_naming_the_file() {
    let sandbox = Sandbox::new().unwrap();
    let path = sandbox.user_file("laughs.yaml", &billion_laughs()).unwrap();
    let err = sandbox.config().snapshot().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert_eq!(err.path(), Some(path.as_path()));
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "configuration file {} is not read: its aliases expand it past 200000 values",
            path.display()
        )),
        "{message}"
    );
    assert!(message.contains("the alias at line "), "{message}");

    // `validate` reports it like any other problem and goes on.
    let good = sandbox.write("good.yaml", "num-workers: 2\n").unwrap();
    let out = cli::validate(&sandbox.config(), &[path.clone(), good.clone()]);
    assert_eq!(out.code(), 1);
    assert_eq!(out.stdout(), format!("{}: valid\n", good.display()));
    assert!(out.stderr().contains(&message), "{}", out.stderr());
}

#[test]
fn a_few_anchors_aliases_and_merge_keys_are_fine() {
    let sandbox = Sandbox::new().unwrap();
    sandbox
        .user_file(
            "site.yaml",
            "defaults: &defaults {chunk-size: 64MiB, chunk-size-tolerance: 1.5}\n\
             array:\n  <<: *defaults\n  chunk_size: 32MiB\n\
             plugins:\n  load: &both [a, b]\n  again: *both\n",
        )
        .unwrap();
    let snapshot = sandbox.config().snapshot().unwrap();
    // The mapping's own key beats the merged one, in either spelling.
    assert_eq!(
        snapshot.get::<ByteSize>("array.chunk-size").unwrap(),
        Some(ByteSize::mib(32))
    );
    assert_eq!(
        snapshot.get::<f64>("array.chunk-size-tolerance").unwrap(),
        Some(1.5)
    );
    assert_eq!(
        snapshot.get::<Vec<String>>("plugins.load").unwrap(),
        Some(vec!["a".to_owned(), "b".to_owned()])
    );
}

#[test]
fn an_alias_bomb_in_a_variable_is_an_error_naming_the_variable() {
    let mut sandbox = Sandbox::new().unwrap();
    let mut value = String::from("[&a [x, x, x, x, x, x, x, x, x, x]");
    for level in 1..8 {
        let alias = format!("*{}", (b'a' + level - 1) as char);
        let items = [alias.as_str(); 10].join(", ");
        value.push_str(&format!(", &{} [{items}]", (b'a' + level) as char));
    }
    value.push(']');
    sandbox.set_env("BARROW_PLUGINS__LOAD", &value);
    let err = sandbox.config().snapshot().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert_eq!(
        err.origin().and_then(|o| o.env_var()),
        Some("BARROW_PLUGINS__LOAD")
    );
    assert!(
        err.to_string()
            .starts_with("BARROW_PLUGINS__LOAD is not read: its aliases expand it past"),
        "{err}"
    );
}

#[test]
fn deep_nesting_is_an_error_naming_the_file() {
    let sandbox = Sandbox::new().unwrap();
    let deep = format!(
        "plugins:\n  load: {}a{}\n",
        "[".repeat(100),
        "]".repeat(100)
    );
    let path = sandbox.system_file("deep.yaml", &deep).unwrap();
    let err = sandbox.config().snapshot().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert_eq!(err.path(), Some(path.as_path()));
    assert!(
        err.to_string().contains("nest deeper than 64 levels"),
        "{err}"
    );
}

#[test]
fn a_file_past_4_mib_or_without_end_is_refused_without_reading_it_all() {
    let mut sandbox = Sandbox::new().unwrap();
    let big = format!("# {}\nnum-workers: 2\n", "x".repeat(5 << 20));
    let path = sandbox.write("big.yaml", &big).unwrap();
    sandbox.set_env("BARROW_CONFIG", path.to_str().unwrap());
    let err = sandbox.config().snapshot().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert!(
        err.to_string().starts_with(&format!(
            "configuration file {} is not read: it is larger than 4 MiB",
            path.display()
        )),
        "{err}"
    );
    // A device that never ends: read up to the limit, then refused.
    if std::path::Path::new("/dev/zero").exists() {
        sandbox.set_env("BARROW_CONFIG", "/dev/zero");
        let err = sandbox.config().snapshot().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
        assert!(err.to_string().contains("/dev/zero"), "{err}");
    }
}

#[test]
fn one_key_under_two_spellings_in_one_file_is_an_error_naming_both_places() {
    let sandbox = Sandbox::new().unwrap();
    let path = sandbox
        .user_file(
            "site.yaml",
            "num-workers: 2\narray.chunk-size: 3MiB\narray:\n  chunk_size: 2MiB\n",
        )
        .unwrap();
    let err = sandbox.config().snapshot().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DuplicateKey);
    assert_eq!(err.key(), Some("array.chunk-size"));
    assert_eq!(err.path(), Some(path.as_path()));
    assert_eq!(err.line(), Some(4));
    assert_eq!(
        err.to_string(),
        format!(
            "configuration file {} gives \"array.chunk-size\" twice: as \"array.chunk-size\" at \
             line 2 column 1 and as \"array.chunk_size\" at line 4 column 3; one would silently \
             replace the other, so keep one",
            path.display()
        )
    );
    // `validate` no longer says "valid".
    let out = cli::validate(&sandbox.config(), std::slice::from_ref(&path));
    assert_eq!(out.code(), 1);
    assert_eq!(out.stdout(), "");
    assert_eq!(out.stderr(), format!("error: {err}\n"));
}

#[test]
fn other_ways_of_giving_a_key_twice_in_one_place() {
    let cases = [
        // The same spelling twice (YAML forbids it; parsers keep the last).
        (
            "same.yaml",
            "chunksize: 4\nchunksize: 5\n",
            "\"chunksize\" twice",
        ),
        // Dotted and nested, three levels deep.
        (
            "deep.yaml",
            "local:\n  spill.memory-limit: 1GB\nlocal.spill:\n  memory_limit: 2GB\n",
            "\"local.spill.memory-limit\" twice",
        ),
        // A value for a key, and keys inside it.
        (
            "inside.yaml",
            "myapp: 3\nmyapp.port: 8080\n",
            "gives \"myapp\" a value, as \"myapp\" at line 1 column 1, and also \"myapp.port\" \
             inside it, as \"myapp.port\" at line 2 column 1",
        ),
    ];
    for (name, text, why) in cases {
        let sandbox = Sandbox::new().unwrap();
        let path = sandbox.system_file(name, text).unwrap();
        let err = sandbox.config().snapshot().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DuplicateKey, "{name}: {err}");
        assert_eq!(err.path(), Some(path.as_path()));
        assert!(err.to_string().contains(why), "{name}: {err}");
    }
    // In one variable's value.
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.set_env("BARROW_ARRAY", "{chunk-size: 1MiB, chunk_size: 2MiB}");
    let err = sandbox.config().snapshot().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DuplicateKey);
    assert_eq!(
        err.to_string(),
        "variable BARROW_ARRAY gives \"array.chunk-size\" twice: as \"chunk-size\" at line 1 \
         column 2 of its value and as \"chunk_size\" at line 1 column 20 of its value; one \
         would silently replace the other, so keep one"
    );
}

#[test]
fn the_same_key_in_two_files_is_layering_not_a_mistake() {
    let sandbox = Sandbox::new().unwrap();
    sandbox
        .system_file("a.yaml", "array.chunk-size: 3MiB\n")
        .unwrap();
    sandbox
        .system_file("b.yaml", "array:\n  chunk_size: 2MiB\n")
        .unwrap();
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(
        snapshot.get::<ByteSize>("array.chunk-size").unwrap(),
        Some(ByteSize::mib(2))
    );
}

#[test]
fn nulls_and_booleans_in_files_read_as_yaml_1_2() {
    let sandbox = Sandbox::new().unwrap();
    sandbox
        .system_file("a.yaml", "scheduler: threads\nnum-workers: 4\n")
        .unwrap();
    sandbox
        .user_file(
            "b.yaml",
            "scheduler: NULL\nnum-workers: Null\noptimization.fuse.active: FALSE\n",
        )
        .unwrap();
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(snapshot.get::<String>("scheduler").unwrap(), None);
    assert_eq!(snapshot.get::<u64>("num-workers").unwrap(), None);
    assert_eq!(
        snapshot.get::<bool>("optimization.fuse.active").unwrap(),
        Some(false)
    );
}
