//! `require_program` as a test sees it: run in a child process (this test
//! binary again, one test, its environment given explicitly), so the
//! missing-program and `CI` cases do not depend on this machine.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use barrow_test_support::{find_program, require_program};

/// Set in the child: the program it requires.
const CHILD_PROGRAM: &str = "BARROW_TEST_SUPPORT_CHILD_PROGRAM";
/// The test that plays the child.
const CHILD_TEST: &str = "the_child_requires_a_program";

/// In a child (with `CHILD_PROGRAM` set): requires that program, and
/// prints "ran" if the test goes on. Run directly, it requires `sh`, which
/// every machine that runs these tests has.
#[test]
fn the_child_requires_a_program() {
    let program = std::env::var(CHILD_PROGRAM).unwrap_or_else(|_| "sh".to_owned());
    if !require_program(&program, "test-package") {
        return;
    }
    println!("ran with {program}");
}

/// A fresh folder under cargo's temporary folder for test files.
fn folder(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("require-program")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the child test with only `vars` in its environment.
fn child(vars: &[(&str, &OsStr)]) -> Output {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env_clear();
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_missing_program_skips_the_test_with_one_line_naming_the_package() {
    let empty = folder("empty-path");
    let out = child(&[
        (CHILD_PROGRAM, OsStr::new("dot")),
        ("PATH", empty.as_os_str()),
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "the test passes:\n{stdout}\n{stderr}");
    assert!(!stdout.contains("ran with"), "the test stopped: {stdout}");
    let skips: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("skipped"))
        .collect();
    assert_eq!(
        skips,
        [format!(
            "skipped test {CHILD_TEST}: it needs `dot`, which is not on PATH; install the \
             Debian package `test-package` (apt-get install test-package), or set CI=true to \
             make this a failure"
        )],
        "{stderr}"
    );
}

#[test]
fn under_ci_a_missing_program_fails_the_test() {
    let empty = folder("empty-path-ci");
    for ci in ["true", "1"] {
        let out = child(&[
            (CHILD_PROGRAM, OsStr::new("dot")),
            ("PATH", empty.as_os_str()),
            ("CI", OsStr::new(ci)),
        ]);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "CI={ci}: the test fails:\n{stderr}");
        assert!(
            stderr.contains(&format!(
                "test {CHILD_TEST} cannot run: it needs `dot`, which is not on PATH; install the \
                 Debian package `test-package`"
            )),
            "{stderr}"
        );
        assert!(!stderr.contains("skipped"), "{stderr}");
    }
    // CI=false is not CI: a skip again.
    let out = child(&[
        (CHILD_PROGRAM, OsStr::new("dot")),
        ("PATH", empty.as_os_str()),
        ("CI", OsStr::new("false")),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[cfg(unix)]
#[test]
fn a_program_on_path_runs_the_test_even_under_ci() {
    use std::os::unix::fs::PermissionsExt as _;
    let bin = folder("bin");
    let tool = bin.join("barrow-test-tool");
    std::fs::write(&tool, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = child(&[
        (CHILD_PROGRAM, OsStr::new("barrow-test-tool")),
        ("PATH", bin.as_os_str()),
        ("CI", OsStr::new("true")),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ran with barrow-test-tool"));
    assert!(!text(&out.stderr).contains("skipped"));
}

#[cfg(unix)]
#[test]
fn only_executable_files_count() {
    use std::os::unix::fs::PermissionsExt as _;
    let first = folder("first");
    let second = folder("second");
    // Not executable, then a folder of that name, then the real one.
    std::fs::write(first.join("tool"), "").unwrap();
    std::fs::create_dir(second.join("tool")).unwrap();
    let third = folder("third");
    let real = third.join("tool");
    std::fs::write(&real, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o700)).unwrap();
    let path = std::env::join_paths([&first, &second, &third]).unwrap();
    assert_eq!(find_program("tool", Some(&path)), Some(real.clone()));
    let no_third = std::env::join_paths([&first, &second]).unwrap();
    assert_eq!(find_program("tool", Some(&no_third)), None);
    // A path is checked as is; an empty name or PATH finds nothing.
    assert_eq!(find_program(real.to_str().unwrap(), None), Some(real));
    assert_eq!(find_program("tool", None), None);
    assert_eq!(find_program("", Some(&path)), None);
}
