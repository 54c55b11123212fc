//! Warnings reach the user of a program, not only of the `barrow` command:
//! each once per process, to standard error when no `tracing` subscriber is
//! installed, as `logging.warnings` chooses.
//!
//! Each test runs a small program in a child process: this test binary
//! again, running only that test, with `PROGRAM` set. The program reads the
//! process's own configuration (`barrow_config::snapshot()`), as a real
//! program does; the child's environment is given explicitly (temporary
//! home and system folder), so nothing of this machine is read and the
//! test process's environment is not touched.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Set in the child: how the program sets up `tracing` ("none" or
/// "subscriber"). Not a `BARROW_` name: that would be a key.
const PROGRAM: &str = "CONFIG_WARNINGS_TEST_PROGRAM";

/// Counts the warnings it receives from barrow-config.
struct Counter(Arc<AtomicUsize>);

impl Subscriber for Counter {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if event.metadata().target() == "barrow_config" {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// The program: reads its configuration several times, as a program that
/// runs several computations does, and prints how many warnings a
/// subscriber (if it installed one) received.
fn program(setup: &str) {
    let count = Arc::new(AtomicUsize::new(0));
    if setup == "subscriber" {
        tracing::subscriber::set_global_default(Counter(count.clone())).unwrap();
    }
    for _ in 0..3 {
        let snapshot = barrow_config::snapshot().unwrap();
        assert_eq!(snapshot.get::<u64>("chunksize").unwrap(), Some(6));
        barrow_config::refresh().unwrap();
    }
    println!("subscriber received {}", count.load(Ordering::Relaxed));
}

/// Runs `test` of this binary as the program, with `setup` and only the
/// variables of `home` plus `vars`.
fn run_program(test: &str, setup: &str, home: &Path, vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env_clear()
        .env(PROGRAM, setup)
        .env("HOME", home.join("home"))
        .env("BARROW_ROOT_CONFIG", home.join("etc"))
        .env("TMPDIR", home);
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().unwrap()
}

/// A temporary home for the child, with a user file holding a typo.
fn child_home(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("config-warnings")
        .join(name);
    let _ = std::fs::remove_dir_all(&root);
    let user = root.join("home/.config/barrow");
    std::fs::create_dir_all(&user).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(user.join("site.yaml"), "num-wrkers: 2\n").unwrap();
    root
}

/// The variables with mistakes: a misspelt variable and a path that
/// cannot be read.
const MISTAKES: [(&str, &str); 2] = [
    ("BARROW_SCHEDULAR", "threads"),
    ("BARROW_CONFIG", "/nonexistent/barrow/extra.yaml"),
];

fn warnings_on_stderr(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|line| line.starts_with("barrow: warning: "))
        .map(str::to_owned)
        .collect()
}

fn received(out: &Output) -> usize {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.split("subscriber received ").nth(1))
        .and_then(|n| n.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("the program did not finish:\n{stdout}"))
}

/// The three warnings, as the program's user sees them.
fn expected(home: &Path) -> Vec<String> {
    let file = home.join("home/.config/barrow/site.yaml");
    vec![
        "barrow: warning: BARROW_CONFIG names /nonexistent/barrow/extra.yaml, which cannot be \
         read: No such file or directory (os error 2)"
            .to_owned(),
        format!(
            "barrow: warning: unknown configuration key \"num-wrkers\" (from {}); did you mean \
             \"num-workers\"?",
            file.display()
        ),
        "barrow: warning: unknown configuration key \"schedular\" (from BARROW_SCHEDULAR); did \
         you mean \"scheduler\"?"
            .to_owned(),
    ]
}

#[test]
fn without_a_subscriber_each_warning_is_printed_once_to_stderr() {
    if let Ok(setup) = std::env::var(PROGRAM) {
        return program(&setup);
    }
    let home = child_home("stderr");
    let out = run_program(
        "without_a_subscriber_each_warning_is_printed_once_to_stderr",
        "none",
        &home,
        &MISTAKES,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut warnings = warnings_on_stderr(&out);
    warnings.sort();
    assert_eq!(warnings, expected(&home), "each once, though read 3 times");
}

#[test]
fn with_a_subscriber_warnings_go_to_tracing_only() {
    if let Ok(setup) = std::env::var(PROGRAM) {
        return program(&setup);
    }
    let home = child_home("tracing");
    let out = run_program(
        "with_a_subscriber_warnings_go_to_tracing_only",
        "subscriber",
        &home,
        &MISTAKES,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(warnings_on_stderr(&out), Vec::<String>::new());
    assert_eq!(received(&out), 3, "each once");
}

#[test]
fn logging_warnings_chooses_stderr_tracing_or_off() {
    if let Ok(setup) = std::env::var(PROGRAM) {
        return program(&setup);
    }
    let test = "logging_warnings_chooses_stderr_tracing_or_off";
    let home = child_home("chosen");
    let with = |mode: &'static str| {
        let mut vars = MISTAKES.to_vec();
        vars.push(("BARROW_LOGGING__WARNINGS", mode));
        vars
    };
    // stderr: printed even though a subscriber is installed.
    let out = run_program(test, "subscriber", &home, &with("stderr"));
    assert_eq!(warnings_on_stderr(&out).len(), 3, "{out:?}");
    assert_eq!(received(&out), 0);
    // tracing: a program without a subscriber hears nothing.
    let out = run_program(test, "none", &home, &with("tracing"));
    assert_eq!(warnings_on_stderr(&out), Vec::<String>::new());
    assert!(out.status.success());
    // off: nothing anywhere; also when a file says so.
    let out = run_program(test, "subscriber", &home, &with("off"));
    assert_eq!(warnings_on_stderr(&out), Vec::<String>::new());
    assert_eq!(received(&out), 0);
    std::fs::write(home.join("etc/quiet.yaml"), "logging:\n  warnings: off\n").unwrap();
    let out = run_program(test, "none", &home, &MISTAKES);
    assert_eq!(warnings_on_stderr(&out), Vec::<String>::new());
    assert!(out.status.success());
}

#[test]
fn a_worker_process_leaves_the_warnings_to_its_program() {
    if let Ok(setup) = std::env::var(PROGRAM) {
        return program(&setup);
    }
    // A worker reads the same files and variables as the program that
    // started it, which already told its user.
    let home = child_home("worker");
    let mut vars = MISTAKES.to_vec();
    vars.push(("BARROW_WORKER_ID", "3"));
    let out = run_program(
        "a_worker_process_leaves_the_warnings_to_its_program",
        "none",
        &home,
        &vars,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(warnings_on_stderr(&out), Vec::<String>::new());
}
