//! The spilling store: every value comes back as it went in, memory stays
//! within the budget, failures name the path, and no file outlives the
//! store.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use barrow_core::arg::{key, keys, lit};
use barrow_core::codec::CodecRegistry;
use barrow_core::function::List;
use barrow_core::store::Store;
use barrow_core::testing::run_with;
use barrow_core::{ErrorKind, Func, Graph, Key, Options, Registry, RunContext, Task, Value};
use barrow_local::{SpillStore, SyncScheduler};
use proptest::prelude::*;

/// A type no codec encodes: it must stay in memory.
#[derive(Debug, Clone, PartialEq)]
struct NoCodec(Vec<u8>);

#[derive(Debug, Clone)]
enum Data {
    F64(Vec<f64>),
    I64(Vec<i64>),
    Text(String),
    Texts(Vec<String>),
    Opaque(NoCodec),
}

impl Data {
    fn value(&self) -> Value {
        match self {
            Data::F64(v) => Value::new(v.clone()),
            Data::I64(v) => Value::new(v.clone()),
            Data::Text(v) => Value::new(v.clone()),
            Data::Texts(v) => Value::new(v.clone()),
            Data::Opaque(v) => Value::with_nbytes(v.clone(), v.0.len()),
        }
    }

    /// Whether `value` holds this data (floats compared bit for bit).
    fn is_in(&self, value: &Value) -> bool {
        match self {
            Data::F64(v) => {
                let back = value.downcast_ref::<Vec<f64>>().unwrap();
                back.len() == v.len() && back.iter().zip(v).all(|(a, b)| a.to_bits() == b.to_bits())
            }
            Data::I64(v) => value.downcast_ref::<Vec<i64>>().unwrap() == v,
            Data::Text(v) => value.downcast_ref::<String>().unwrap() == v,
            Data::Texts(v) => value.downcast_ref::<Vec<String>>().unwrap() == v,
            Data::Opaque(v) => value.downcast_ref::<NoCodec>().unwrap() == v,
        }
    }
}

fn data() -> impl Strategy<Value = Data> {
    prop_oneof![
        proptest::collection::vec(any::<f64>(), 0..100).prop_map(Data::F64),
        proptest::collection::vec(any::<i64>(), 0..100).prop_map(Data::I64),
        ".{0,200}".prop_map(Data::Text),
        proptest::collection::vec(".{0,20}", 0..10).prop_map(Data::Texts),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|v| Data::Opaque(NoCodec(v))),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Put(u32, Data),
    Get(u32),
    Remove(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u32..48, data()).prop_map(|(id, data)| Op::Put(id, data)),
        3 => (0u32..48).prop_map(Op::Get),
        1 => (0u32..48).prop_map(Op::Remove),
    ]
}

fn codecs() -> Arc<CodecRegistry> {
    Arc::new(CodecRegistry::with_builtins())
}

fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).unwrap().next().is_none()
}

/// The spill folders in `parent`.
fn spill_dirs(parent: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(parent)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("barrow-spill-"))
        })
        .collect()
}

const BUDGET: usize = 600;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random puts, gets and removes through a small budget, checked
    /// against a map after every step.
    #[test]
    fn values_come_back_identical(ops in proptest::collection::vec(op(), 1..300)) {
        let parent = tempfile::tempdir().unwrap();
        let mut store = SpillStore::new(BUDGET, parent.path(), codecs());
        let mut model: Vec<Option<Data>> = vec![None; 64];
        // More than the budget up front, so every case spills.
        let mut ops = ops;
        for id in 48..52 {
            ops.insert(0, Op::Put(id, Data::F64(vec![f64::from(id); 100])));
            ops.push(Op::Get(id));
        }
        for op in ops {
            match op {
                Op::Put(id, data) => {
                    let k = Key::from(("v", id));
                    store.put(id, &k, data.value()).unwrap();
                    model[id as usize] = Some(data);
                }
                Op::Get(id) => {
                    let k = Key::from(("v", id));
                    let got = store.get(id, &k).unwrap();
                    match &model[id as usize] {
                        Some(data) => prop_assert!(data.is_in(&got.unwrap()), "value {} changed", id),
                        None => prop_assert!(got.is_none()),
                    }
                }
                Op::Remove(id) => {
                    store.remove(id, &Key::from(("v", id))).unwrap();
                    model[id as usize] = None;
                }
            }
            let stats = store.stats();
            prop_assert_eq!(store.len(), model.iter().flatten().count());
            prop_assert_eq!(store.nbytes(), stats.resident_bytes);
            prop_assert_eq!(stats.resident_count + stats.disk_count, store.len());
            // Within the budget, unless only values without a codec are left.
            prop_assert!(
                stats.resident_bytes <= BUDGET || stats.resident_bytes == stats.no_codec_bytes,
                "{:?}", stats
            );
            let no_codec: Vec<&Data> = model.iter().flatten().filter(|d| matches!(d, Data::Opaque(_))).collect();
            prop_assert_eq!(stats.no_codec_count, no_codec.len());
        }
        for (id, data) in model.iter().enumerate() {
            if let Some(data) = data {
                let id = id as u32;
                prop_assert!(data.is_in(&store.get(id, &Key::from(("v", id))).unwrap().unwrap()));
            }
        }
        let stats = store.stats();
        prop_assert!(stats.spilled_bytes > 0 && stats.loaded_count > 0, "{:?}", stats);
        prop_assert!(stats.written_bytes > 0);
        let folder = store.spill_dir().unwrap().to_path_buf();
        prop_assert!(folder.starts_with(parent.path()));
        drop(store);
        prop_assert!(!folder.exists());
        prop_assert!(is_empty_dir(parent.path()));
    }
}

#[test]
fn counters_tell_what_happened() {
    let parent = tempfile::tempdir().unwrap();
    let mut store = SpillStore::new(1000, parent.path(), codecs());
    assert_eq!(store.memory_limit(), 1000);
    assert!(
        store.spill_dir().is_none(),
        "no folder before the first spill"
    );
    let text = "spill me ".repeat(100_000);
    store
        .put(0, &Key::new("text"), Value::new(text.clone()))
        .unwrap();
    store
        .put(
            1,
            &Key::new("opaque"),
            Value::with_nbytes(NoCodec(vec![1]), 5000),
        )
        .unwrap();
    let stats = store.stats();
    assert_eq!(stats.spilled_count, 1, "{stats:?}");
    assert_eq!(stats.spilled_bytes, text.len() as u64);
    assert!(
        stats.disk_bytes < text.len() as u64 / 20,
        "lz4 above 64 KiB: {stats:?}"
    );
    assert_eq!((stats.no_codec_count, stats.no_codec_bytes), (1, 5000));
    assert_eq!((stats.resident_count, stats.disk_count), (1, 1));
    assert!(store.spill_dir().unwrap().starts_with(parent.path()));
    // Memory holds only the value without a codec, over the budget:
    // anything else put now goes to disk.
    store.put(2, &Key::new("small"), Value::new(7i64)).unwrap();
    assert_eq!(store.nbytes(), 5000);
    assert_eq!(store.stats().spilled_count, 2);
    // Reading back keeps the file, so spilling again writes nothing.
    let written = store.stats().written_bytes;
    assert_eq!(
        *store
            .get(2, &Key::new("small"))
            .unwrap()
            .unwrap()
            .downcast_ref::<i64>()
            .unwrap(),
        7
    );
    assert_eq!(
        *store
            .get(0, &Key::new("text"))
            .unwrap()
            .unwrap()
            .downcast_ref::<String>()
            .unwrap(),
        text
    );
    let stats = store.stats();
    assert_eq!((stats.loaded_count, stats.spilled_count), (2, 4));
    assert_eq!(stats.written_bytes, written);
    store.remove(0, &Key::new("text")).unwrap();
    store.remove(2, &Key::new("small")).unwrap();
    let stats = store.stats();
    assert_eq!((stats.disk_count, stats.disk_bytes), (0, 0));
    assert!(
        store
            .spill_file()
            .unwrap()
            .starts_with(store.spill_dir().unwrap())
    );
    assert_eq!(store.len(), 1);
    assert!(format!("{store:?}").contains("SpillStore"));
}

/// The conformance-style failure case: a task fails while results sit in
/// spill files; the error is the task's, and no file is left.
#[test]
fn a_failed_computation_leaves_no_spill_files() {
    let parent = tempfile::tempdir().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (watch, folder) = (seen.clone(), parent.path().to_path_buf());
    let ramp = Func::new("ramp", |i: &i64| vec![*i as f64; 100]);
    let fail = Func::try_new("fail", move |xs: List<Vec<f64>>| {
        let spilled: u64 = spill_dirs(&folder)
            .iter()
            .flat_map(|dir| std::fs::read_dir(dir).unwrap())
            .map(|file| file.unwrap().metadata().unwrap().len())
            .sum();
        watch.lock().unwrap().push((xs.len(), spilled));
        Err::<f64, _>("no sum today")
    });
    let combine = Func::new("combine", |xs: List<Vec<f64>>, check: &f64| {
        xs.len() as f64 + check
    });
    let xs = || keys((0..50u32).map(|i| ("x", i)));
    // `check` runs first (`total` needs it) and fails while the inputs it
    // shares with `total` sit in spill files.
    let mut tasks: Vec<(Key, Task)> = (0..50u32)
        .map(|i| (Key::from(("x", i)), Task::call(&ramp, [lit(i64::from(i))])))
        .collect();
    tasks.push((Key::new("check"), Task::call(&fail, [xs()])));
    tasks.push((
        Key::new("total"),
        Task::call(&combine, [xs(), key("check")]),
    ));
    let graph = Graph::from_tasks(tasks).unwrap();
    let options = Options::new()
        .registry(Arc::new(Registry::with_static()))
        .set("local.spill.memory-limit", "2KiB")
        .set("temporary-directory", parent.path());
    let err = run_with(&SyncScheduler, &graph, &[Key::new("total")], &options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TaskFailed, "{err}");
    assert_eq!(err.key(), Some(&Key::new("check")));
    assert!(err.to_string().contains("no sum today"), "{err}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, 50);
    assert!(
        seen[0].1 >= 40 * 800,
        "most inputs were on disk when the task ran: {seen:?}"
    );
    assert!(
        is_empty_dir(parent.path()),
        "{:?}",
        spill_dirs(parent.path())
    );
}

/// Runs `check` with a directory whose permissions forbid writing, unless
/// permissions do not apply (as for root), which is said and skipped.
fn with_read_only_dir(check: impl FnOnce(&Path)) {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let read_only = parent.path().join("read-only");
    std::fs::create_dir(&read_only).unwrap();
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = read_only.join("probe");
    if std::fs::write(&probe, b"").is_ok() {
        eprintln!("skipped: permissions do not stop this user (root?) from writing");
        std::fs::remove_file(probe).unwrap();
    } else {
        check(&read_only);
    }
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn an_unwritable_directory_is_an_error_naming_it() {
    with_read_only_dir(|read_only| {
        let mut store = SpillStore::new(0, read_only, codecs());
        let err = store
            .put(0, &Key::new("x"), Value::new(vec![1.0f64; 10]))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Store);
        assert!(
            err.to_string().contains(&read_only.display().to_string()),
            "{err}"
        );
        // Nothing lost: the value is still there, in memory.
        let back = store.get(0, &Key::new("x")).unwrap().unwrap();
        assert_eq!(back.downcast_ref::<Vec<f64>>().unwrap(), &vec![1.0; 10]);
    });
}

/// A file where the folder should be stops root too.
#[test]
fn a_file_in_place_of_the_directory_is_an_error_naming_it() {
    let parent = tempfile::tempdir().unwrap();
    let not_a_dir = parent.path().join("not-a-dir");
    std::fs::write(&not_a_dir, b"").unwrap();
    let mut store = SpillStore::new(10, &not_a_dir, codecs());
    store.put(0, &Key::new("small"), Value::new(1u8)).unwrap();
    let err = store
        .put(1, &Key::from(("big", 3)), Value::new(vec![0u64; 100]))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store);
    let message = err.to_string();
    assert!(
        message.contains(&not_a_dir.display().to_string()),
        "{message}"
    );
    assert!(
        message.contains("temporary-directory"),
        "says what to do: {message}"
    );
    assert_eq!(store.len(), 2, "nothing lost");

    // Through the configuration, the system's temporary directory is the
    // fall-back (tests/spill_temporary_directory.rs); when it is blocked
    // too, the run fails at its first spill, naming both.
    let mut sandbox = barrow_config::Sandbox::new().unwrap();
    let blocked_system = parent.path().join("no-system-tmp");
    std::fs::write(&blocked_system, b"").unwrap();
    sandbox.set_env("TMPDIR", blocked_system.to_str().unwrap());
    let _default = sandbox.config().set_default();
    let inc = Func::new("inc", |x: &i64| x + 1);
    let graph = Graph::from_tasks([
        ("x", Task::literal(vec![1.0f64; 1000])),
        ("y", Task::literal(1i64)),
        ("z", Task::call(&inc, [key("y")])),
    ])
    .unwrap();
    let options = Options::new()
        .scheduler("sync")
        .set("local.spill.memory-limit", "1KiB")
        .set("temporary-directory", not_a_dir.as_path());
    barrow_local::link();
    let collection = barrow_core::collection::GraphKeys::new(graph, ["x", "z"]);
    let err = barrow_core::compute_with(collection, &options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store, "{err}");
    for path in [&not_a_dir, &blocked_system] {
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }

    // A run that never spills touches no disk.
    let small = Graph::from_tasks([("y", Task::literal(1i64))]).unwrap();
    let collection = barrow_core::collection::GraphKeys::new(small, ["y"]);
    barrow_core::compute_with(collection, &options).unwrap();
}

/// A bad budget in a file is an error naming the key, the value and the
/// file, and the store that could not be made.
#[test]
fn a_bad_budget_is_a_config_error() {
    let sandbox = barrow_config::Sandbox::new().unwrap();
    sandbox
        .user_file("spill.yaml", "local:\n  spill:\n    memory-limit: lots\n")
        .unwrap();
    let options = Options::new().config(sandbox.config().snapshot().unwrap());
    let registry = Registry::with_static();
    assert!(registry.stores().contains("spill"));
    let err = RunContext::new(&registry, &options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let message = err.to_string();
    assert!(message.contains("'spill' store"), "{message}");
    assert!(
        message.contains("local.spill.memory-limit") && message.contains("lots"),
        "{message}"
    );
    assert!(message.contains("spill.yaml"), "{message}");

    // Where the context cannot fail, the run fails on its first result.
    let graph = Graph::from_tasks([("y", Task::literal(1i64))]).unwrap();
    let collection = barrow_core::collection::GraphKeys::new(graph, ["y"]);
    let err = barrow_core::compute_with(collection, &options.scheduler("sync")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("lots"), "{err}");
}

#[test]
fn a_damaged_spill_file_is_an_error_naming_it() {
    let parent = tempfile::tempdir().unwrap();
    let mut store = SpillStore::new(0, parent.path(), codecs());
    let (a, b) = (Key::new("a"), Key::from(("b", 7)));
    store.put(0, &a, Value::new(vec![1i64; 100])).unwrap();
    store.put(1, &b, Value::new(vec![2i64; 100])).unwrap();
    let file = store.spill_file().unwrap().to_path_buf();
    let shown = file.display().to_string();

    // A byte of `a` (written first, at the start) changed.
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[50] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let err = store.get(0, &a).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Codec);
    let message = err.to_string();
    assert!(
        message.contains("task a") && message.contains(&shown),
        "{message}"
    );
    assert!(message.contains("checksum"), "{message}");

    // The file cut short.
    std::fs::write(&file, &bytes[..10]).unwrap();
    let err = store.get(1, &b).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Store);
    let message = err.to_string();
    assert!(
        message.contains("('b', 7)") && message.contains(&shown),
        "{message}"
    );
    let folder = store.spill_dir().unwrap().to_path_buf();
    drop(store);
    assert!(!folder.exists());
}

/// Codecs registered with the run's registry spill their types; a value
/// without one stays in memory and the run still succeeds.
#[test]
fn the_run_uses_the_registry_codecs() {
    let registry = Registry::with_static();
    registry
        .codecs()
        .register(Arc::new(
            barrow_core::codec::SerdeCodec::<(u32, String)>::new("test.pair"),
        ))
        .unwrap();
    let parent = tempfile::tempdir().unwrap();
    let options = Options::new()
        .set("local.spill.memory-limit", "0")
        .set("temporary-directory", parent.path());
    let mut ctx = RunContext::new(&registry, &options).unwrap();
    let store = ctx.store();
    store
        .put(0, &Key::new("p"), Value::new((3u32, String::from("x"))))
        .unwrap();
    store
        .put(1, &Key::new("n"), Value::new(NoCodec(vec![1])))
        .unwrap();
    assert_eq!(
        store.nbytes(),
        size_of::<NoCodec>(),
        "only the value without a codec is in memory"
    );
    let back = store.get(0, &Key::new("p")).unwrap().unwrap();
    assert_eq!(
        back.downcast_ref::<(u32, String)>().unwrap(),
        &(3, "x".to_string())
    );
    assert_eq!(spill_dirs(parent.path()).len(), 1);
    drop(ctx);
    assert!(is_empty_dir(parent.path()));
}
