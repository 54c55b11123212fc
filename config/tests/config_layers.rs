//! Layer precedence, key normalization, `__` nesting and the file search
//! path. Every test runs in its own sandbox: none reads or changes the
//! process's environment or home.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use barrow_config::{ByteSize, Config, Layer, Origin, Sandbox, Setting, Snapshot, Value};

/// The layers a test can set, lowest first.
const LAYERS: [Layer; 8] = [
    Layer::Defaults,
    Layer::System,
    Layer::User,
    Layer::ConfigPath,
    Layer::Environment,
    Layer::Global,
    Layer::Scoped,
    Layer::Call,
];

/// A distinct `chunksize` for each layer; the built-in default is 6.
fn chunksize_of(layer: Layer) -> u64 {
    match layer {
        Layer::Defaults => 6,
        other => 10 + LAYERS.iter().position(|l| *l == other).unwrap() as u64,
    }
}

/// Sets `chunksize` in each of `layers` and returns the snapshot, with the
/// scoped guard (if any) still alive.
fn snapshot_with(layers: &[Layer]) -> (Sandbox, Snapshot) {
    let mut sandbox = Sandbox::new().unwrap();
    let mut options = Vec::new();
    let mut scoped_value = None;
    let mut global_value = None;
    for &layer in layers {
        let value = chunksize_of(layer);
        let yaml = format!("chunksize: {value}\n");
        match layer {
            Layer::Defaults => {}
            Layer::System => {
                sandbox.system_file("site.yaml", &yaml).unwrap();
            }
            Layer::User => {
                sandbox.user_file("user.yaml", &yaml).unwrap();
            }
            Layer::ConfigPath => {
                let path = sandbox.write("named/extra.yaml", &yaml).unwrap();
                sandbox.set_env("BARROW_CONFIG", path.to_str().unwrap());
            }
            Layer::Environment => {
                sandbox.set_env("BARROW_CHUNKSIZE", &value.to_string());
            }
            Layer::Global => global_value = Some(value),
            Layer::Scoped => scoped_value = Some(value),
            Layer::Call => options.push(("chunksize", value)),
            other => panic!("unexpected layer {other:?}"),
        }
    }
    let config = sandbox.config();
    if let Some(value) = global_value {
        config.set_global("chunksize", value).unwrap();
    }
    let _guard = scoped_value.map(|value| barrow_config::scoped([("chunksize", value)]).unwrap());
    let snapshot = config.snapshot().unwrap().with_options(options).unwrap();
    (sandbox, snapshot)
}

#[test]
fn every_layer_overrides_every_lower_layer() {
    for (i, &lower) in LAYERS.iter().enumerate() {
        for &higher in &LAYERS[i + 1..] {
            let (_sandbox, snapshot) = snapshot_with(&[lower, higher]);
            let lookup = snapshot.lookup("chunksize").unwrap();
            assert_eq!(
                snapshot.get::<u64>("chunksize").unwrap(),
                Some(chunksize_of(higher)),
                "{higher:?} should override {lower:?}"
            );
            assert_eq!(lookup.origin().layer(), higher, "{lower:?} < {higher:?}");
            let overridden: Vec<Layer> = lookup.overridden().map(|e| e.origin().layer()).collect();
            let mut expected = vec![lower];
            if lower != Layer::Defaults {
                expected.push(Layer::Defaults);
            }
            assert_eq!(overridden, expected, "{lower:?} < {higher:?}");
        }
    }
}

#[test]
fn all_layers_at_once_stack_in_order() {
    let (sandbox, snapshot) = snapshot_with(&LAYERS);
    let lookup = snapshot.lookup("chunksize").unwrap();
    let stack: Vec<(Layer, Value)> = lookup
        .entries()
        .iter()
        .map(|e| (e.origin().layer(), e.value().clone()))
        .collect();
    let expected: Vec<(Layer, Value)> = LAYERS
        .iter()
        .map(|&l| (l, Value::Integer(chunksize_of(l) as i64)))
        .collect();
    assert_eq!(stack, expected);
    // Files are named by path, variables by name.
    let origins: Vec<String> = lookup
        .entries()
        .iter()
        .map(|e| e.origin().to_string())
        .collect();
    let system = sandbox.system_dir().join("site.yaml");
    let user = sandbox.user_dir().join("user.yaml");
    let named = sandbox.root().join("named/extra.yaml");
    assert_eq!(
        origins,
        [
            "built-in defaults",
            system.to_str().unwrap(),
            user.to_str().unwrap(),
            named.to_str().unwrap(),
            "BARROW_CHUNKSIZE",
            "global override",
            "scoped override",
            "call option",
        ]
    );
}

#[test]
fn without_overrides_the_built_in_defaults_apply() {
    let sandbox = Sandbox::new().unwrap();
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(
        snapshot.get::<ByteSize>("array.chunk-size").unwrap(),
        Some(ByteSize::mib(128))
    );
    assert_eq!(
        snapshot.get::<f64>("array.chunk-size-tolerance").unwrap(),
        Some(1.25)
    );
    assert_eq!(
        snapshot
            .get::<String>("array.rechunk.method")
            .unwrap()
            .as_deref(),
        Some("tasks")
    );
    assert_eq!(
        snapshot
            .get::<String>("processes.context")
            .unwrap()
            .as_deref(),
        Some("spawn")
    );
    assert_eq!(
        snapshot.get::<bool>("optimization.fuse.active").unwrap(),
        Some(true)
    );
    assert_eq!(
        snapshot.get::<f64>("optimization.fuse.ave-width").unwrap(),
        Some(1.0)
    );
    assert_eq!(
        snapshot.get::<String>("logging.level").unwrap().as_deref(),
        Some("warn")
    );
    assert_eq!(snapshot.get::<u64>("chunksize").unwrap(), Some(6));
    assert_eq!(
        snapshot.get::<Vec<String>>("plugins.load").unwrap(),
        Some(vec![])
    );
    assert_eq!(
        snapshot
            .get::<Vec<std::path::PathBuf>>("plugins.paths")
            .unwrap(),
        Some(vec![])
    );
    // Unset keys read as None.
    assert_eq!(snapshot.get::<String>("scheduler").unwrap(), None);
    assert_eq!(snapshot.get::<u64>("num-workers").unwrap(), None);
    assert_eq!(
        snapshot
            .get::<ByteSize>("local.spill.memory-limit")
            .unwrap(),
        None
    );
    assert_eq!(
        snapshot
            .get::<std::path::PathBuf>("temporary-directory")
            .unwrap(),
        None
    );
    assert!(snapshot.num_workers().unwrap() >= 1);
    assert_eq!(
        snapshot.lookup("scheduler").unwrap().origin(),
        &Origin::Defaults
    );
    assert!(snapshot.warnings().is_empty(), "{:?}", snapshot.warnings());
}

#[test]
fn double_underscore_nests_and_values_are_yaml_scalars() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox
        .set_env("BARROW_ARRAY__CHUNK_SIZE", "64MiB")
        .set_env("BARROW_ARRAY__RECHUNK__METHOD", "p2p")
        .set_env("BARROW_OPTIMIZATION__FUSE__ACTIVE", "false")
        .set_env("BARROW_OPTIMIZATION__FUSE__AVE_WIDTH", "2.5")
        .set_env("BARROW_NUM_WORKERS", "4")
        .set_env("BARROW_PLUGINS__LOAD", "[alpha, /opt/beta.so]")
        .set_env("BARROW_PLUGINS__PATHS", "/opt/plugins")
        .set_env("BARROW_LOCAL__SPILL__MEMORY_LIMIT", "1e9")
        .set_env("NOT_BARROW_NUM_WORKERS", "99");
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(
        snapshot.get::<ByteSize>("array.chunk-size").unwrap(),
        Some(ByteSize::mib(64))
    );
    assert_eq!(
        snapshot
            .get::<String>("array.rechunk.method")
            .unwrap()
            .as_deref(),
        Some("p2p")
    );
    assert_eq!(
        snapshot.get::<bool>("optimization.fuse.active").unwrap(),
        Some(false)
    );
    assert_eq!(
        snapshot.get::<f64>("optimization.fuse.ave-width").unwrap(),
        Some(2.5)
    );
    assert_eq!(snapshot.get::<u64>("num-workers").unwrap(), Some(4));
    assert_eq!(snapshot.num_workers().unwrap(), 4);
    assert_eq!(
        snapshot.get::<Vec<String>>("plugins.load").unwrap(),
        Some(vec!["alpha".to_owned(), "/opt/beta.so".to_owned()])
    );
    assert_eq!(
        snapshot
            .get::<Vec<std::path::PathBuf>>("plugins.paths")
            .unwrap(),
        Some(vec!["/opt/plugins".into()])
    );
    assert_eq!(
        snapshot
            .get::<ByteSize>("local.spill.memory-limit")
            .unwrap(),
        Some(ByteSize::gb(1))
    );
    // The raw values keep their YAML types, and their variable's name.
    let workers = snapshot.lookup("num-workers").unwrap();
    assert_eq!(workers.value(), &Value::Integer(4));
    assert_eq!(workers.origin().env_var(), Some("BARROW_NUM_WORKERS"));
    assert_eq!(
        snapshot.lookup("optimization.fuse.active").unwrap().value(),
        &Value::Bool(false)
    );
    assert!(snapshot.warnings().is_empty(), "{:?}", snapshot.warnings());
}

#[test]
fn dashes_and_underscores_are_the_same_key_in_every_source() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox
        .system_file("a.yaml", "array:\n  chunk_size_tolerance: 1.5\n")
        .unwrap();
    sandbox
        .user_file("b.yaml", "array.chunk_size: 32MiB\n")
        .unwrap();
    sandbox.set_env("BARROW_OPTIMIZATION__FUSE__AVE-WIDTH", "3");
    let config = sandbox.config();
    config.set_global("num_workers", 3).unwrap();
    let snapshot = config
        .snapshot()
        .unwrap()
        .with_options([("array.chunk_size", "16MiB")])
        .unwrap();
    for key in [
        "array.chunk-size-tolerance",
        "array.chunk_size_tolerance",
        "array.chunk-size_tolerance",
    ] {
        assert_eq!(snapshot.get::<f64>(key).unwrap(), Some(1.5), "{key}");
    }
    assert_eq!(
        snapshot.get::<f64>("optimization.fuse.ave_width").unwrap(),
        Some(3.0)
    );
    assert_eq!(snapshot.get::<u64>("num-workers").unwrap(), Some(3));
    let chunk = snapshot.lookup("array.chunk_size").unwrap();
    assert_eq!(chunk.key(), "array.chunk-size");
    assert_eq!(chunk.value(), &Value::from("16MiB"));
    assert_eq!(
        chunk.overridden().next().unwrap().value(),
        &Value::from("32MiB")
    );
    // No key in a non-canonical spelling survives the merge.
    assert_eq!(snapshot.unknown_keys().count(), 0);
    assert!(snapshot.warnings().is_empty(), "{:?}", snapshot.warnings());
}

#[test]
fn files_in_a_folder_are_read_in_name_order() {
    let sandbox = Sandbox::new().unwrap();
    sandbox
        .system_file("20-second.yaml", "num-workers: 2\nscheduler: threads\n")
        .unwrap();
    sandbox
        .system_file("10-first.yml", "num-workers: 1\nchunksize: 7\n")
        .unwrap();
    sandbox
        .system_file("ignored.txt", "num-workers: 99\n")
        .unwrap();
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(snapshot.get::<u64>("num-workers").unwrap(), Some(2));
    assert_eq!(snapshot.get::<u64>("chunksize").unwrap(), Some(7));
    let overridden: Vec<_> = snapshot
        .lookup("num-workers")
        .unwrap()
        .overridden()
        .map(|e| e.origin().path().map(|p| p.file_name().unwrap().to_owned()))
        .collect();
    assert_eq!(overridden, [Some("10-first.yml".into()), None]);
}

#[test]
fn xdg_config_home_replaces_the_home_folder() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.user_file("home.yaml", "num-workers: 2\n").unwrap();
    let xdg = sandbox.use_xdg_config_home();
    sandbox.user_file("xdg.yaml", "chunksize: 9\n").unwrap();
    assert!(xdg.join("xdg.yaml").exists());
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(snapshot.get::<u64>("chunksize").unwrap(), Some(9));
    // ~/.config/barrow is not read when XDG_CONFIG_HOME is set.
    assert_eq!(snapshot.get::<u64>("num-workers").unwrap(), None);
    assert_eq!(
        snapshot.lookup("chunksize").unwrap().origin().layer(),
        Layer::User
    );
}

#[test]
fn barrow_config_names_files_and_folders_in_order() {
    let mut sandbox = Sandbox::new().unwrap();
    let folder = sandbox.root().join("conf.d");
    sandbox
        .write("conf.d/a.yaml", "num-workers: 3\nchunksize: 8\n")
        .unwrap();
    sandbox.write("conf.d/b.yaml", "num-workers: 4\n").unwrap();
    let file = sandbox.write("last.conf", "chunksize: 12\n").unwrap();
    let named = format!("{}:{}", folder.display(), file.display());
    sandbox.set_env("BARROW_CONFIG", &named);
    let config = sandbox.config();
    let snapshot = config.snapshot().unwrap();
    assert_eq!(snapshot.get::<u64>("num-workers").unwrap(), Some(4));
    assert_eq!(snapshot.get::<u64>("chunksize").unwrap(), Some(12));
    assert_eq!(
        snapshot.lookup("chunksize").unwrap().origin().path(),
        Some(file.as_path())
    );
    assert_eq!(
        snapshot.lookup("chunksize").unwrap().origin().layer(),
        Layer::ConfigPath
    );
    // BARROW_CONFIG itself is not a key.
    assert_eq!(snapshot.unknown_keys().count(), 0);

    let search: Vec<(Layer, bool, usize)> = config
        .search_path()
        .iter()
        .map(|s| (s.layer(), s.exists(), s.files().len()))
        .collect();
    assert_eq!(
        search,
        [
            (Layer::System, true, 0),
            (Layer::User, false, 0),
            (Layer::ConfigPath, true, 2),
            (Layer::ConfigPath, true, 1),
        ]
    );
}

#[test]
fn refresh_rereads_files_and_variables_but_keeps_overrides() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.set_env("BARROW_SCHEDULER", "threads");
    let config = sandbox.config();
    config.set_global("chunksize", 11).unwrap();
    assert_eq!(
        config
            .snapshot()
            .unwrap()
            .get::<String>("scheduler")
            .unwrap()
            .as_deref(),
        Some("threads")
    );

    // Variables are read on first use: a change is not seen until refresh.
    sandbox.set_env("BARROW_SCHEDULER", "processes");
    sandbox.user_file("late.yaml", "num-workers: 5\n").unwrap();
    let before = config.snapshot().unwrap();
    assert_eq!(
        before.get::<String>("scheduler").unwrap().as_deref(),
        Some("threads")
    );
    assert_eq!(before.get::<u64>("num-workers").unwrap(), None);

    config.refresh().unwrap();
    let after = config.snapshot().unwrap();
    assert_eq!(
        after.get::<String>("scheduler").unwrap().as_deref(),
        Some("processes")
    );
    assert_eq!(after.get::<u64>("num-workers").unwrap(), Some(5));
    assert_eq!(after.get::<u64>("chunksize").unwrap(), Some(11));
    // A snapshot taken before is not changed by the refresh.
    assert_eq!(
        before.get::<String>("scheduler").unwrap().as_deref(),
        Some("threads")
    );
}

#[test]
fn null_unsets_an_optional_key_and_empties_a_list() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox
        .system_file("a.yaml", "scheduler: threads\nplugins:\n  load: [a]\n")
        .unwrap();
    sandbox.set_env("BARROW_SCHEDULER", "~");
    sandbox.set_env("BARROW_PLUGINS__LOAD", "");
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(snapshot.get::<String>("scheduler").unwrap(), None);
    assert_eq!(snapshot.setting("scheduler").unwrap(), Setting::Unset);
    assert_eq!(
        snapshot.get::<Vec<String>>("plugins.load").unwrap(),
        Some(vec![])
    );
    let config = sandbox.config();
    config.set_global("scheduler", Some("sync")).unwrap();
    let call = config
        .snapshot()
        .unwrap()
        .with_options([("scheduler", None::<&str>)])
        .unwrap();
    assert_eq!(call.get::<String>("scheduler").unwrap(), None);
}

#[test]
fn global_overrides_are_per_configuration_and_removable() {
    let sandbox = Sandbox::new().unwrap();
    let config = sandbox.config();
    let other = sandbox.config();
    config.set_global("num-workers", 2).unwrap();
    config
        .set_global("array.chunk-size", ByteSize::mib(32))
        .unwrap();
    assert_eq!(
        config
            .snapshot()
            .unwrap()
            .get::<u64>("num-workers")
            .unwrap(),
        Some(2)
    );
    assert_eq!(
        other.snapshot().unwrap().get::<u64>("num-workers").unwrap(),
        None
    );
    // A clone shares the overrides, and so does every thread.
    let clone = config.clone();
    let seen =
        std::thread::spawn(move || clone.snapshot().unwrap().get::<u64>("num-workers").unwrap())
            .join()
            .unwrap();
    assert_eq!(seen, Some(2));
    assert!(config.remove_global("num_workers"));
    assert!(!config.remove_global("num-workers"));
    assert_eq!(
        config
            .snapshot()
            .unwrap()
            .get::<u64>("num-workers")
            .unwrap(),
        None
    );
    config.clear_global();
    assert_eq!(
        config
            .snapshot()
            .unwrap()
            .get::<ByteSize>("array.chunk-size")
            .unwrap(),
        Some(ByteSize::mib(128))
    );
}

#[test]
fn explicit_sources_need_no_sandbox() {
    let config = Config::new(
        barrow_config::Sources::from_env([
            ("BARROW_NUM_WORKERS", "7"),
            ("HOME", "/nonexistent-home"),
        ])
        .with_system_dir("/nonexistent/etc/barrow"),
    );
    let snapshot = config.snapshot().unwrap();
    assert_eq!(snapshot.get::<u64>("num-workers").unwrap(), Some(7));
    assert!(snapshot.warnings().is_empty(), "{:?}", snapshot.warnings());
    let search = config.search_path();
    assert_eq!(
        search[1].path(),
        std::path::Path::new("/nonexistent-home/.config/barrow")
    );
    assert!(!search[1].exists());
}

#[test]
fn barrow_root_config_moves_the_system_folder() {
    let sandbox = Sandbox::new().unwrap();
    let elsewhere = sandbox.root().join("opt-etc");
    sandbox
        .write("opt-etc/site.yaml", "chunksize: 13\n")
        .unwrap();
    let sources =
        barrow_config::Sources::from_env([("BARROW_ROOT_CONFIG", elsewhere.to_str().unwrap())])
            .with_home(None);
    let snapshot = Config::new(sources).snapshot().unwrap();
    assert_eq!(snapshot.get::<u64>("chunksize").unwrap(), Some(13));
    assert_eq!(
        snapshot.lookup("chunksize").unwrap().origin().layer(),
        Layer::System
    );
    // BARROW_ROOT_CONFIG is not a key: the only warning is the missing home.
    let kinds: Vec<_> = snapshot.warnings().iter().map(|w| w.kind()).collect();
    assert_eq!(kinds, [barrow_config::WarningKind::NoHomeDirectory]);
}

#[test]
fn a_variable_may_set_a_whole_namespace_as_a_mapping() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.set_env("BARROW_ARRAY", "{chunk_size: 1MiB, rechunk: {method: p2p}}");
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(
        snapshot.get::<ByteSize>("array.chunk-size").unwrap(),
        Some(ByteSize::mib(1))
    );
    assert_eq!(
        snapshot
            .get::<String>("array.rechunk.method")
            .unwrap()
            .as_deref(),
        Some("p2p")
    );
    assert_eq!(
        snapshot.lookup("array.rechunk.method").unwrap().origin(),
        &Origin::Env("BARROW_ARRAY".into())
    );
}

#[test]
fn environment_values_that_are_not_yaml_stay_text() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.set_env("BARROW_SCHEDULER", "tcp://host: 8786: x");
    sandbox.set_env("BARROW_TEMPORARY_DIRECTORY", "'/scratch/with space'");
    sandbox.set_env("BARROW_PLUGINS__LOAD", "[unclosed");
    let snapshot = sandbox.config().snapshot().unwrap();
    assert_eq!(
        snapshot.get::<String>("scheduler").unwrap().as_deref(),
        Some("tcp://host: 8786: x")
    );
    assert_eq!(
        snapshot
            .get::<std::path::PathBuf>("temporary-directory")
            .unwrap(),
        Some("/scratch/with space".into())
    );
    assert_eq!(
        snapshot.get::<Vec<String>>("plugins.load").unwrap(),
        Some(vec!["[unclosed".to_owned()])
    );
}
