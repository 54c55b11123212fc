//! Errors and odd environments: bad values name key, value, type and layer;
//! unknown keys warn with a suggestion; malformed files name file and line;
//! missing or unreadable directories fall back with a warning.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::path::PathBuf;

use barrow_config::{ByteSize, ErrorKind, Layer, Origin, Sandbox, WarningKind};

#[test]
fn a_bad_variable_names_key_value_type_and_variable() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.set_env("BARROW_ARRAY__CHUNK_SIZE", "12 lots");
    sandbox.set_env("BARROW_NUM_WORKERS", "four");
    let snapshot = sandbox.config().snapshot().unwrap();

    let err = snapshot.get::<ByteSize>("array.chunk-size").unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"array.chunk-size = "12 lots" (from BARROW_ARRAY__CHUNK_SIZE): expected a byte size such as "64MiB""#
    );
    assert_eq!(err.kind(), ErrorKind::BadValue);
    assert_eq!(err.key(), Some("array.chunk-size"));
    assert_eq!(err.value(), Some(&barrow_config::Value::from("12 lots")));
    assert_eq!(
        err.origin(),
        Some(&Origin::Env("BARROW_ARRAY__CHUNK_SIZE".into()))
    );
    assert_eq!(err.expected(), Some("a byte size such as \"64MiB\""));

    let err = snapshot.get::<u64>("num-workers").unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"num-workers = "four" (from BARROW_NUM_WORKERS): expected an integer >= 1"#
    );
    // Every layer's bad values are listed, winning or not.
    assert_eq!(snapshot.problems().len(), 2);
}

#[test]
fn a_bad_file_value_names_the_file() {
    let sandbox = Sandbox::new().unwrap();
    let path = sandbox
        .user_file(
            "site.yaml",
            "num-workers: -3\nprocesses:\n  context: clone\nlogging: {level: loud}\n",
        )
        .unwrap();
    let snapshot = sandbox.config().snapshot().unwrap();
    let err = snapshot.get::<u64>("num-workers").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "num-workers = -3 (from {}): expected an integer >= 1",
            path.display()
        )
    );
    assert_eq!(err.origin().and_then(|o| o.path()), Some(path.as_path()));
    assert_eq!(err.origin().map(Origin::layer), Some(Layer::User));
    let err = snapshot.get::<String>("processes.context").unwrap_err();
    assert!(
        err.to_string().ends_with("expected one of: spawn, fork"),
        "{err}"
    );
    let err = snapshot.get::<String>("logging.level").unwrap_err();
    assert!(
        err.to_string().starts_with("logging.level = \"loud\""),
        "{err}"
    );
}

#[test]
fn a_mapping_given_to_a_key_is_a_bad_value_not_new_keys() {
    let sandbox = Sandbox::new().unwrap();
    sandbox
        .system_file("a.yaml", "num-workers:\n  threads: 4\n")
        .unwrap();
    let snapshot = sandbox.config().snapshot().unwrap();
    let err = snapshot.get::<u64>("num-workers").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("num-workers = {threads: 4} (from "),
        "{err}"
    );
    assert_eq!(snapshot.unknown_keys().count(), 0);
}

#[test]
fn a_bad_value_that_is_overridden_does_not_fail_the_getter() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.user_file("a.yaml", "num-workers: lots\n").unwrap();
    sandbox.set_env("BARROW_NUM_WORKERS", "2");
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(snapshot.get::<u64>("num-workers").unwrap(), Some(2));
    // ... but validation still reports it.
    let problems = snapshot.problems();
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0]
            .to_string()
            .starts_with("num-workers = \"lots\" (from /")
    );
}

#[test]
fn bad_global_overrides_are_refused() {
    let config = Sandbox::new().unwrap().config();
    let err = config.set_global("array.chunk-size", "big").unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"array.chunk-size = "big" (from global override): expected a byte size such as "64MiB""#
    );
    let err = config
        .set_global("optimization.fuse.active", 1)
        .unwrap_err();
    assert_eq!(err.expected(), Some("true or false"));
    let err = config
        .set_global("array.chunk-size-tolerance", 0.5)
        .unwrap_err();
    assert_eq!(err.expected(), Some("a number >= 1"));
    let err = config.set_global("num-workers", None::<u64>);
    assert!(err.is_ok(), "null unsets an optional key");
    let err = config.set_global("chunksize", None::<u64>).unwrap_err();
    assert_eq!(
        err.to_string(),
        "chunksize = null (from global override): expected an integer >= 1"
    );
}

#[test]
fn unknown_keys_warn_with_a_suggestion_and_their_origin() {
    let mut sandbox = Sandbox::new().unwrap();
    let path = sandbox
        .user_file(
            "site.yaml",
            "num-worker: 4\narray:\n  chunksize: 64MiB\ndashboard:\n  port: 8787\n",
        )
        .unwrap();
    sandbox.set_env("BARROW_SCHEDULAR", "threads");
    let snapshot = sandbox.config().snapshot().unwrap();
    let warnings: Vec<(&str, Option<&str>, String)> = snapshot
        .warnings()
        .iter()
        .map(|w| {
            assert_eq!(w.kind(), WarningKind::UnknownKey);
            (
                w.key().unwrap(),
                w.suggestion(),
                w.origin().unwrap().to_string(),
            )
        })
        .collect();
    let file = path.display().to_string();
    assert_eq!(
        warnings,
        [
            ("array.chunksize", Some("array.chunk-size"), file.clone()),
            ("dashboard.port", None, file.clone()),
            ("num-worker", Some("num-workers"), file.clone()),
            (
                "schedular",
                Some("scheduler"),
                "BARROW_SCHEDULAR".to_owned()
            ),
        ]
    );
    assert_eq!(
        snapshot.warnings()[3].message(),
        r#"unknown configuration key "schedular" (from BARROW_SCHEDULAR); did you mean "scheduler"?"#
    );
    assert_eq!(
        snapshot.warnings()[2].message(),
        format!(
            r#"unknown configuration key "num-worker" (from {file}); did you mean "num-workers"?"#
        )
    );
    // Unknown keys change nothing else.
    assert_eq!(snapshot.get::<u64>("num-workers").unwrap(), None);
    assert_eq!(snapshot.unknown_keys().count(), 4);
}

#[test]
fn asking_in_code_for_a_typo_of_a_declared_key_is_an_error_with_a_suggestion() {
    let snapshot = Sandbox::new().unwrap().config().snapshot().unwrap();
    let err = snapshot.get::<u64>("num_worker").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownKey);
    assert_eq!(
        err.to_string(),
        r#"unknown configuration key "num-worker"; did you mean "num-workers"?"#
    );
    assert_eq!(
        snapshot
            .get::<u64>("array.chunksize")
            .unwrap_err()
            .suggestion(),
        Some("array.chunk-size")
    );
    // A key nobody declared or set, and not like a declared one, is unset.
    assert_eq!(snapshot.get::<u64>("dashboard.port").unwrap(), None);
    assert_eq!(snapshot.get_value("dashboard.port"), None);
    // A typo that some layer does set is read: it is that layer's key.
    let call = snapshot.with_options([("num-worker", 3)]).unwrap();
    assert_eq!(call.get::<u64>("num-worker").unwrap(), Some(3));
    assert_eq!(call.get::<u64>("num-workers").unwrap(), None);
}

#[test]
fn asking_for_the_wrong_rust_type_is_a_wrong_type_error() {
    let snapshot = Sandbox::new().unwrap().config().snapshot().unwrap();
    let err = snapshot.get::<u64>("array.chunk-size").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType);
    assert_eq!(
        err.to_string(),
        "configuration key \"array.chunk-size\" is declared as byte-size (128MiB), so it cannot be read as `u64`"
    );
    assert_eq!(
        snapshot.get::<bool>("chunksize").unwrap_err().kind(),
        ErrorKind::WrongType
    );
}

#[test]
fn malformed_yaml_is_an_error_naming_file_and_line() {
    let sandbox = Sandbox::new().unwrap();
    let path = sandbox
        .system_file(
            "broken.yaml",
            "scheduler: threads\nnum-workers: 4\narray: chunk-size: 1\n",
        )
        .unwrap();
    let err = sandbox.config().snapshot().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Syntax);
    assert_eq!(err.path(), Some(path.as_path()));
    assert_eq!(err.line(), Some(3));
    assert_eq!(
        err.to_string(),
        format!(
            "malformed configuration file {}, line 3 column 18: mapping values are not allowed in this context",
            path.display()
        )
    );
}

#[test]
fn other_malformed_files_are_errors_too() {
    let cases: [(&str, &[u8], &str); 5] = [
        (
            "list.yaml",
            b"- a\n- b\n",
            "the top level must be a mapping",
        ),
        (
            "scalar.yaml",
            b"just text\n",
            "the top level must be a mapping",
        ),
        ("two.yaml", b"a: 1\n---\nb: 2\n", "YAML documents"),
        ("flow.yaml", b"plugins:\n  load: [a, b\n", "line 3"),
        ("binary.yaml", b"num-workers: \xff\xfe\n", "not UTF-8"),
    ];
    for (name, contents, why) in cases {
        let sandbox = Sandbox::new().unwrap();
        let path = sandbox.user_dir().join(name);
        std::fs::create_dir_all(sandbox.user_dir()).unwrap();
        std::fs::write(&path, contents).unwrap();
        let err = sandbox.config().snapshot().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Syntax, "{name}");
        assert_eq!(err.path(), Some(path.as_path()), "{name}");
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains(why), "{name}: {message}");
    }
}

#[test]
fn empty_files_and_comment_only_files_are_fine() {
    let sandbox = Sandbox::new().unwrap();
    sandbox.system_file("empty.yaml", "").unwrap();
    sandbox
        .system_file("comments.yaml", "# nothing here yet\n")
        .unwrap();
    let snapshot = sandbox.config().snapshot().unwrap();
    assert!(snapshot.warnings().is_empty());
}

#[test]
fn no_home_directory_warns_and_runs_on_the_other_layers() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.without_home();
    sandbox
        .system_file("site.yaml", "num-workers: 3\n")
        .unwrap();
    sandbox.set_env("BARROW_SCHEDULER", "threads");
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(snapshot.get::<u64>("num-workers").unwrap(), Some(3));
    assert_eq!(
        snapshot.get::<String>("scheduler").unwrap().as_deref(),
        Some("threads")
    );
    assert_eq!(
        snapshot.get::<ByteSize>("array.chunk-size").unwrap(),
        Some(ByteSize::mib(128))
    );
    let kinds: Vec<_> = snapshot.warnings().iter().map(|w| w.kind()).collect();
    assert_eq!(kinds, [WarningKind::NoHomeDirectory]);
    assert!(snapshot.warnings()[0].message().contains("HOME is unset"));
}

#[test]
fn an_unreadable_config_directory_warns_naming_it() {
    let sandbox = Sandbox::new().unwrap();
    // A file where the user's folder should be: it cannot be listed (this
    // works as root too, unlike permission bits).
    let user_dir = sandbox.user_dir();
    std::fs::create_dir_all(user_dir.parent().unwrap()).unwrap();
    std::fs::write(&user_dir, "not a folder").unwrap();
    sandbox.system_file("site.yaml", "chunksize: 8\n").unwrap();
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(snapshot.get::<u64>("chunksize").unwrap(), Some(8));
    let warning = &snapshot.warnings()[0];
    assert_eq!(warning.kind(), WarningKind::UnreadableDirectory);
    assert_eq!(warning.path(), Some(user_dir.as_path()));
    assert!(warning.message().contains(&user_dir.display().to_string()));
}

#[test]
fn an_unreadable_file_warns_and_the_others_are_read() {
    let sandbox = Sandbox::new().unwrap();
    std::fs::create_dir_all(sandbox.system_dir().join("folder.yaml")).unwrap();
    sandbox.system_file("ok.yaml", "chunksize: 8\n").unwrap();
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(snapshot.get::<u64>("chunksize").unwrap(), Some(8));
    let warning = &snapshot.warnings()[0];
    assert_eq!(warning.kind(), WarningKind::UnreadableFile);
    assert_eq!(
        warning.path(),
        Some(sandbox.system_dir().join("folder.yaml").as_path())
    );
}

#[test]
fn a_missing_barrow_config_path_warns() {
    let mut sandbox = Sandbox::new().unwrap();
    let missing = sandbox.root().join("nowhere.yaml");
    sandbox.set_env("BARROW_CONFIG", missing.to_str().unwrap());
    let snapshot = sandbox.config().snapshot().unwrap();
    let warning = &snapshot.warnings()[0];
    assert_eq!(warning.kind(), WarningKind::MissingPath);
    assert!(
        warning
            .message()
            .starts_with(&format!("BARROW_CONFIG names {}", missing.display()))
    );
}

#[test]
fn malformed_variable_names_are_ignored_with_a_warning() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.set_env("BARROW_ARRAY____CHUNK_SIZE", "1MiB");
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(snapshot.warnings()[0].kind(), WarningKind::IgnoredVariable);
    assert!(
        snapshot.warnings()[0]
            .message()
            .starts_with("BARROW_ARRAY____CHUNK_SIZE is ignored")
    );
}

#[test]
fn an_unwritable_temporary_directory_falls_back_to_the_system_one() {
    let mut sandbox = Sandbox::new().unwrap();
    let blocker = sandbox.write("blocker", "a file, not a folder").unwrap();
    let wanted = blocker.join("tmp");
    let system_tmp = sandbox.root().join("system-tmp");
    sandbox.set_env("TMPDIR", system_tmp.to_str().unwrap());
    sandbox.set_env("BARROW_TEMPORARY_DIRECTORY", wanted.to_str().unwrap());
    let snapshot = sandbox.config().snapshot().unwrap();
    let err = snapshot.try_temporary_directory().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert_eq!(err.path(), Some(wanted.as_path()));
    assert!(err.to_string().contains(&wanted.display().to_string()));
    assert_eq!(snapshot.temporary_directory().unwrap(), system_tmp);

    // A writable one is created when missing, and used.
    let good: PathBuf = sandbox.root().join("spill/here");
    let call = snapshot
        .with_options([("temporary-directory", good.clone())])
        .unwrap();
    assert_eq!(call.temporary_directory().unwrap(), good);
    assert!(good.is_dir());
    // Unset: the system's.
    let unset = snapshot
        .with_options([("temporary-directory", None::<PathBuf>)])
        .unwrap();
    assert_eq!(unset.temporary_directory().unwrap(), system_tmp);
}
