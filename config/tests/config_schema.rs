//! The declarations: the embedded defaults file, and namespaces registered
//! at run time.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use barrow_config::{ErrorKind, KeyType, Sandbox, Schema, Setting, Value};

#[test]
fn the_embedded_defaults_declare_every_key_with_doc_type_and_valid_default() {
    let schema = Schema::builtin().unwrap();
    let keys: Vec<(&str, &str)> = schema
        .iter()
        .map(|d| (d.key(), d.key_type().name()))
        .collect();
    assert_eq!(
        keys,
        [
            ("array.chunk-size", "byte-size"),
            ("array.chunk-size-tolerance", "float"),
            ("array.rechunk.memory-budget", "byte-size"),
            ("array.rechunk.method", "enum"),
            ("bag.max-line-length", "byte-size"),
            ("chunksize", "integer"),
            ("distributed.adaptive.interval", "duration"),
            ("distributed.adaptive.target-duration", "duration"),
            ("distributed.adaptive.wait-count", "integer"),
            ("distributed.comm.compress-above", "byte-size"),
            ("distributed.comm.compression", "enum"),
            ("distributed.comm.max-message-size", "byte-size"),
            ("distributed.comm.require-encryption", "bool"),
            ("distributed.comm.timeouts.connect", "duration"),
            ("distributed.comm.tls.ca-file", "path"),
            ("distributed.comm.tls.client.cert", "path"),
            ("distributed.comm.tls.client.key", "path"),
            ("distributed.comm.tls.scheduler.cert", "path"),
            ("distributed.comm.tls.scheduler.key", "path"),
            ("distributed.comm.tls.worker.cert", "path"),
            ("distributed.comm.tls.worker.key", "path"),
            ("distributed.dashboard.address", "string"),
            ("distributed.dashboard.enabled", "bool"),
            ("distributed.dashboard.interval", "duration"),
            ("distributed.dashboard.task-stream-length", "integer"),
            ("distributed.jobqueue.pbs.account", "string"),
            ("distributed.jobqueue.pbs.barrow-command", "path"),
            ("distributed.jobqueue.pbs.cores", "integer"),
            ("distributed.jobqueue.pbs.directory", "path"),
            ("distributed.jobqueue.pbs.job-extra-directives", "list"),
            ("distributed.jobqueue.pbs.memory", "byte-size"),
            ("distributed.jobqueue.pbs.prologue", "list"),
            ("distributed.jobqueue.pbs.queue", "string"),
            ("distributed.jobqueue.pbs.scheduler-host", "string"),
            ("distributed.jobqueue.pbs.walltime", "duration"),
            ("distributed.jobqueue.slurm.account", "string"),
            ("distributed.jobqueue.slurm.barrow-command", "path"),
            ("distributed.jobqueue.slurm.cores", "integer"),
            ("distributed.jobqueue.slurm.directory", "path"),
            ("distributed.jobqueue.slurm.job-extra-directives", "list"),
            ("distributed.jobqueue.slurm.memory", "byte-size"),
            ("distributed.jobqueue.slurm.partition", "string"),
            ("distributed.jobqueue.slurm.prologue", "list"),
            ("distributed.jobqueue.slurm.scheduler-host", "string"),
            ("distributed.jobqueue.slurm.walltime", "duration"),
            ("distributed.scheduler-address", "string"),
            ("distributed.scheduler.allowed-failures", "integer"),
            ("distributed.scheduler.bandwidth", "byte-size"),
            ("distributed.scheduler.no-workers-timeout", "duration"),
            ("distributed.scheduler.transfer-latency", "duration"),
            ("distributed.scheduler.transition-log-length", "integer"),
            ("distributed.scheduler.unknown-task-duration", "duration"),
            ("distributed.scheduler.validate", "bool"),
            ("distributed.scheduler.work-stealing", "bool"),
            ("distributed.scheduler.work-stealing-interval", "duration"),
            ("distributed.scheduler.worker-saturation", "float"),
            ("distributed.scheduler.worker-ttl", "duration"),
            ("distributed.security.token", "string"),
            ("distributed.security.token-file", "path"),
            ("distributed.worker.connections.incoming", "integer"),
            ("distributed.worker.connections.outgoing", "integer"),
            ("distributed.worker.heartbeat-interval", "duration"),
            ("distributed.worker.memory.monitor-interval", "duration"),
            ("distributed.worker.memory.pause", "float"),
            ("distributed.worker.memory.recent-to-old-time", "duration"),
            ("distributed.worker.memory.spill", "float"),
            ("distributed.worker.memory.target", "float"),
            ("distributed.worker.memory.terminate", "float"),
            (
                "distributed.worker.transfer.message-bytes-limit",
                "byte-size"
            ),
            ("distributed.worker.validate", "bool"),
            ("local.memory-limit", "byte-size"),
            ("local.rerun-failed-on-caller", "bool"),
            ("local.spill.memory-limit", "byte-size"),
            ("logging.level", "enum"),
            ("logging.warnings", "enum"),
            ("num-workers", "integer"),
            ("optimization.fuse.active", "bool"),
            ("optimization.fuse.ave-width", "float"),
            ("optimization.fuse.max-depth-new-edges", "float"),
            ("optimization.fuse.max-height", "integer"),
            ("optimization.fuse.max-width", "float"),
            ("optimization.fuse.rename-keys", "bool"),
            ("optimization.fuse.subgraphs", "bool"),
            ("plugins.load", "list"),
            ("plugins.paths", "path-list"),
            ("processes.compress-above", "byte-size"),
            ("processes.compression", "enum"),
            ("processes.context", "enum"),
            ("processes.max-message-size", "byte-size"),
            ("processes.shared-memory", "bool"),
            ("processes.shared-memory-above", "byte-size"),
            ("processes.shared-memory-retain", "byte-size"),
            ("processes.start-timeout", "duration"),
            ("processes.worker-threads", "integer"),
            ("scheduler", "string"),
            ("temporary-directory", "path"),
            ("worker.host", "string"),
            ("worker.memory-limit", "byte-size"),
            ("worker.name", "string"),
            ("worker.nthreads", "integer"),
            ("worker.resources", "list"),
            ("worker.scheduler", "string"),
        ]
    );
    for declaration in schema.iter() {
        assert!(
            declaration.doc().len() > 20,
            "{} needs a real doc",
            declaration.key()
        );
        assert_eq!(declaration.namespace(), None);
        declaration
            .check(
                declaration.default_value(),
                &barrow_config::Origin::Defaults,
            )
            .unwrap();
    }
    let optional: Vec<&str> = schema
        .iter()
        .filter(|d| d.is_optional())
        .map(|d| d.key())
        .collect();
    assert_eq!(
        optional,
        [
            "array.rechunk.memory-budget",
            "distributed.comm.tls.ca-file",
            "distributed.comm.tls.client.cert",
            "distributed.comm.tls.client.key",
            "distributed.comm.tls.scheduler.cert",
            "distributed.comm.tls.scheduler.key",
            "distributed.comm.tls.worker.cert",
            "distributed.comm.tls.worker.key",
            "distributed.jobqueue.pbs.account",
            "distributed.jobqueue.pbs.barrow-command",
            "distributed.jobqueue.pbs.queue",
            "distributed.jobqueue.pbs.scheduler-host",
            "distributed.jobqueue.pbs.walltime",
            "distributed.jobqueue.slurm.account",
            "distributed.jobqueue.slurm.barrow-command",
            "distributed.jobqueue.slurm.partition",
            "distributed.jobqueue.slurm.scheduler-host",
            "distributed.jobqueue.slurm.walltime",
            "distributed.scheduler-address",
            "distributed.scheduler.no-workers-timeout",
            "distributed.security.token",
            "distributed.security.token-file",
            "distributed.worker.heartbeat-interval",
            "local.memory-limit",
            "local.spill.memory-limit",
            "logging.warnings",
            "num-workers",
            "optimization.fuse.max-depth-new-edges",
            "optimization.fuse.max-height",
            "optimization.fuse.max-width",
            "processes.worker-threads",
            "scheduler",
            "temporary-directory",
            "worker.host",
            "worker.memory-limit",
            "worker.name",
            "worker.nthreads",
            "worker.scheduler"
        ]
    );
    assert_eq!(
        schema.get("processes.context").unwrap().key_type(),
        &KeyType::Enum(vec!["spawn".into(), "fork".into()])
    );
    assert_eq!(
        schema.get("num_workers").unwrap().key_type(),
        &KeyType::Integer {
            min: Some(1),
            max: None
        }
    );
}

#[test]
fn enum_values_match_ignoring_case_and_read_as_declared() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.set_env("BARROW_LOGGING__LEVEL", "DEBUG");
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(
        snapshot.setting("logging.level").unwrap(),
        Setting::Enum("debug".into())
    );
}

const CACHE: &str = r#"
size:
  doc: Bytes the test cache may hold before it evicts.
  type: byte-size
  default: 1GiB
policy:
  doc: Which entries the test cache evicts first.
  type: enum
  values: [lru, fifo]
  default: lru
timeout:
  doc: How long the test cache waits for a lock.
  type: duration
  default: 30s
ttl.max:
  doc: The longest time an entry lives in the test cache.
  type: duration
"#;

#[test]
fn registered_namespaces_get_defaults_env_files_and_typed_getters() {
    barrow_config::register_namespace("test_cache", CACHE).unwrap();
    // Registering the same declarations again is harmless.
    barrow_config::register_namespace("test-cache", CACHE).unwrap();

    let mut sandbox = Sandbox::new().unwrap();
    sandbox
        .user_file(
            "cache.yaml",
            "test_cache:\n  policy: FIFO\n  ttl:\n    max: 2h\n",
        )
        .unwrap();
    sandbox.set_env("BARROW_TEST_CACHE__TIMEOUT", "5 min");
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(
        snapshot
            .get::<barrow_config::ByteSize>("test-cache.size")
            .unwrap(),
        Some(barrow_config::ByteSize::gib(1))
    );
    assert_eq!(
        snapshot
            .get::<String>("test-cache.policy")
            .unwrap()
            .as_deref(),
        Some("fifo")
    );
    assert_eq!(
        snapshot
            .get::<std::time::Duration>("test-cache.timeout")
            .unwrap(),
        Some(std::time::Duration::from_secs(300))
    );
    assert_eq!(
        snapshot
            .get::<barrow_config::Duration>("test-cache.ttl.max")
            .unwrap()
            .map(|d| d.to_string()),
        Some("2h".to_owned())
    );
    let declaration = snapshot.schema().get("test-cache.size").unwrap();
    assert_eq!(declaration.namespace(), Some("test-cache"));
    assert!(Schema::current().namespaces().any(|ns| ns == "test-cache"));
    assert!(snapshot.warnings().is_empty(), "{:?}", snapshot.warnings());
    let err = snapshot
        .get::<barrow_config::Duration>("test-cache.policy")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType);
}

#[test]
fn conflicting_or_invalid_declarations_are_refused() {
    let cases: [(&str, &str, &str); 8] = [
        (
            "test-bad-1",
            "x:\n  doc: An x.\n  type: colour\n",
            "unknown type \"colour\"",
        ),
        ("test-bad-2", "x:\n  type: string\n", "needs a `doc:`"),
        (
            "test-bad-3",
            "x:\n  doc: An x.\n  type: enum\n",
            "list its `values:`",
        ),
        (
            "test-bad-4",
            "x:\n  doc: An x.\n  type: integer\n  default: many\n",
            "bad default",
        ),
        (
            "test-bad-5",
            "x:\n  doc: An x.\n  type: bool\n  defualt: true\n",
            "unknown field `defualt:`",
        ),
        ("test-bad-6", "x: 3\n", "neither a declaration"),
        ("test-bad-7", "x: [unclosed\n", "are not valid"),
        (
            "test-bad-8",
            "x:\n  doc: An x.\n  type: integer\n  min: one\n",
            "`min:` must be a number",
        ),
    ];
    for (namespace, yaml, why) in cases {
        let err = barrow_config::register_namespace(namespace, yaml).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Declaration, "{namespace}");
        assert!(err.to_string().contains(why), "{namespace}: {err}");
        assert!(!Schema::current().namespaces().any(|ns| ns == namespace));
    }
    let declared_twice = barrow_config::register_namespace(
        "array",
        "chunk-size:\n  doc: Clashes with a built-in key.\n  type: string\n",
    )
    .unwrap_err();
    assert_eq!(
        declared_twice.to_string(),
        "namespace \"array\" declares \"array.chunk-size\", which Barrow itself already declares"
    );
    barrow_config::register_namespace("test-twice", "a:\n  doc: An a key.\n  type: bool\n")
        .unwrap();
    let err =
        barrow_config::register_namespace("test-twice", "b:\n  doc: A b key.\n  type: bool\n")
            .unwrap_err();
    assert!(err.to_string().contains("already registered"), "{err}");
    let err = barrow_config::register_namespace("bad..name", "").unwrap_err();
    assert!(err.to_string().contains("invalid namespace name"), "{err}");
}

#[test]
fn values_convert_and_display_as_yaml() {
    assert_eq!(Value::from(u64::MAX), Value::Float(u64::MAX as f64));
    assert_eq!(
        Value::from(std::path::PathBuf::from("/a b")).to_string(),
        "\"/a b\""
    );
    assert_eq!(
        Value::from(std::time::Duration::from_millis(1500)),
        Value::from("1500ms")
    );
    assert_eq!(Value::from(1.5).to_string(), "1.5");
    assert_eq!(Value::from(vec![1, 2]).to_string(), "[1, 2]");
    assert_eq!(Value::from("x").to_plain_string(), "x");
}
