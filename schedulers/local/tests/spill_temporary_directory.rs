//! A `temporary-directory` that cannot be used falls back to the system's
//! temporary directory with a warning, as its documentation promises,
//! instead of failing the computation at its first spill.
//!
//! The permission case runs as a user who may not write the folder: as
//! root, the test re-runs itself as `nobody` (with `setpriv`, from
//! util-linux); as anyone else, it re-runs itself directly. Either way the
//! child's warning is read from its standard error.
#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use barrow_config::Sandbox;
use barrow_core::arg::key;
use barrow_core::codec::CodecRegistry;
use barrow_core::collection::GraphKeys;
use barrow_core::store::Store;
use barrow_core::{Func, Graph, Key, Options, Task, Value, compute_with};
use barrow_local::SpillStore;

/// Set in the child: the folder it may not write, to configure.
const LOCKED: &str = "SPILL_TEST_LOCKED_DIR";

fn codecs() -> Arc<CodecRegistry> {
    Arc::new(CodecRegistry::with_builtins())
}

/// Spills one of two 800-byte values through a store made from `sandbox`'s
/// configuration (budget 1000 bytes); returns the store's parent folder.
fn spill_once(sandbox: &Sandbox) -> PathBuf {
    let snapshot = sandbox.config().snapshot().unwrap();
    let mut store = SpillStore::from_config(&snapshot, codecs())
        .unwrap()
        .unwrap();
    store
        .put(0, &Key::new("a"), Value::new(vec![1.0f64; 100]))
        .unwrap();
    store
        .put(1, &Key::new("b"), Value::new(vec![2.0f64; 100]))
        .unwrap();
    assert_eq!(store.stats().spilled_count, 1);
    let back = store.get(0, &Key::new("a")).unwrap().unwrap();
    assert_eq!(back.downcast_ref::<Vec<f64>>().unwrap(), &vec![1.0; 100]);
    let spill_dir = store.spill_dir().unwrap().to_owned();
    assert!(spill_dir.starts_with(store.parent_dir()), "{spill_dir:?}");
    store.parent_dir().to_owned()
}

/// A whole computation that must spill, under `sandbox`'s configuration.
fn compute_spilling(sandbox: &Sandbox) -> f64 {
    let _default = sandbox.config().set_default();
    let ones = Func::new("ones", |n: &i64| vec![1.0f64; *n as usize]);
    let sum = Func::new("sum", |a: &Vec<f64>, b: &Vec<f64>| {
        a.iter().chain(b).sum::<f64>()
    });
    let graph = Graph::from_tasks([
        ("n", Task::literal(10_000i64)),
        ("a", Task::call(&ones, [key("n")])),
        ("b", Task::call(&ones, [key("n")])),
        ("total", Task::call(&sum, [key("a"), key("b")])),
    ])
    .unwrap();
    barrow_local::link();
    let options = Options::new()
        .scheduler("sync")
        .set("local.spill.memory-limit", "100KB");
    let out = compute_with(GraphKeys::new(graph, ["total"]), &options).unwrap();
    *out[0].downcast_ref::<f64>().unwrap()
}

/// Makes `sandbox` spill to `configured`, with a system folder of its own
/// (returned), and warnings on standard error.
fn spill_to(sandbox: &mut Sandbox, configured: &Path) -> PathBuf {
    let system = sandbox.root().join("system-tmp");
    sandbox
        .set_env("TMPDIR", system.to_str().unwrap())
        .set_env("BARROW_TEMPORARY_DIRECTORY", configured.to_str().unwrap())
        .set_env("BARROW_LOCAL__SPILL__MEMORY_LIMIT", "1000B")
        .set_env("BARROW_LOGGING__WARNINGS", "stderr");
    system
}

#[test]
fn a_temporary_directory_that_cannot_be_made_falls_back_to_the_systems() {
    let mut sandbox = Sandbox::new().unwrap();
    // A file where the folder should be stops root too.
    let blocker = sandbox.write("blocker", "a file, not a folder").unwrap();
    let system = spill_to(&mut sandbox, &blocker.join("tmp"));
    assert_eq!(spill_once(&sandbox), system);
    assert_eq!(compute_spilling(&sandbox), 20_000.0);

    // A folder that can be made is used, and made if missing.
    let wanted = sandbox.root().join("spill/here");
    spill_to(&mut sandbox, &wanted);
    assert_eq!(spill_once(&sandbox), wanted);
    assert!(wanted.is_dir());
}

#[test]
fn a_temporary_directory_the_user_cannot_write_falls_back_with_a_warning() {
    if let Ok(locked) = std::env::var(LOCKED) {
        // The child: a user who may not write `locked`.
        let mut sandbox = Sandbox::new().unwrap();
        let system = spill_to(&mut sandbox, Path::new(&locked));
        assert_eq!(spill_once(&sandbox), system);
        assert_eq!(compute_spilling(&sandbox), 20_000.0);
        println!("spilled into {}", system.display());
        return;
    }
    let as_root = real_user_id() == 0;
    if as_root && !barrow_test_support::require_program("setpriv", "util-linux") {
        return;
    }
    // A folder every user may enter, holding this test's binary (its own
    // folder may be closed to other users) and the folder to lock.
    let shared = std::env::temp_dir().join(format!("barrow-spill-perm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&shared);
    std::fs::create_dir_all(&shared).unwrap();
    set_mode(&shared, 0o777);
    let locked = shared.join("locked");
    std::fs::create_dir(&locked).unwrap();
    // Root owns it and keeps writing to itself; anyone else loses it.
    set_mode(&locked, if as_root { 0o755 } else { 0o555 });
    let binary = shared.join("test-binary");
    std::fs::copy(std::env::current_exe().unwrap(), &binary).unwrap();
    set_mode(&binary, 0o755);

    let test = "a_temporary_directory_the_user_cannot_write_falls_back_with_a_warning";
    let mut command = if as_root {
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&binary);
        command
    } else {
        Command::new(&binary)
    };
    let out = command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env_clear()
        .env("TMPDIR", &shared)
        .env(LOCKED, &locked)
        .output()
        .unwrap();
    set_mode(&locked, 0o755);
    let _ = std::fs::remove_dir_all(&shared);

    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the child failed:\n{stdout}\n{stderr}"
    );
    let used = stdout
        .lines()
        .find_map(|l| l.split("spilled into ").nth(1))
        .unwrap_or_else(|| panic!("the child did not spill:\n{stdout}"));
    assert!(used.starts_with(shared.to_str().unwrap()), "{used}");
    assert!(!used.starts_with(locked.to_str().unwrap()), "{used}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("barrow: warning: "))
        .collect();
    assert_eq!(
        warnings,
        [format!(
            "barrow: warning: cannot make a spill folder in {} (temporary-directory, from \
             BARROW_TEMPORARY_DIRECTORY): permission denied; using {used} instead",
            locked.display()
        )],
        "once, though two stores spilled:\n{stderr}"
    );
}

/// The real user id, from `/proc` (Linux) or `id -u`.
fn real_user_id() -> u32 {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(uid) = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().next())
            .and_then(|id| id.parse().ok())
    {
        return uid;
    }
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
