//! Keys nobody declared live in every layer, as in `dask.config`: they are
//! stored, merged, and returned by the untyped getter, the typed getters
//! and `barrow config get`; a warning (once per key) catches typos. Values
//! from the environment read as YAML, and overrides in code may be nested
//! mappings.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::collections::BTreeMap;

use barrow_config::{ByteSize, Duration, ErrorKind, Origin, Sandbox, Value, WarningKind, cli};

fn map(pairs: &[(&str, Value)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    )
}

#[test]
fn undeclared_keys_come_from_every_layer() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox
        .system_file("site.yaml", "myapp:\n  system: 1\n  shared: system\n")
        .unwrap();
    sandbox
        .user_file("me.yaml", "myapp.user: 2\nmyapp:\n  shared_key: user\n")
        .unwrap();
    let folder = sandbox.root().join("conf.d");
    sandbox
        .write("conf.d/a.yaml", "myapp: {named: 3}\n")
        .unwrap();
    sandbox.set_env("BARROW_CONFIG", folder.to_str().unwrap());
    sandbox.set_env("BARROW_MYAPP__FROM_ENV", "[1, 2, \"3\"]");
    let config = sandbox.config();
    config.set_global("myapp.global", 4).unwrap();
    let _scoped = barrow_config::scoped([("myapp.scoped", 5)]).unwrap();
    let snapshot = config
        .snapshot()
        .unwrap()
        .with_options([("myapp.call", 6)])
        .unwrap();

    assert_eq!(
        snapshot.get_value("myapp"),
        Some(map(&[
            ("call", 6.into()),
            (
                "from-env",
                Value::List(vec![1.into(), 2.into(), "3".into()])
            ),
            ("global", 4.into()),
            ("named", 3.into()),
            ("scoped", 5.into()),
            ("shared", "system".into()),
            ("shared-key", "user".into()),
            ("system", 1.into()),
            ("user", 2.into()),
        ]))
    );
    // Any spelling; typed getters read them as the type asked for.
    assert_eq!(snapshot.get::<u64>("myapp.system").unwrap(), Some(1));
    assert_eq!(snapshot.get::<String>("MYAPP.shared_key").unwrap(), None);
    assert_eq!(
        snapshot
            .get::<String>("myapp.shared_key")
            .unwrap()
            .as_deref(),
        Some("user")
    );
    assert_eq!(
        snapshot.get::<Vec<String>>("myapp.from_env").unwrap(),
        Some(vec!["1".to_owned(), "2".to_owned(), "3".to_owned()])
    );
    let (value, origin) = snapshot.get_with_origin::<i64>("myapp.user").unwrap();
    assert_eq!(value, Some(2));
    assert_eq!(
        origin.path(),
        Some(sandbox.user_dir().join("me.yaml").as_path())
    );
    assert_eq!(
        snapshot.get_with_origin::<u64>("myapp.call").unwrap().1,
        Origin::Call
    );

    // `barrow config get` prints them too, and the keys inside a key as YAML.
    let out = cli::get(&config, "myapp.named", false);
    assert_eq!((out.stdout(), out.code()), ("3\n", 0));
    let out = cli::get(&config, "myapp", false);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(
        out.stdout(),
        "from-env: [1, 2, \"3\"]\nglobal: 4\nnamed: 3\nscoped: 5\nshared: system\nshared-key: user\nsystem: 1\nuser: 2\n"
    );
}

#[test]
fn typed_getters_check_undeclared_values_as_the_type_asked_for() {
    let sandbox = Sandbox::new().unwrap();
    sandbox
        .user_file(
            "app.yaml",
            "cache:\n  size: 64MiB\n  ttl: 5 min\n  dir: /var/cache/x\n  workers: four\n",
        )
        .unwrap();
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(
        snapshot.get::<ByteSize>("cache.size").unwrap(),
        Some(ByteSize::mib(64))
    );
    assert_eq!(
        snapshot.get::<Duration>("cache.ttl").unwrap(),
        Some(Duration::from_secs(300))
    );
    assert_eq!(
        snapshot.get::<std::path::PathBuf>("cache.dir").unwrap(),
        Some("/var/cache/x".into())
    );
    let err = snapshot.get::<u32>("cache.workers").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadValue);
    assert!(
        err.to_string()
            .starts_with("cache.workers = \"four\" (from /"),
        "{err}"
    );
    // A key that holds keys is not one value.
    let err = snapshot.get::<String>("cache").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType);
    assert!(err.to_string().contains("holds keys"), "{err}");
}

#[test]
fn an_undeclared_key_warns_once_naming_the_closest_declared_key() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.system_file("a.yaml", "num-worker: 2\n").unwrap();
    sandbox
        .user_file("b.yaml", "num_worker: 3\nmyapp.x: 1\n")
        .unwrap();
    sandbox.set_env("BARROW_NUM_WORKER", "4");
    let snapshot = sandbox.config().snapshot().unwrap();
    let warnings: Vec<(&str, Option<&str>, String)> = snapshot
        .warnings()
        .iter()
        .map(|w| {
            (
                w.key().unwrap(),
                w.suggestion(),
                w.origin().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        warnings,
        [
            (
                "myapp.x",
                None,
                sandbox.user_dir().join("b.yaml").display().to_string()
            ),
            (
                "num-worker",
                Some("num-workers"),
                "BARROW_NUM_WORKER".to_owned()
            ),
        ],
        "one warning per key, from the layer that wins"
    );
    assert_eq!(snapshot.get::<u64>("num-worker").unwrap(), Some(4));
    assert_eq!(snapshot.get::<u64>("num-workers").unwrap(), None);
    assert!(
        snapshot.warnings()[0]
            .message()
            .ends_with("nothing declares it, so only code that asks for it by name reads it"),
        "{}",
        snapshot.warnings()[0].message()
    );
}

#[test]
fn values_that_would_replace_declared_keys_are_ignored_with_a_warning() {
    let sandbox = Sandbox::new().unwrap();
    sandbox
        .user_file("a.yaml", "array: 5\nnum-workers.threads: 2\n")
        .unwrap();
    sandbox.user_file("b.yaml", "array.my-own: 1\n").unwrap();
    let config = sandbox.config();
    let _scoped = barrow_config::scoped([("optimization", "off")]).unwrap();
    let snapshot = config.snapshot().unwrap();
    assert_eq!(
        snapshot.get::<ByteSize>("array.chunk-size").unwrap(),
        Some(ByteSize::mib(128))
    );
    assert_eq!(snapshot.get::<u64>("num-workers").unwrap(), None);
    assert_eq!(
        snapshot.get::<bool>("optimization.fuse.active").unwrap(),
        Some(true)
    );
    // An undeclared key inside a namespace of declared keys is fine.
    assert_eq!(snapshot.get_value("array.my-own"), Some(1.into()));
    let ignored: Vec<&str> = snapshot
        .warnings()
        .iter()
        .filter(|w| w.kind() == WarningKind::IgnoredKey)
        .map(|w| w.key().unwrap())
        .collect();
    assert_eq!(ignored, ["array", "num-workers.threads", "optimization"]);
    let out = cli::validate(&config, &[]);
    assert_eq!(out.code(), 1, "validate fails for them");
    assert!(
        out.stderr().contains("\"array\" (from "),
        "{}",
        out.stderr()
    );
}

#[test]
fn environment_values_read_as_yaml_scalars_and_flow_collections() {
    let cases: [(&str, Value); 14] = [
        ("NULL", Value::Null),
        ("Null", Value::Null),
        ("null", Value::Null),
        ("~", Value::Null),
        ("None", Value::Null),
        ("True", Value::Bool(true)),
        ("false", Value::Bool(false)),
        ("FALSE", Value::Bool(false)),
        ("123", Value::Integer(123)),
        ("1.5", Value::Float(1.5)),
        (
            "[1, 2, \"3\"]",
            Value::List(vec![1.into(), 2.into(), "3".into()]),
        ),
        ("{a: 1}", map(&[("a", 1.into())])),
        ("hello", Value::from("hello")),
        (
            "/not/parsable/as/literal",
            Value::from("/not/parsable/as/literal"),
        ),
    ];
    for (raw, expected) in cases {
        let mut sandbox = Sandbox::new().unwrap();
        sandbox.set_env("BARROW_MYAPP__V", raw);
        let snapshot = sandbox.config().snapshot().unwrap();
        assert_eq!(snapshot.get_value("myapp.v"), Some(expected), "{raw}");
    }
    // The bug this fixes: NULL unsets the scheduler instead of naming one.
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.user_file("a.yaml", "scheduler: threads\n").unwrap();
    sandbox.set_env("BARROW_SCHEDULER", "NULL");
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(snapshot.get::<String>("scheduler").unwrap(), None);
}

#[test]
fn nested_mappings_in_overrides_merge_into_the_tree() {
    let sandbox = Sandbox::new().unwrap();
    let config = sandbox.config();
    let nested = map(&[(
        "array",
        map(&[
            ("chunk_size", "2MiB".into()),
            ("rechunk", map(&[("method", "p2p".into())])),
        ]),
    )]);
    let Value::Map(pairs) = nested else {
        unreachable!()
    };
    config.set_global("num-workers", 3).unwrap();
    let _scoped = barrow_config::scoped(pairs.clone()).unwrap();
    let snapshot = config.snapshot().unwrap();
    assert_eq!(
        snapshot.get::<ByteSize>("array.chunk-size").unwrap(),
        Some(ByteSize::mib(2))
    );
    assert_eq!(
        snapshot
            .get::<String>("array.rechunk.method")
            .unwrap()
            .as_deref(),
        Some("p2p")
    );
    assert_eq!(
        snapshot.lookup("array.chunk-size").unwrap().origin(),
        &Origin::Scoped
    );
    // Options and global overrides take the same nested form, checked.
    let call = snapshot
        .with_options([(
            "optimization",
            map(&[("fuse", map(&[("active", false.into())]))]),
        )])
        .unwrap();
    assert_eq!(
        call.get::<bool>("optimization.fuse.active").unwrap(),
        Some(false)
    );
    let err = config
        .set_global("array", map(&[("chunk-size", "lots".into())]))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadValue);
    assert_eq!(err.key(), Some("array.chunk-size"));

    // A nested global override is removed as a whole.
    config
        .set_global(
            "myapp",
            map(&[("a", 1.into()), ("b", map(&[("c", 2.into())]))]),
        )
        .unwrap();
    assert_eq!(
        config.snapshot().unwrap().get_value("myapp.b.c"),
        Some(2.into())
    );
    assert!(config.remove_global("myapp"));
    assert_eq!(config.snapshot().unwrap().get_value("myapp"), None);
}

#[test]
fn config_get_json_prints_the_typed_value() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox
        .user_file("a.yaml", "myapp:\n  retries: 3\n  tags: [a, b]\n")
        .unwrap();
    sandbox.set_env("BARROW_ARRAY__CHUNK_SIZE", "67108864");
    let config = sandbox.config();
    let json = |key: &str| -> serde_json::Value {
        let out = cli::get(&config, key, true);
        assert_eq!(out.code(), 0, "{key}: {}", out.stderr());
        serde_json::from_str(out.stdout()).unwrap()
    };
    assert_eq!(json("array.chunk_size"), serde_json::json!("64MiB"));
    assert_eq!(json("num-workers"), serde_json::Value::Null);
    assert_eq!(json("chunksize"), serde_json::json!(6));
    assert_eq!(
        json("myapp"),
        serde_json::json!({"retries": 3, "tags": ["a", "b"]})
    );
    let array = json("array");
    assert_eq!(array["chunk-size"], "64MiB");
    assert_eq!(array["chunk-size-tolerance"], 1.25);
    assert_eq!(
        array["rechunk"],
        serde_json::json!({"memory-budget": null, "method": "tasks"})
    );

    let out = cli::get(&config, "myap", true);
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr().ends_with(
            "error: no configuration key \"myap\" is set or declared; `barrow config list` shows every key\n"
        ),
        "{}",
        out.stderr()
    );
}

#[test]
fn config_list_json_marks_undeclared_keys_and_gives_the_whole_tree() {
    let mut sandbox = Sandbox::new().unwrap();
    let file = sandbox
        .user_file("a.yaml", "myapp:\n  retries: 3\n")
        .unwrap();
    sandbox.set_env("BARROW_MYAPP__RETRIES", "5");
    let out = cli::list(&sandbox.config(), true);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let json: serde_json::Value = serde_json::from_str(out.stdout()).unwrap();
    let retries = json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == "myapp.retries")
        .unwrap();
    assert_eq!(retries["declared"], false);
    assert_eq!(retries["value"], 5);
    assert_eq!(retries["from"], "BARROW_MYAPP__RETRIES");
    assert_eq!(
        retries["overrides"],
        serde_json::json!([{"value": 3, "from": file.display().to_string(), "layer": "user"}])
    );
    assert_eq!(
        json["tree"]["myapp"]["keys"]["retries"],
        serde_json::json!({"value": 5, "from": "BARROW_MYAPP__RETRIES", "layer": "environment", "declared": false})
    );
    assert_eq!(
        json["tree"]["local"]["keys"]["spill"]["keys"]["memory-limit"]["declared"],
        true
    );
}

#[test]
fn the_variables_barrow_sets_for_its_workers_are_not_keys() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox
        .set_env("BARROW_WORKER_TOKEN", "5ec12e7")
        .set_env("BARROW_WORKER_SOCKET", "/tmp/pool.sock")
        .set_env("BARROW_WORKER__MEMORY__TARGET", "0.6");
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(snapshot.get_value("worker-token"), None);
    assert_eq!(
        snapshot.get_value("worker.memory"),
        Some(map(&[("target", 0.6.into())]))
    );
    let keys: Vec<&str> = snapshot.warnings().iter().filter_map(|w| w.key()).collect();
    assert_eq!(keys, ["worker.memory.target"], "no warning about the token");
    assert!(!barrow_config::is_key_variable("BARROW_CONFIG"));
    assert!(barrow_config::is_key_variable("BARROW_WORKERS"));
}
