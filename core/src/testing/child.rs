//! Runs one test in a child process, so that a crash (an aborted
//! allocation, a signal) is a failed test instead of a dead test runner.

use std::process::{Command, Output};

/// The variable that tells a child which test it runs.
const CHILD_VAR: &str = "BARROW_TEST_CHILD";

/// Whether this process is the child started for test `name`.
pub fn is_child(name: &str) -> bool {
    std::env::var(CHILD_VAR).is_ok_and(|v| v == name)
}

/// Runs the test `name` of this test binary in a child process and returns
/// its output; in the child itself (see [`is_child`]) returns `None`, and
/// the test goes on with the part that may crash.
///
/// The child's environment is cleared but for `PATH`, with a fresh empty
/// home and configuration folders (nothing of the machine's configuration
/// reaches it), and `vars`.
///
/// ```ignore
/// #[test]
/// fn computing_7_tib_is_refused() {
///     let Some(output) = child::run("computing_7_tib_is_refused", &[]) else {
///         let err = huge.compute().unwrap_err(); // may abort: we are the child
///         assert!(err.to_string().contains("7.0 TiB"));
///         return;
///     };
///     assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
/// }
/// ```
///
/// # Panics
/// When the test binary cannot be started again (a test failure).
pub fn run(name: &str, vars: &[(&str, &str)]) -> Option<Output> {
    if is_child(name) {
        return None;
    }
    let exe = std::env::current_exe().expect("a test binary knows its path");
    let home = std::env::temp_dir().join(format!(
        "barrow-child-{}-{}",
        std::process::id(),
        name.replace("::", "-")
    ));
    for dir in ["home", "xdg", "etc"] {
        std::fs::create_dir_all(home.join(dir)).expect("a temporary home for the child");
    }
    let mut command = Command::new(exe);
    command
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.join("home"))
        .env("XDG_CONFIG_HOME", home.join("xdg"))
        .env("BARROW_ROOT_CONFIG", home.join("etc"))
        .env(CHILD_VAR, name);
    for (key, value) in vars {
        command.env(key, value);
    }
    let output = command.output().expect("the test binary starts again");
    let _ = std::fs::remove_dir_all(&home);
    Some(output)
}

/// Panics, with the child's output, unless it passed its test.
pub fn assert_passed(name: &str, output: &Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let ran = stdout.contains("1 passed");
    assert!(
        output.status.success() && ran,
        "test {name} in a child process ended {} (it must not crash):\n--- stdout\n{stdout}\n--- \
         stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}
