//! Plugin files are checked before any of their code runs: a corpus of bad
//! files made here (empty, a real plugin cut short, random bytes behind an
//! ELF magic, text, a directory, a symlink loop, another architecture's
//! library, a library without Barrow's entry symbol) gets one-line errors
//! from `load` and `barrow plugin inspect`, and crashes nothing. The loads
//! run in a child process, so that a crash (the dynamic loader faulted with
//! SIGBUS on a truncated file) fails the test instead of killing the runner.

use std::path::{Path, PathBuf};

use barrow_core::testing::child;
use barrow_plugin_host::{Error, cli, load};

use crate::support::library;

const FAULTY: &str = "BARROW_TEST_FAULTY_PLUGIN";
const NO_ROOT: &str = "BARROW_TEST_NO_ROOT_LIBRARY";
const MARKER: &str = "BARROW_TEST_CONSTRUCTOR_MARKER";

/// The libraries the child needs, built by the parent (the child's
/// environment has no cargo set-up).
fn libraries() -> Vec<(&'static str, String)> {
    vec![
        (FAULTY, library("barrow-test-faulty").display().to_string()),
        (
            NO_ROOT,
            library("barrow-test-no-root").display().to_string(),
        ),
    ]
}

fn from_env(name: &str) -> PathBuf {
    PathBuf::from(std::env::var_os(name).expect("the parent names the libraries"))
}

/// What a bad file must give: not a library (with this in the reason),
/// not a plugin, not found.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Library(&'static str),
    Plugin,
    Missing,
}

fn assert_refused(what: &str, path: &Path, err: &Error, expect: Expect) {
    let text = err.to_string();
    assert_eq!(text.lines().count(), 1, "{what}: one line, got {text}");
    let matches = match expect {
        Expect::Library(reason) => {
            matches!(err, Error::NotALibrary { .. }) && text.contains(reason)
        }
        Expect::Plugin => matches!(err, Error::NotAPlugin { .. }),
        Expect::Missing => matches!(err, Error::NotFound { .. }),
    };
    assert!(matches, "{what}: expected {expect:?}, got {text}");
    let shown = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        text.contains(&shown),
        "{what}: the error names the file: {text}"
    );
}

/// A deterministic stream of bytes (no `rand` needed for noise).
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn corpus(dir: &Path, real: &[u8]) -> Vec<(String, PathBuf, Expect)> {
    let mut cases = Vec::new();
    let mut file = |name: &str, bytes: &[u8], expect| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        cases.push((name.to_owned(), path, expect));
    };
    file("libempty.so", b"", Expect::Library("the file is empty"));
    file(
        "libtext.so",
        b"just some notes\n",
        Expect::Library("not an object file"),
    );
    let mut elf_noise = b"\x7fELF".to_vec();
    elf_noise.extend(noise(8192));
    file("libnoise.so", &elf_noise, Expect::Library(""));
    for cut in [
        5,
        64,
        700,
        4096,
        real.len() / 3,
        real.len() / 2,
        real.len() - 1,
    ] {
        file(
            &format!("libcut{cut}.so"),
            &real[..cut],
            Expect::Library(""),
        );
    }
    // The same library, marked as built for another machine (e_machine).
    let mut other = real.to_vec();
    let machine: u16 = if cfg!(target_arch = "aarch64") {
        62
    } else {
        183
    };
    other[18..20].copy_from_slice(&machine.to_le_bytes());
    file(
        "libother-arch.so",
        &other,
        Expect::Library("it is built for"),
    );
    let folder = dir.join("libfolder.so");
    std::fs::create_dir(&folder).unwrap();
    cases.push(("a directory".into(), folder, Expect::Library("directory")));
    let (a, b) = (dir.join("libloop-a.so"), dir.join("libloop-b.so"));
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    cases.push(("a symlink loop".into(), a, Expect::Missing));
    cases.push((
        "a library without Barrow's entry symbol".into(),
        from_env(NO_ROOT),
        Expect::Plugin,
    ));
    cases
}

#[cfg(target_os = "linux")]
#[test]
fn a_corpus_of_bad_files_gets_one_line_errors_and_crashes_nothing() {
    let name = "file_checks::a_corpus_of_bad_files_gets_one_line_errors_and_crashes_nothing";
    if !child::is_child(name) {
        let vars = libraries();
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let output = child::run(name, &vars).expect("the parent runs a child");
        child::assert_passed(name, &output);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let real = std::fs::read(from_env(FAULTY)).unwrap();
    for (what, path, expect) in corpus(dir.path(), &real) {
        // Printed first: if the process dies, the parent shows which file.
        println!("checking {what}");
        let err = load(&path).unwrap_err();
        assert_refused(&what, &path, &err, expect);
        let err = cli::inspect(&path).unwrap_err();
        assert_refused(&format!("inspect of {what}"), &path, &err, expect);
    }
    // The real library passes the same checks and loads.
    let copy = dir.path().join("libbarrow_test_faulty.so");
    std::fs::write(&copy, &real).unwrap();
    assert_eq!(load(&copy).unwrap().name(), "faulty");
}

#[cfg(target_os = "linux")]
#[test]
fn inspecting_or_refusing_a_file_runs_none_of_its_code() {
    let name = "file_checks::inspecting_or_refusing_a_file_runs_none_of_its_code";
    let marker = std::env::temp_dir().join(format!("barrow-marker-{}", std::process::id()));
    if !child::is_child(name) {
        let mut vars = libraries();
        vars.push((MARKER, marker.display().to_string()));
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let output = child::run(name, &vars).expect("the parent runs a child");
        child::assert_passed(name, &output);
        return;
    }
    let marker = from_env(MARKER);
    let _ = std::fs::remove_file(&marker);
    // Not a plugin: refused before the loader opens it, so its constructor
    // never runs.
    let err = cli::inspect(&from_env(NO_ROOT)).unwrap_err();
    assert!(matches!(err, Error::NotAPlugin { .. }), "{err}");
    assert!(!marker.exists(), "inspect ran the library's constructor");
    let err = load(&from_env(NO_ROOT)).unwrap_err();
    assert!(matches!(err, Error::NotAPlugin { .. }), "{err}");
    assert!(!marker.exists(), "load ran the library's constructor");
    // A plugin is described from its file.
    let text = cli::inspect(&from_env(FAULTY)).unwrap();
    assert!(text.contains("name: faulty"), "{text}");
    assert!(text.contains("  faulty.identity: "), "{text}");
    assert!(text.contains("nothing was loaded"), "{text}");
    assert!(!marker.exists(), "inspect ran the plugin's code");
    // Loading it does run it: the marker works.
    load(&from_env(FAULTY)).unwrap();
    assert!(marker.exists(), "loading runs the library's constructor");
    let _ = std::fs::remove_file(&marker);
}
