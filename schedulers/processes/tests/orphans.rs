//! Workers die with their program: a program killed with `kill -9` while
//! its worker runs a long task leaves no worker behind (without this the
//! worker ran its task to the end first). A test of its own with
//! `harness = false`: it runs itself as the program that gets killed, whose
//! `main` has the worker hook (and, for the fork context, starts the fork
//! server before any thread).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use barrow_core::arg::lit;
use barrow_core::collection::GraphKeys;
use barrow_core::{Graph, Options, Task, compute_with};
use barrow_processes::{ProcessPool, ProcessesScheduler};

/// Set on the program this test kills: the folder the worker reports in.
const REPORT_DIR: &str = "BARROW_TEST_ORPHANS_DIR";

/// Writes this worker's pid and its parent's to the report folder, then
/// sleeps far longer than the test waits.
#[barrow_core::task]
fn report_and_sleep(_x: &i64) -> i64 {
    let dir = std::env::var(REPORT_DIR).unwrap_or_default();
    let line = format!(
        "{} {}\n",
        std::process::id(),
        std::os::unix::process::parent_id()
    );
    let tmp = Path::new(&dir).join("worker.tmp");
    std::fs::write(&tmp, line).unwrap();
    std::fs::rename(tmp, Path::new(&dir).join("worker.pid")).unwrap();
    std::thread::sleep(Duration::from_secs(120));
    0
}

/// The program that gets killed: a pool of one worker running
/// `report_and_sleep`.
fn be_the_program() {
    let pool = Arc::new(ProcessPool::new(1).unwrap());
    let options = Options::new().scheduler_object(Arc::new(ProcessesScheduler::with_pool(pool)));
    let graph =
        Graph::from_tasks([("t", Task::call(&report_and_sleep::func(), [lit(0i64)]))]).unwrap();
    let _ = compute_with(GraphKeys::new(graph, ["t"]), &options);
}

/// Whether process `pid` is gone (or a zombie waiting to be reaped).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state follows the command name in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| matches!(rest.trim_start().chars().next(), Some('Z' | 'X'))),
    }
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("gave up waiting for {what} after {limit:?}");
    false
}

/// Kills the program (started with `context`) once its worker runs, and
/// checks that the worker (and the fork server, with `fork`) dies too.
fn the_worker_dies_with_its_program(context: &str) {
    let dir = tempfile::tempdir().unwrap();
    let home: PathBuf = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut program = Command::new(std::env::current_exe().unwrap())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", &home)
        .env("BARROW_ROOT_CONFIG", &home)
        .env("BARROW_PROCESSES__CONTEXT", context)
        .env(REPORT_DIR, dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let report = dir.path().join("worker.pid");
    let started = wait_for(
        "the worker to start its task",
        Duration::from_secs(30),
        || report.exists(),
    );
    if !started {
        let _ = program.kill();
        panic!("{context}: the worker never ran its task");
    }
    let text = std::fs::read_to_string(&report).unwrap();
    let mut ids = text.split_whitespace().map(|n| n.parse::<u32>().unwrap());
    let (worker, parent) = (ids.next().unwrap(), ids.next().unwrap());
    program.kill().unwrap();
    program.wait().unwrap();
    let died = wait_for("the worker to die", Duration::from_secs(10), || {
        gone(worker)
    });
    if !died {
        // Do not leave it running for two minutes.
        // SAFETY: sending a signal has no memory-safety conditions.
        unsafe { libc::kill(worker as libc::pid_t, libc::SIGKILL) };
    }
    assert!(
        died,
        "{context}: worker {worker} still runs its task after its program was killed"
    );
    if parent != program.id() {
        // The fork server, the worker's parent in the fork context.
        assert!(
            wait_for("the fork server to die", Duration::from_secs(10), || gone(
                parent
            )),
            "{context}: the fork server {parent} outlived its program"
        );
    }
    println!("{context}: the worker died with its program");
}

fn main() {
    if std::env::var_os(REPORT_DIR).is_some() {
        // The program the test kills: the hook first (it starts the fork
        // server when the context is fork), then the pool.
        barrow_processes::worker_main_with(|_| Ok(())).unwrap();
        be_the_program();
        return;
    }
    if !cfg!(target_os = "linux") {
        println!("skipped: the check reads /proc");
        return;
    }
    for context in ["spawn", "fork"] {
        the_worker_dies_with_its_program(context);
    }
}
