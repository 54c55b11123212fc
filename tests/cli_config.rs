//! The `barrow config` command, run as a child process. Variables are set on
//! the child only: its environment is cleared and given a temporary HOME,
//! XDG_CONFIG_HOME and system folder, so nothing of this machine leaks in.
// Without the `cli` feature there is no `barrow` binary to run.
#![cfg(feature = "cli")]
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};

/// A temporary folder holding the child's home, XDG and system folders.
struct TempHome {
    root: PathBuf,
}

impl TempHome {
    fn new() -> TempHome {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let root = std::env::temp_dir().join(format!(
            "barrow-cli-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        for dir in ["home", "xdg/barrow", "etc/barrow"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        TempHome { root }
    }

    fn user_dir(&self) -> PathBuf {
        self.root.join("xdg/barrow")
    }

    fn write(&self, relative: impl AsRef<Path>, contents: &str) -> PathBuf {
        let path = self.root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Runs `barrow ARGS` with only the sandbox's variables and `vars`.
    fn run(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_barrow"));
        command
            .args(args)
            .env_clear()
            .env("HOME", self.root.join("home"))
            .env("XDG_CONFIG_HOME", self.root.join("xdg"))
            .env("BARROW_ROOT_CONFIG", self.root.join("etc/barrow"))
            .env("TMPDIR", &self.root);
        for (name, value) in vars {
            command.env(name, value);
        }
        command.output().unwrap()
    }
}

impl Drop for TempHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn get_prints_a_value_from_the_environment() {
    let home = TempHome::new();
    let out = home.run(
        &["config", "get", "scheduler"],
        &[("BARROW_SCHEDULER", "processes")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "processes\n");

    let out = home.run(
        &["config", "get", "array.chunk-size"],
        &[("BARROW_ARRAY__CHUNK_SIZE", "64MiB")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "64MiB\n");
}

#[test]
fn get_fails_naming_the_variable_of_a_bad_value() {
    let home = TempHome::new();
    let out = home.run(
        &["config", "get", "num-workers"],
        &[("BARROW_NUM_WORKERS", "four")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    let message = stderr(&out);
    assert!(message.contains("BARROW_NUM_WORKERS"), "{message}");
    assert_eq!(
        message,
        "error: num-workers = \"four\" (from BARROW_NUM_WORKERS): expected an integer >= 1\n"
    );
}

#[test]
fn get_fails_for_an_unknown_key_with_a_suggestion() {
    let home = TempHome::new();
    let out = home.run(&["config", "get", "array.chunksize"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("did you mean \"array.chunk-size\"?"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn list_shows_the_winning_variable_and_the_overridden_file() {
    let home = TempHome::new();
    let file = home.write("xdg/barrow/site.yaml", "num-workers: 8\n");
    let out = home.run(&["config", "list"], &[("BARROW_NUM_WORKERS", "4")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let expected = format!(
        "num-workers = 4  # from BARROW_NUM_WORKERS\n    overrides 8  # from {}\n",
        file.display()
    );
    assert!(text.contains(&expected), "{text}");
    assert!(
        text.contains("array.chunk-size = 128MiB  # from built-in defaults\n"),
        "{text}"
    );
}

#[test]
fn list_json_carries_the_same_facts() {
    let home = TempHome::new();
    let file = home.write("xdg/barrow/site.yaml", "num-workers: 8\n");
    let out = home.run(
        &["config", "list", "--json"],
        &[("BARROW_NUM_WORKERS", "4")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let workers = json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == "num-workers")
        .unwrap();
    assert_eq!(workers["value"], 4);
    assert_eq!(workers["from"], "BARROW_NUM_WORKERS");
    assert_eq!(workers["layer"], "environment");
    assert_eq!(
        workers["overrides"][0],
        serde_json::json!({"value": 8, "from": file.display().to_string(), "layer": "user"})
    );
}

#[test]
fn paths_lists_the_search_path_and_marks_existing_files() {
    let home = TempHome::new();
    let file = home.write("xdg/barrow/site.yaml", "chunksize: 3\n");
    let missing = home.root.join("missing.yaml");
    let out = home.run(
        &["config", "paths"],
        &[("BARROW_CONFIG", missing.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let system = format!(
        "system        {}/*.yaml  [exists]",
        home.root.join("etc/barrow").display()
    );
    let user = format!(
        "user          {}/*.yaml  [exists]",
        home.user_dir().display()
    );
    let user_file = format!("  {}  [exists]", file.display());
    let named = format!("BARROW_CONFIG {}  [missing]", missing.display());
    let lines: Vec<&str> = text.lines().collect();
    let position = |wanted: &str| {
        lines
            .iter()
            .position(|l| l.trim_end().ends_with(wanted.trim()))
            .unwrap_or_else(|| panic!("{wanted:?} not in:\n{text}"))
    };
    // Lowest precedence first.
    assert!(position(&system) < position(&user));
    assert!(position(&user) < position(&user_file));
    assert!(position(&user_file) < position(&named));
    assert!(position(&named) < position("BARROW_* variables: none set"));
}

#[test]
fn validate_checks_files_and_exits_1_naming_each_problem() {
    let home = TempHome::new();
    let good = home.write("good.yaml", "array:\n  chunk-size: 1GB\n");
    let out = home.run(&["config", "validate", good.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{}: valid\n", good.display()));

    let bad = home.write("bad.yaml", "num-workers: 0\nshceduler: sync\n");
    let broken = home.write("broken.yaml", "plugins:\n  load: [a\n");
    let out = home.run(
        &[
            "config",
            "validate",
            bad.to_str().unwrap(),
            broken.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let problems = stderr(&out);
    assert!(
        problems.contains(&format!("num-workers = 0 (from {})", bad.display())),
        "{problems}"
    );
    assert!(
        problems.contains("unknown configuration key \"shceduler\""),
        "{problems}"
    );
    assert!(
        problems.contains(&format!(
            "malformed configuration file {}, line 3",
            broken.display()
        )),
        "{problems}"
    );
}

#[test]
fn validate_without_files_checks_the_whole_configuration() {
    let home = TempHome::new();
    let out = home.run(&["config", "validate"], &[("BARROW_CHUNKSIZE", "4")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "configuration is valid\n");
    let out = home.run(&["config", "validate"], &[("BARROW_CHUNKSIZE", "many")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("(from BARROW_CHUNKSIZE)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_malformed_user_file_fails_every_subcommand_that_reads_it() {
    let home = TempHome::new();
    let file = home.write("xdg/barrow/broken.yaml", "a: b: c\n");
    for args in [&["config", "get", "scheduler"][..], &["config", "list"][..]] {
        let out = home.run(args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let message = stderr(&out);
        assert!(
            message.contains(&format!("{}, line 1", file.display())),
            "{message}"
        );
    }
}

#[test]
fn validate_reports_an_alias_bomb_and_a_key_given_twice_without_aborting() {
    let home = TempHome::new();
    let mut laughs = String::from("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..10 {
        let alias = format!("*l{}", level - 1);
        laughs.push_str(&format!(
            "l{level}: &l{level} [{}]\n",
            [alias.as_str(); 10].join(", ")
        ));
    }
    let bomb = home.write("laughs.yaml", &laughs);
    let twice = home.write(
        "twice.yaml",
        "array.chunk-size: 3MiB\narray: {chunk_size: 2MiB}\n",
    );
    let out = home.run(
        &[
            "config",
            "validate",
            bomb.to_str().unwrap(),
            twice.to_str().unwrap(),
        ],
        &[],
    );
    // Exit 1 with an error for each file, not a signal.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let problems = stderr(&out);
    assert!(
        problems.contains(&format!(
            "error: configuration file {} is not read: its aliases expand it past",
            bomb.display()
        )),
        "{problems}"
    );
    assert!(
        problems.contains(&format!(
            "error: configuration file {} gives \"array.chunk-size\" twice: as \"array.chunk-size\" \
             at line 1 column 1 and as \"array.chunk_size\" at line 2 column 9",
            twice.display()
        )),
        "{problems}"
    );
    // The same bomb as a user file: the whole configuration is refused.
    home.write("xdg/barrow/laughs.yaml", &laughs);
    let out = home.run(&["config", "validate"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("laughs.yaml is not read"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_command_prints_each_warning_once() {
    let home = TempHome::new();
    for args in [
        &["config", "get", "scheduler"][..],
        &["config", "list"][..],
        &["config", "validate"][..],
    ] {
        let out = home.run(args, &[("BARROW_NUM_WORKER", "2")]);
        let text = stderr(&out);
        assert_eq!(
            text.matches("unknown configuration key \"num-worker\"")
                .count(),
            1,
            "{args:?}: {text}"
        );
    }
    // Undeclared keys live: `get` prints them, as YAML when they hold keys.
    let out = home.run(
        &["config", "get", "myapp"],
        &[
            ("BARROW_MYAPP__URL", "https://example.org"),
            ("BARROW_MYAPP__RETRIES", "3"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "retries: 3\nurl: https://example.org\n");
    let out = home.run(
        &["config", "get", "myapp", "--json"],
        &[("BARROW_MYAPP__RETRIES", "3")],
    );
    assert_eq!(stdout(&out), "{\n  \"retries\": 3\n}\n");
}
