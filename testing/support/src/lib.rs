//! Helpers shared by Barrow's tests.
//!
//! # Tests that need a program from outside Rust
//!
//! Some tests drive a real program: Graphviz's `dot` today; Chromium, Slurm
//! and `sshd` for the cluster. The rule for every such test:
//!
//! - the program is installed: the test runs;
//! - it is missing: the test prints one line saying what it skipped and
//!   which Debian package to install, and passes, so that `cargo test
//!   --workspace` on a fresh machine is green and runs every test binary;
//! - it is missing and the environment has `CI=true` (as `.ci/run` sets):
//!   the test fails, so CI never skips silently.
//!
//! [`require_program`] implements the rule; start such a test with it:
//!
//! ```
//! use barrow_test_support::require_program;
//!
//! // #[test]
//! fn graphviz_renders_svg() {
//!     if !require_program("dot", "graphviz") {
//!         return;
//!     }
//!     // ... run `dot` ...
//! }
//! # graphviz_renders_svg();
//! ```
//!
//! Put what the test can check without the program before the call, so
//! that part runs everywhere. The package names are Debian's
//! (`graphviz`, `chromium`, `slurm-client`, `openssh-server`); the README's
//! set-up lists them.
#![deny(missing_docs, missing_debug_implementations)]

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The variable that turns a missing program from a skip into a failure.
pub const CI_VAR: &str = "CI";

/// Whether `program` is on `PATH`; if it is not, says so and either lets
/// the test pass (returns `false`: return from the test) or, under
/// `CI=true`, fails it.
///
/// The skip line goes straight to the process's standard error, past the
/// test harness's capture, so it shows even though the test passes:
///
/// ```text
/// skipped test dot_renders_to_svg: it needs `dot`, which is not on PATH; install the Debian package `graphviz` (apt-get install graphviz), or set CI=true to make this a failure
/// ```
///
/// `program` is a name looked up in `PATH`, or a path (with a `/`) checked
/// as is. `debian_package` is the package that provides it.
///
/// # Panics
///
/// When the program is missing and `CI` is `true` (also `1` or `yes`, any
/// case): that is how the test fails.
#[track_caller]
pub fn require_program(program: &str, debian_package: &str) -> bool {
    let path = std::env::var_os("PATH");
    if find_program(program, path.as_deref()).is_some() {
        return true;
    }
    let test = current_test();
    let reason = format!(
        "it needs `{program}`, which is not on PATH; install the Debian package \
         `{debian_package}` (apt-get install {debian_package})"
    );
    if is_ci(std::env::var_os(CI_VAR).as_deref()) {
        panic!("{test} cannot run: {reason}. {CI_VAR}=true, so a missing program fails the test");
    }
    // Not `eprintln!`: the harness captures that and shows it only for
    // failing tests, and a skip must be seen. One write, so that the line
    // is not cut by other tests' output.
    let line = format!("skipped {test}: {reason}, or set {CI_VAR}=true to make this a failure\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    false
}

/// The file `program` names: `program` itself if it contains a `/`, else
/// the first executable file of that name in the folders of `path` (a
/// `PATH`-style list). `None` when there is none.
pub fn find_program(program: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    if program.is_empty() {
        return None;
    }
    if program.contains(std::path::MAIN_SEPARATOR) {
        let file = PathBuf::from(program);
        return is_executable(&file).then_some(file);
    }
    std::env::split_paths(path?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(program))
        .find(|file| is_executable(file))
}

/// Whether a `CI` variable's value means "this is CI": `true`, `1` or
/// `yes`, in any case.
pub fn is_ci(value: Option<&OsStr>) -> bool {
    value
        .and_then(OsStr::to_str)
        .map(str::trim)
        .is_some_and(|v| {
            ["true", "1", "yes"]
                .iter()
                .any(|t| v.eq_ignore_ascii_case(t))
        })
}

#[cfg(unix)]
fn is_executable(file: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(file).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(file: &Path) -> bool {
    std::fs::metadata(file).is_ok_and(|m| m.is_file())
}

/// "test NAME" when the harness named this thread after its test.
fn current_test() -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" => format!("test {name}"),
        _ => "a test".to_owned(),
    }
}

/// Polls `ready` every 20 ms until it gives a value, and returns it. A
/// guard against a hang, not a measurement: after `limit` (seconds, far
/// above what the wait takes) it panics with `hang()`, which says what
/// never happened.
///
/// ```
/// let mut n = 0;
/// let three = barrow_test_support::wait_until(5, || { n += 1; (n >= 3).then_some(n) }, || "n never reached 3".into());
/// assert_eq!(three, 3);
/// ```
///
/// # Panics
///
/// When `ready` gives nothing within `limit` seconds: that is how a test
/// that would hang fails instead.
#[track_caller]
pub fn wait_until<T>(
    limit: u64,
    mut ready: impl FnMut() -> Option<T>,
    hang: impl FnOnce() -> String,
) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(limit);
    loop {
        if let Some(value) = ready() {
            return value;
        }
        if std::time::Instant::now() >= deadline {
            panic!("gave up after {limit} s: {}", hang());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_values() {
        for yes in ["true", "TRUE", "1", "yes", " True "] {
            assert!(is_ci(Some(OsStr::new(yes))), "{yes}");
        }
        for no in ["", "false", "0", "no", "ci"] {
            assert!(!is_ci(Some(OsStr::new(no))), "{no}");
        }
        assert!(!is_ci(None));
    }
}
